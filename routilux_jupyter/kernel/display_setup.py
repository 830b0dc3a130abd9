"""The widgets' part of ``%load_ext routilux``: monitoring on, flows and jobs display as views.

Kept apart from the kernel agent and magics so either can change without the other.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["disable_display", "enable_display"]

_undo: Callable[[], None] | None = None


def enable_display(ipython: Any = None) -> None:
    """Turn monitoring on and register the FlowView/JobView renderers (idempotent)."""
    global _undo
    from routilux.monitoring import MonitoringRegistry

    MonitoringRegistry.enable()
    if _undo is None:
        from routilux_jupyter.widgets import install_display

        _undo = install_display()


def disable_display(ipython: Any = None) -> None:
    """Restore the plain renderers (monitoring stays on: other parts may rely on it)."""
    global _undo
    undo, _undo = _undo, None
    if undo is not None:
        undo()
