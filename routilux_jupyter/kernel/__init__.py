"""Kernel-process half of routilux's Jupyter integration (``%load_ext routilux``)."""

from __future__ import annotations

from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext routilux``: enable monitoring and rich display of flows and jobs."""
    from routilux_jupyter.kernel.display_setup import enable_display

    enable_display(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext routilux``."""
    from routilux_jupyter.kernel.display_setup import disable_display

    disable_display(ipython)
