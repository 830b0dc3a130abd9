"""Rich display of flows and jobs in notebooks, with renderers other packages can plug in.

The widgets package registers a renderer at ``%load_ext`` time; without one (or when it fails) a
flow or job shows a small HTML table (:func:`flow_html`, :func:`job_html`, which renderers may
reuse as their ``text/html`` fallback). The engine never imports widget code.
"""

from __future__ import annotations

import html
import logging
from typing import Any, Callable

__all__ = ["flow_html", "job_html", "mimebundle", "register_renderer"]

logger = logging.getLogger(__name__)

_renderers: dict[str, Callable[[Any], Any]] = {}


def register_renderer(kind: str, fn: Callable[[Any], Any]) -> Callable[[], None]:
    """Use ``fn(obj)`` to build the mime bundle of a ``"flow"`` or ``"job"``; returns an undo.

    ``fn`` returns a mime-bundle dict (or ``(data, metadata)``), or ``None`` to fall back to the
    default text/html rendering.
    """
    if kind not in ("flow", "job"):
        from routilux.errors import ValidationError

        raise ValidationError(f"Unknown renderer kind {kind!r}; use 'flow' or 'job'")
    previous = _renderers.get(kind)
    _renderers[kind] = fn

    def undo() -> None:
        if _renderers.get(kind) is fn:
            if previous is None:
                _renderers.pop(kind, None)
            else:
                _renderers[kind] = previous

    return undo


def _rows(rows: list[tuple[str, Any]]) -> str:
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
        f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{body}</table>"


def flow_html(flow: Any) -> str:
    """The default HTML of a flow: a small table of its id, strategy, routines and connections.

    Renderers use it as the ``text/html`` fallback next to a richer view.
    """
    rows = [("flow_id", flow.flow_id), ("strategy", flow.execution_strategy),
            ("max_workers", flow.max_workers)]
    rows += [(f"routine {rid}", type(r).__name__) for rid, r in flow.routines.items()]
    rows += [("connection", c.connection_id) for c in flow.connections]
    return _rows(rows)


def job_html(js: Any) -> str:
    """The default HTML of a job: a small table of its id, flow, status, error and routines."""
    rows = [("job_id", js.job_id), ("flow_id", js.flow_id), ("status", js.status)]
    if js.error:
        rows.append(("error", js.error))
    rows += [(f"routine {rid}", f"{st.get('status')} x{st.get('execution_count', 0)}")
             for rid, st in js.routine_states.items()]
    return _rows(rows)


def mimebundle(kind: str, obj: Any, include: Any = None, exclude: Any = None) -> Any:
    """The ``_repr_mimebundle_`` of a flow or job (registered renderer first)."""
    fn = _renderers.get(kind)
    if fn is not None:
        try:
            bundle = fn(obj)
            if bundle is not None:
                return bundle
        except Exception:
            logger.exception("routilux %s renderer failed; showing the plain table", kind)
    text = repr(obj)
    html_text = flow_html(obj) if kind == "flow" else job_html(obj)
    return {"text/plain": text, "text/html": html_text}
