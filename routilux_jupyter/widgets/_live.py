"""The shared core of FlowView and JobView: synced traits, coalesced flushing, commands.

Threads: the data source calls ``notify`` from job worker threads (only marks the view dirty);
the coalescer thread calls :meth:`LiveView._flush`; comm messages arrive on the kernel's shell or,
in JupyterLab 4 with ipykernel 7, on a comm subshell while the main shell is blocked in
``flow.execute()``. Every trait write and every send happens under ``self._lock``, so the two
writer threads never interleave a state update with a reply.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any, ClassVar

import anywidget
import traitlets as t

from ._bundle import STATIC
from ._coalescer import Coalescer, get_coalescer
from ._protocol import ACTIONS, ResultMsg
from ._source import Snapshot, ViewSource

__all__ = ["LiveView", "refresh_views"]

logger = logging.getLogger(__name__)

_live_views: weakref.WeakSet[LiveView] = weakref.WeakSet()


def refresh_views() -> int:
    """Push every open view's current state now; returns how many views were refreshed.

    Views normally refresh at most ten times a second from a background thread. A notebook run
    in batch (nbclient, nbconvert) can call this in its last cell so the saved widget state is
    the final one.
    """
    views = [v for v in list(_live_views) if not v._closed]
    for view in views:
        view.refresh()
    return len(views)


_REFUSALS = (ValueError, LookupError, RuntimeError, TypeError, KeyError)


class LiveView(anywidget.AnyWidget):  # type: ignore[misc]
    """Base of the routilux views; not displayed on its own."""

    _css = STATIC / "routilux.css"

    graph = t.Dict(help="The flow's nodes and edges ({flow_id, nodes, edges}).").tag(sync=True)
    job = t.Dict(help="The followed job ({job_id, flow_id, status, ...}); empty when none.").tag(sync=True)
    routine_states = t.Dict(help="Routine id -> state (pending, running, completed, ...).").tag(sync=True)
    routine_metrics = t.Dict(help="Routine id -> RoutineMetrics as JSON.").tag(sync=True)
    edge_hits = t.Dict(help="Edge id -> events seen on that connection; growth lights the edge.").tag(sync=True)
    metrics = t.Dict(help="The job's metrics without routine_metrics (durations in seconds).").tag(sync=True)
    breakpoints = t.List(help="Breakpoints of the job (and of its flow).").tag(sync=True)
    debug = t.Dict(help="{paused_at, variables, call_stack} of the followed job.").tag(sync=True)
    error = t.Unicode("", help="A kernel-side problem to show in the view (empty when fine).").tag(sync=True)
    height = t.Int(520, help="Largest height of the graph area in pixels (small flows use less).").tag(sync=True)

    commands: ClassVar[frozenset[str]] = frozenset()
    """The actions this view accepts from its front end."""
    trace_limit: ClassVar[int] = 0
    """How many of the newest trace events the view keeps in sync (0: none)."""

    def __init__(self, source: ViewSource, *, coalescer: Coalescer | None = None, **kwargs: Any) -> None:
        self._lock = threading.RLock()
        self._source = source
        self._coalescer = coalescer or get_coalescer()
        self._closed = False
        self._attached = False
        graph = dict(source.graph())
        # The comm opens with the full first state, so the front end draws once, not twice.
        initial = self._state(source.snapshot(self.trace_limit), graph)
        super().__init__(graph=graph, **initial, **kwargs)
        self.on_msg(self._on_custom_msg)
        _live_views.add(self)
        self._attach()

    # ---- life cycle --------------------------------------------------------------------------
    @t.observe("comm")
    def _route_commands_to_their_subshell(self, change: dict[str, Any]) -> None:
        # JupyterLab 4 sends this comm's messages on a kernel subshell, so they are handled while
        # the main shell is blocked in flow.execute(). ipykernel 7.4 overrides that choice and
        # routes an incoming comm message to the subshell whose request last *sent* on the comm,
        # which for a view created in a cell (and flushed from our thread) is the main shell:
        # Continue would then wait behind the very cell it should release. Honour the front end's
        # subshell instead (our replies carry their own ids and need no routing).
        comm = change["new"]
        if comm is not None and hasattr(comm, "_reply_subshell_for"):
            comm._reply_subshell_for = _front_end_subshell

    def _attach(self) -> None:
        with self._lock:
            if self._attached or self._closed:
                return
            self._attached = True
        self._source.attach(self._notify)
        # Whatever happened between the first snapshot and the subscription shows on one flush.
        self._coalescer.mark_dirty(self)

    def _detach(self) -> None:
        with self._lock:
            if not self._attached:
                return
            self._attached = False
        self._source.detach()

    def close(self) -> None:
        """Stop listening to the job and close the comm."""
        if not hasattr(self, "_lock"):  # __del__ of a view whose __init__ failed
            super().close()
            return
        self._closed = True
        self._detach()
        coalescer = getattr(self, "_coalescer", None)
        if coalescer is not None:
            coalescer.forget(self)
        super().close()

    def _notify(self) -> None:
        if not self._closed:
            self._coalescer.mark_dirty(self)

    def refresh(self) -> None:
        """Push the current state now (normally the coalescer does this at <= 10 Hz)."""
        self._flush()

    # ---- state -------------------------------------------------------------------------------
    def _flush(self) -> None:
        if self._closed:
            return
        try:
            snap = self._source.snapshot(self.trace_limit)
        except Exception as exc:  # the view must keep working: show the reason instead
            logger.exception("routilux view: could not read the job's state")
            with self._lock:
                self.error = f"could not read the job's state: {type(exc).__name__}: {exc}"
            return
        with self._lock:
            try:
                self._apply(snap)
            except Exception as exc:  # e.g. a value the comm cannot serialise: say so in the view
                logger.exception("routilux view: could not send the job's state")
                self.error = f"could not send the job's state: {type(exc).__name__}: {exc}"
                return
            if self.error.startswith("could not"):
                self.error = ""
        if snap.final:
            self._detach()

    def _apply(self, snap: Snapshot) -> None:
        """Set the traits from a snapshot in one sync message (only changed traits are sent)."""
        state = self._state(snap, self.graph)
        with self.hold_sync():
            for name, value in state.items():
                setattr(self, name, value)

    def _state(self, snap: Snapshot, graph: dict[str, Any]) -> dict[str, Any]:
        """Trait values for a snapshot; subclasses add their own traits."""
        return {
            "job": dict(snap.job or {}),
            "routine_states": snap.routine_states,
            "routine_metrics": snap.routine_metrics,
            "metrics": snap.metrics,
            "edge_hits": _edge_hits(graph, snap.emit_counts),
            "breakpoints": list(snap.breakpoints),
            "debug": dict(snap.debug),
        }

    # ---- commands ----------------------------------------------------------------------------
    def _on_custom_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "command":
            return
        msg_id = str(content.get("id", ""))
        action = content.get("action")
        args = content.get("args") or {}
        try:
            if action not in self.commands or action not in ACTIONS:
                raise ValueError(
                    f"unknown action {action!r}; this view accepts {', '.join(sorted(self.commands)) or 'none'}"
                )
            if not isinstance(args, dict):
                raise ValueError("command args must be a JSON object")
            data = self._run(str(action), args)
        except _REFUSALS as exc:
            self._reply(msg_id, ok=False, error=str(exc) or type(exc).__name__)
        except Exception as exc:  # never leave the front end waiting on an unexpected failure
            self._reply(msg_id, ok=False, error=f"{type(exc).__name__}: {exc}")
        else:
            self._reply(msg_id, ok=True, data=data)
        # The panel should reflect the command at once, not at the next tick.
        if action != "page_trace":
            self._coalescer.mark_dirty(self, urgent=True)

    def _run(self, action: str, args: dict[str, Any]) -> Any:
        if action == "refresh":
            return None
        if action == "page_trace":
            before = args.get("before")
            limit = int(args.get("limit", 200))
            return self._source.page_trace(None if before is None else str(before), max(1, min(limit, 1000)))
        return self._source.command(action, args)

    def _reply(self, msg_id: str, *, ok: bool, error: str | None = None, data: Any = None) -> None:
        msg: ResultMsg = {"type": "result", "id": msg_id, "ok": ok, "error": error, "data": data}
        with self._lock:
            self.send(msg)


def _front_end_subshell(_data: Any, default: str | None) -> str | None:
    """The subshell the front end chose for an incoming comm message (its header's)."""
    return default


def _edge_hits(graph: dict[str, Any], emit_counts: dict[tuple[str, str], int]) -> dict[str, int]:
    """Edge id -> emits seen on its ``(source, event)``; edges never used are left out."""
    hits: dict[str, int] = {}
    for edge in graph.get("edges", ()):
        count = emit_counts.get((edge["source"], edge["event"]), 0)
        if count:
            hits[edge["id"]] = count
    return hits
