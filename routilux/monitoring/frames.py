"""Tabular views of a job: its trace and metrics as pandas DataFrames, its trace as CSV.

``job_state.trace_frame()`` / ``job_state.metrics_frame()`` (thin methods on
:class:`~routilux.job_state.JobState`) and ``GET /api/jobs/{id}/trace?format=csv`` share one
column list, :data:`TRACE_COLUMNS`, so a CSV read back with pandas has the frame's columns.

pandas is optional (``pip install routilux[frames]``) and imported only when a frame is built;
CSV uses the standard library. A frame holds what the job's trace ring holds: the newest
``max_events_per_job`` events (``MonitorCollector.set_max_events_per_job``, default 1000).
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any, Iterable

from routilux.errors import NotFoundError, OptionalDependencyError

if TYPE_CHECKING:
    from routilux.job_state import JobState
    from routilux.monitoring.monitor_collector import MonitorCollector
    from routilux.monitoring.records import ExecutionEvent

__all__ = ["METRICS_COLUMNS", "TRACE_COLUMNS", "metrics_frame", "trace_csv", "trace_frame",
           "trace_rows"]

#: Columns of a trace table and their pandas dtypes. ``timestamp`` is UTC; ``duration`` is in
#: seconds (set on ``routine_complete`` / ``routine_error``); ``source_activation_id`` is the
#: activation whose emit fed a ``routine_start``; ``data`` is the summarised payload and
#: ``extra`` the event type's other fields (breakpoint id, pause reason, ...), as dicts in a
#: frame and JSON text in CSV.
TRACE_COLUMNS: dict[str, str] = {
    "seq": "int64",
    "timestamp": "datetime64[ns, UTC]",
    "event_type": "string",
    "routine_id": "string",
    "slot_name": "string",
    "event_name": "string",
    "activation_id": "Int64",
    "source_activation_id": "Int64",
    "duration": "float64",
    "status": "string",
    "error": "string",
    "data": "object",
    "extra": "object",
    "job_id": "string",
    "flow_id": "string",
    "event_id": "string",
}

#: Columns of a metrics table (one row per routine that ran); durations in seconds.
METRICS_COLUMNS: dict[str, str] = {
    "routine_id": "string",
    "status": "string",
    "execution_count": "int64",
    "error_count": "int64",
    "total_duration": "float64",
    "avg_duration": "float64",
    "min_duration": "float64",
    "max_duration": "float64",
    "last_execution": "datetime64[ns, UTC]",
}

# Keys of an event dict (ExecutionEvent.to_dict) that are not folded into ``extra``.
_EVENT_KEYS = frozenset({"type", "event_id", "seq", "job_id", "flow_id", "routine_id",
                         "event_type", "timestamp", "data", "duration", "status", "slot_name",
                         "event_name", "activation_id", "error", "source_activation_id"})


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:
        raise OptionalDependencyError(
            "DataFrames of traces and metrics need pandas: pip install routilux[frames]",
            detail={"extra": "frames"},
        ) from exc
    return pandas


# ---- CSV (stdlib) -----------------------------------------------------------------------------
def trace_rows(events: Iterable[dict[str, Any]]) -> Iterable[list[Any]]:
    """One list of :data:`TRACE_COLUMNS` values per event dict (the API's trace shape)."""
    for e in events:
        extra = {k: v for k, v in e.items() if k not in _EVENT_KEYS}
        yield [
            e.get("seq"), e.get("timestamp"), e.get("event_type"), e.get("routine_id"),
            e.get("slot_name"), e.get("event_name"), e.get("activation_id"),
            e.get("source_activation_id"), e.get("duration"), e.get("status"), e.get("error"),
            json.dumps(e.get("data") or {}, default=repr, sort_keys=True),
            json.dumps(extra, default=repr, sort_keys=True) if extra else "",
            e.get("job_id"), e.get("flow_id"), e.get("event_id"),
        ]


def trace_csv(events: Iterable[dict[str, Any]]) -> str:
    """The trace as CSV text: a header of :data:`TRACE_COLUMNS`, then one row per event.

    Missing values are empty cells; timestamps stay ISO 8601 UTC text (``pandas.read_csv(...,
    parse_dates=["timestamp"])`` reads them back as UTC datetimes).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TRACE_COLUMNS)
    writer.writerows(trace_rows(events))
    return out.getvalue()


# ---- DataFrames (pandas) ----------------------------------------------------------------------
def _collector(job_state: JobState) -> MonitorCollector:
    """The collector that recorded this job (the one whose hooks saw it start)."""
    rec = getattr(job_state, "_monitor_rec", None)
    if rec is not None and rec.owner is not None:
        return rec.owner
    from routilux.monitoring.registry import MonitoringRegistry

    return MonitoringRegistry.get_instance().monitor_collector


def _not_recorded(job_state: JobState) -> NotFoundError:
    return NotFoundError(
        f"No trace was recorded for job {job_state.job_id!r}: turn monitoring on before running "
        "it (MonitoringRegistry.enable() or %load_ext routilux); the collector also forgets the "
        "oldest finished jobs beyond its max_jobs.",
        detail={"job_id": job_state.job_id},
    )


def _utc(pd: Any, epochs: list[float | None]) -> Any:
    # Whole microseconds, cut exactly as the API's ISO timestamps are (records.iso), so a frame
    # and the CSV of the same trace agree, and float noise does not show as nanoseconds.
    micros = [None if t is None else int(t // 1) * 1_000_000 + int((t - t // 1) * 1_000_000)
              for t in epochs]
    return pd.to_datetime(pd.array(micros, dtype="Int64"), unit="us", utc=True).astype(
        "datetime64[ns, UTC]")


def events_frame(events: list[ExecutionEvent]) -> Any:
    """A DataFrame of :data:`TRACE_COLUMNS` from collector events, one row per event."""
    pd = _pandas()
    cols: dict[str, list[Any]] = {name: [] for name in TRACE_COLUMNS}
    for e in events:
        extra = e.extra or {}
        cols["seq"].append(e.seq)
        cols["timestamp"].append(e.timestamp)
        cols["event_type"].append(e.event_type)
        cols["routine_id"].append(e.routine_id)
        cols["slot_name"].append(e.slot_name)
        cols["event_name"].append(e.event_name)
        cols["activation_id"].append(e.activation_id)
        cols["source_activation_id"].append(extra.get("source_activation_id"))
        cols["duration"].append(e.duration)
        cols["status"].append(e.status)
        cols["error"].append(extra.get("error"))
        cols["data"].append(e.data)
        cols["extra"].append({k: v for k, v in extra.items()
                              if k not in ("error", "source_activation_id")} or None)
        cols["job_id"].append(e.job_id)
        cols["flow_id"].append(e.flow_id)
        cols["event_id"].append(e.event_id)
    data: dict[str, Any] = {}
    for name, dtype in TRACE_COLUMNS.items():
        if dtype.startswith("datetime64"):
            data[name] = _utc(pd, cols[name])
        elif dtype == "object":
            data[name] = pd.Series(cols[name], dtype="object")
        else:
            data[name] = pd.array(cols[name], dtype="float64" if dtype == "float64" else dtype)
    return pd.DataFrame(data, columns=list(TRACE_COLUMNS))


def trace_frame(job_state: JobState, limit: int | None = None) -> Any:
    """The job's retained trace as a DataFrame (the newest ``limit`` events when given)."""
    collector = _collector(job_state)
    if collector.get_job_status(job_state.job_id) is None:
        raise _not_recorded(job_state)
    return events_frame(collector.get_execution_trace(job_state.job_id, limit))


def metrics_frame(job_state: JobState) -> Any:
    """Per-routine metrics of the job as a DataFrame, one row per routine of its flow (those
    that never ran: count 0, status ``pending``); ``frame.attrs["job"]`` holds the job's own
    metrics (status, duration, totals) as a dict."""
    pd = _pandas()
    metrics = _collector(job_state).get_metrics(job_state.job_id)
    if metrics is None:
        raise _not_recorded(job_state)
    from routilux.monitoring.records import RoutineMetrics

    rows = list(metrics.routine_metrics.values())
    flow = job_state.flow
    if flow is not None:   # routines that never ran are rows too (the flow's order first)
        ran = metrics.routine_metrics
        rows = [ran.get(rid) or RoutineMetrics(routine_id=rid) for rid in flow.routines] + \
            [m for rid, m in ran.items() if rid not in flow.routines]
    data: dict[str, Any] = {}
    for name, dtype in METRICS_COLUMNS.items():
        values = [getattr(r, name) for r in rows]
        if dtype.startswith("datetime64"):
            data[name] = _utc(pd, values)
        else:
            data[name] = pd.array(values, dtype=dtype)
    frame = pd.DataFrame(data, columns=list(METRICS_COLUMNS))
    frame.attrs["job"] = {k: v for k, v in metrics.to_dict().items() if k != "routine_metrics"}
    return frame
