"""Kernel-process half of routilux's Jupyter integration (``%load_ext routilux``).

Loading enables monitoring, shows flows and jobs as widgets, registers every flow built and job
run in this kernel, adds the ``%routilux`` magic and, when the kernel was started by a Jupyter
server with the routilux extension, starts the agent that links the kernel to the server's API.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext routilux``: monitoring, display, registration, magics, agent (idempotent)."""
    from routilux_jupyter.kernel import session
    from routilux_jupyter.kernel.display_setup import enable_display

    enable_display(ipython)
    loaded = session.load(ipython)
    if loaded.agent is not None and not loaded.dashboard_announced:
        from routilux_jupyter.links import dashboard_url

        url = dashboard_url()
        if url:
            # Once per kernel: where to see every job of every notebook (and this one's).
            print(f"routilux: dashboard of all flows and jobs at {url}")
            loaded.dashboard_announced = True


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext routilux``: stop the agent and registration, restore plain display."""
    from routilux_jupyter.kernel import session
    from routilux_jupyter.kernel.display_setup import disable_display

    session.unload(ipython)
    disable_display(ipython)
