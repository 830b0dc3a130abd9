"""Plain-text rendering of client results for the CLI: aligned tables and short summaries."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from routilux_jupyter.client.models import (
    Breakpoint,
    CallStack,
    DebugSession,
    Event,
    Flow,
    Gap,
    Job,
    Metrics,
    Trace,
    Variables,
)

__all__ = ["event_line", "table"]

_MAX_CELL = 60  # a cell wider than this is cut, so one huge payload cannot wreck the table


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_CELL else text[:_MAX_CELL - 1] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str = "(none)") -> str:
    """Rows under upper-cased headers, columns padded to their widest cell."""
    if not rows:
        return empty
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def flows_table(flows: Sequence[Flow]) -> str:
    return table(["flow", "routines", "strategy", "owner"],
                 [[f.flow_id, ", ".join(f.routines), f.execution_strategy, str(f.owner)]
                  for f in flows], empty="(no flows)")


def jobs_table(jobs: Sequence[Job]) -> str:
    return table(["job", "flow", "status", "started", "owner"],
                 [[j.job_id, j.flow_id, j.status, j.started_at, str(j.owner)] for j in jobs],
                 empty="(no jobs)")


def job_text(job: Job, session: DebugSession | None, metrics: Metrics | None) -> str:
    rows: list[list[Any]] = [["job", job.job_id], ["flow", job.flow_id], ["status", job.status],
            ["owner", str(job.owner)], ["created", job.created_at], ["started", job.started_at],
            ["completed", job.completed_at]]
    if job.error:
        rows.append(["error", job.error])
    if session is not None and session.paused_at is not None:
        rows.append(["paused at", f"{session.paused_at} ({session.pause_reason or 'pause'})"])
    if metrics is not None:
        if metrics.duration_ms is not None:
            rows.append(["duration", f"{metrics.duration_ms:.1f} ms"])
        rows.append(["events", metrics.total_events])
    text = table(["field", "value"], rows).split("\n", 1)[1]
    if metrics is not None and metrics.routine_metrics:
        text += "\n\n" + table(
            ["routine", "runs", "errors", "avg ms"],
            [[m.routine_id, m.execution_count, m.error_count, f"{m.avg_duration * 1000:.2f}"]
             for m in metrics.routine_metrics.values()])
    return text


def trace_table(trace: Trace) -> str:
    body = table(["seq", "time", "event", "routine", "data"],
                 [[e.seq, e.timestamp, e.event_type, e.routine_id, e.data or None]
                  for e in trace.events], empty="(no events)")
    return f"{body}\n({len(trace.events)} of {trace.total} events)"


def event_line(item: Event | Gap) -> str:
    """One line per streamed item, as ``routilux watch`` prints it."""
    if isinstance(item, Gap):
        return f"... {item.dropped} events dropped (this reader fell behind)"
    parts = [item.timestamp or "-", item.event_type]
    if item.routine_id:
        parts.append(item.routine_id)
    if item.duration is not None:
        parts.append(f"{item.duration * 1000:.2f} ms")
    if item.data:
        parts.append(_cell(item.data))
    return "  ".join(parts)


def breakpoints_table(breakpoints: Sequence[Breakpoint]) -> str:
    return table(["id", "type", "where", "condition", "enabled", "hits", "scope"],
                 [[b.breakpoint_id, b.type, b.location, b.condition,
                   "yes" if b.enabled else "no", b.hit_count,
                   "job" if b.job_id else f"flow {b.flow_id}"] for b in breakpoints],
                 empty="(no breakpoints)")


def variables_table(variables: Variables) -> str:
    rows = [["local", k, v] for k, v in variables.local.items()]
    rows += [["shared", k, v] for k, v in variables.shared.items()]
    return table(["scope", "name", "value"], rows, empty="(no variables)")


def stack_table(stack: CallStack) -> str:
    return table(["#", "routine", "slot", "via event", "function", "line"],
                 [[i, f.routine_id, f.slot_name, f.event_name, f.function, f.line]
                  for i, f in enumerate(stack.frames)], empty="(no frames: not paused)")


def session_line(session: DebugSession) -> str:
    if session.paused_at is not None and session.is_paused:
        reason = f" ({session.pause_reason})" if session.pause_reason else ""
        return f"{session.job_id}: paused at {session.paused_at}{reason}"
    return f"{session.job_id}: {session.status}"
