"""What a view reads and steers: the data-source seam between the widgets and monitoring.

A view never talks to the engine or monitoring directly; it holds a :class:`ViewSource`.
:mod:`routilux_jupyter.widgets._monitoring` implements it over ``routilux.monitoring``; tests may
plug a small fake. Sources are called from two threads (the coalescer's flush thread and the comm
handler, which runs on a kernel subshell while the main shell is busy), so implementations must be
thread-safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from ._protocol import Breakpoint, DebugState, Graph, JobInfo, TraceEvent, TracePage

__all__ = ["Snapshot", "ViewSource", "empty_debug"]


def empty_debug() -> DebugState:
    """The debugger state of a job that is not paused."""
    return {"paused_at": None, "variables": None, "call_stack": []}


@dataclass
class Snapshot:
    """Everything a view shows at one instant, as plain JSON-ready values."""

    job: JobInfo | None = None
    routine_states: dict[str, str] = field(default_factory=dict)
    routine_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    emit_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    """Events emitted so far per ``(routine_id, event_name)``; lights the matching edges."""
    trace: list[TraceEvent] = field(default_factory=list)
    """The newest events, oldest first, at most the view's ``trace_limit``."""
    trace_total: int = 0
    """Events recorded for the job (including those only the kernel still holds)."""
    breakpoints: list[Breakpoint] = field(default_factory=list)
    debug: DebugState = field(default_factory=empty_debug)
    final: bool = False
    """The job ended and nothing will change any more; the view may stop listening."""


class ViewSource(Protocol):
    """The data and controls behind one view."""

    def graph(self) -> Graph:
        """The flow's nodes and edges."""

    def attach(self, notify: Callable[[], None]) -> None:
        """Start calling ``notify()`` (from any thread, quickly) whenever the job changes."""

    def detach(self) -> None:
        """Stop notifying and release subscriptions (idempotent)."""

    def snapshot(self, trace_limit: int) -> Snapshot:
        """The current state; cheap enough to call ten times a second."""

    def page_trace(self, before: str | None, limit: int) -> TracePage:
        """Up to ``limit`` events older than event ``before`` (newest ones when ``None``)."""

    def command(self, action: str, args: dict[str, Any]) -> Any:
        """Run a control action; raise a ``RoutiluxError`` (or ``ValueError``) to refuse it."""
