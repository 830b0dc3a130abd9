"""Rich display: a ``Flow`` ending a cell shows a FlowView, a ``JobState`` a JobView.

Registered through the engine's renderer seam (:func:`routilux.display.register_renderer`), so the
engine never imports widget code. The bundle keeps the engine's ``text/plain`` and ``text/html``
for hosts without widgets (nbconvert, GitHub, a terminal).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

__all__ = ["install_display"]

logger = logging.getLogger(__name__)

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _fallback_html(kind: str, obj: Any) -> str | None:
    from routilux.display import flow_html, job_html

    try:
        return flow_html(obj) if kind == "flow" else job_html(obj)
    except Exception:
        logger.exception("routilux: the %s HTML fallback failed", kind)
        return None


def _bundle(kind: str, obj: Any, view: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"text/plain": repr(obj)}
    html = _fallback_html(kind, obj)
    if html is not None:
        data["text/html"] = html
    data[WIDGET_MIME] = {"version_major": 2, "version_minor": 1, "model_id": view.model_id}
    return data


def render_flow(flow: Any) -> dict[str, Any]:
    """The mime bundle of a flow: a live FlowView plus the text fallbacks."""
    from .flow_view import FlowView

    return _bundle("flow", flow, FlowView(flow))


def render_job(job: Any) -> dict[str, Any]:
    """The mime bundle of a job: a live JobView plus the text fallbacks."""
    from .job_view import JobView

    return _bundle("job", job, JobView(job))


def install_display() -> Callable[[], None]:
    """Make flows and jobs display as views; returns an undo that restores the previous renderers."""
    from routilux.display import register_renderer

    undo_flow = register_renderer("flow", render_flow)
    undo_job = register_renderer("job", render_job)

    def undo() -> None:
        undo_job()
        undo_flow()

    return undo
