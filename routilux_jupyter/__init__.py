"""Jupyter integration for routilux: server extension, kernel agent and notebook widgets.

Importing this package loads nothing from Jupyter: the kernel half and the widgets import it too,
and the server half is imported only when Jupyter asks for the extension points below.
"""

from __future__ import annotations

from typing import Any

__all__ = ["_jupyter_server_extension_points"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """Tell ``jupyter server`` which ExtensionApp to load for the ``routilux_jupyter`` module."""
    from routilux_jupyter.server.extension import RoutiluxExtension

    return [{"module": "routilux_jupyter.server.extension", "app": RoutiluxExtension}]
