"""Plain records of monitoring: trace events, routine and job metrics, readable like dicts.

:class:`ExecutionEvent`, :class:`RoutineMetrics` and :class:`JobMetrics` are dataclasses that
also answer ``obj["field"]`` (the seed's guide reads ``metrics["duration_ms"]``); ``to_dict()``
gives the JSON shapes of DESIGN.md §6 with times as ISO 8601 UTC. They are re-exported by
:mod:`routilux.monitoring.monitor_collector`, their documented home.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

__all__ = ["DictAccess", "ExecutionEvent", "JobMetrics", "RoutineMetrics", "iso"]

_iso_cache: tuple[int, str] = (-1, "")


def iso(ts: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC text ending in ``Z``, like the job fields (``None`` stays).

    Formatting is on the live-event path, so the date part is cached per second.
    """
    if ts is None:
        return None
    sec = int(ts // 1)
    cached = _iso_cache
    if cached[0] == sec:
        prefix = cached[1]
    else:
        prefix = datetime.fromtimestamp(sec, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        globals()["_iso_cache"] = (sec, prefix)
    micros = int((ts - sec) * 1_000_000)
    return f"{prefix}.{micros:06d}Z" if micros else f"{prefix}Z"


class DictAccess:
    """Lets a dataclass be read like a dict too: ``obj["field"]``, ``"field" in obj``, ``.get``."""

    def __getitem__(self, key: str) -> Any:
        if key in self._names():
            return getattr(self, key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in self._names()

    def get(self, key: str, default: Any = None) -> Any:
        """The field's value, or ``default`` for a name that is not a field."""
        return getattr(self, key) if key in self._names() else default

    def keys(self) -> list[str]:
        """The field names (as a dict's keys would be)."""
        return list(self._names())

    @classmethod
    def _names(cls) -> dict[str, None]:
        names = cls.__dict__.get("_field_names")
        if names is None:
            names = {f.name: None for f in fields(cls)}  # type: ignore[arg-type]
            names.update({n: None for n in getattr(cls, "_derived", ())})
            cls._field_names = names  # type: ignore[attr-defined]
        return names


@dataclass
class ExecutionEvent(DictAccess):
    """One entry of a job's trace."""

    event_id: str
    job_id: str
    routine_id: str | None
    event_type: str
    timestamp: float
    data: dict[str, Any] = field(default_factory=dict)
    duration: float | None = None
    status: str | None = None
    seq: int = 0
    flow_id: str | None = None
    slot_name: str | None = None
    event_name: str | None = None
    activation_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``timestamp`` as ISO 8601 UTC, ``type`` = ``"event"`` for streams."""
        out = {
            "type": "event", "event_id": self.event_id, "seq": self.seq, "job_id": self.job_id,
            "flow_id": self.flow_id, "routine_id": self.routine_id, "event_type": self.event_type,
            "timestamp": iso(self.timestamp), "data": self.data, "duration": self.duration,
            "status": self.status, "slot_name": self.slot_name, "event_name": self.event_name,
            "activation_id": self.activation_id,
        }
        if self.extra:
            out.update(self.extra)
        return out


@dataclass
class RoutineMetrics(DictAccess):
    """Aggregated timings of one routine within one job (each activation timed separately)."""

    routine_id: str
    execution_count: int = 0
    total_duration: float = 0.0
    avg_duration: float = 0.0
    min_duration: float | None = None
    max_duration: float | None = None
    error_count: int = 0
    last_execution: float | None = None
    status: str = "pending"
    _derived = ("duration_ms", "avg_duration_ms")

    @property
    def duration_ms(self) -> float:
        """Total time spent in this routine's handlers, in milliseconds."""
        return self.total_duration * 1000.0

    @property
    def avg_duration_ms(self) -> float:
        """Mean time per activation, in milliseconds."""
        return self.avg_duration * 1000.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; times as ISO 8601 UTC."""
        return {
            "routine_id": self.routine_id, "execution_count": self.execution_count,
            "total_duration": self.total_duration, "avg_duration": self.avg_duration,
            "min_duration": self.min_duration, "max_duration": self.max_duration,
            "error_count": self.error_count, "last_execution": iso(self.last_execution),
            "status": self.status, "duration_ms": self.duration_ms,
            "avg_duration_ms": self.avg_duration_ms,
        }


@dataclass
class JobMetrics(DictAccess):
    """A job's metrics (DESIGN.md §4); times are epoch seconds, ``duration`` in seconds."""

    job_id: str
    flow_id: str | None
    status: str
    start_time: float | None
    end_time: float | None
    duration: float | None
    duration_ms: float | None
    total_routines: int
    completed_routines: int
    failed_routines: int
    total_events: int
    total_slot_calls: int
    total_event_emits: int
    routine_metrics: dict[str, RoutineMetrics]
    errors: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; times as ISO 8601 UTC."""
        return {
            "job_id": self.job_id, "flow_id": self.flow_id, "status": self.status,
            "start_time": iso(self.start_time), "end_time": iso(self.end_time),
            "duration": self.duration, "duration_ms": self.duration_ms,
            "total_routines": self.total_routines, "completed_routines": self.completed_routines,
            "failed_routines": self.failed_routines, "total_events": self.total_events,
            "total_slot_calls": self.total_slot_calls, "total_event_emits": self.total_event_emits,
            "routine_metrics": {k: v.to_dict() for k, v in self.routine_metrics.items()},
            "errors": list(self.errors),
        }
