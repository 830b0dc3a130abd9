"""Typed results of the client: one dataclass per JSON shape of DESIGN.md §6.

Each keeps the server's dict as ``raw`` (and ``result["key"]`` reads it), so fields the server
adds later, or that a shape does not name (``routine_states`` of a job, ``seq`` of an event), are
never out of reach. Construction is lenient: a missing key becomes ``None`` / empty, because the
contract allows extra keys and a short answer (``POST /api/jobs`` returns only the job's id,
flow and status) should still give a usable object.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = [
    "Breakpoint",
    "CallStack",
    "Connection",
    "DebugSession",
    "Event",
    "Flow",
    "Frame",
    "Gap",
    "Health",
    "Job",
    "JobStatus",
    "Listing",
    "Metrics",
    "Owner",
    "PausedAt",
    "Routine",
    "RoutineMetrics",
    "Trace",
    "VariableChange",
    "Variables",
]

T = TypeVar("T")
TERMINAL_EVENTS = frozenset({"job_completed", "job_failed", "job_cancelled", "job_lost"})
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "lost"})


@dataclass(frozen=True)
class _Result:
    """Base of every result: the server's dict under ``raw``, readable with ``[]`` and ``get``."""

    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, kw_only=True)

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)


def _s(d: Mapping[str, Any], key: str) -> Any:
    return d.get(key)


def _dicts(items: Any) -> list[dict[str, Any]]:
    """The mappings of a JSON list. The server cuts long lists and appends a marker string
    (``"... 800 more"``); the marker is not an item, and ``total`` still counts everything."""
    return [item for item in items or [] if isinstance(item, dict)]


@dataclass(frozen=True)
class Owner(_Result):
    """Where a flow or job lives: the server process, or a kernel (and its notebook)."""

    kind: str | None
    kernel_id: str | None
    notebook_path: str | None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Owner:
        d = d or {}
        return cls(_s(d, "kind"), _s(d, "kernel_id"), _s(d, "notebook_path"), raw=dict(d))

    def __str__(self) -> str:
        if self.kind == "kernel":
            where = self.notebook_path or (self.kernel_id or "?")[:8]
            return f"kernel {where}"
        return self.kind or "?"


@dataclass(frozen=True)
class Routine(_Result):
    routine_id: str
    class_name: str | None
    slots: list[str]
    events: list[str]
    config: dict[str, Any]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Routine:
        return cls(d.get("routine_id", ""), _s(d, "class_name"), list(d.get("slots") or []),
                   list(d.get("events") or []), dict(d.get("config") or {}), raw=dict(d))


@dataclass(frozen=True)
class Connection(_Result):
    connection_id: str | None
    source_routine: str
    source_event: str
    target_routine: str
    target_slot: str
    param_mapping: dict[str, str] | None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Connection:
        return cls(_s(d, "connection_id"), d.get("source_routine", ""), d.get("source_event", ""),
                   d.get("target_routine", ""), d.get("target_slot", ""),
                   _s(d, "param_mapping"), raw=dict(d))


@dataclass(frozen=True)
class Flow(_Result):
    flow_id: str
    routines: dict[str, Routine]
    connections: list[Connection]
    execution_strategy: str | None
    max_workers: int | None
    owner: Owner

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Flow:
        routines = {rid: Routine.from_dict(r) for rid, r in (d.get("routines") or {}).items()}
        return cls(d.get("flow_id", ""), routines,
                   [Connection.from_dict(c) for c in _dicts(d.get("connections"))],
                   _s(d, "execution_strategy"), _s(d, "max_workers"),
                   Owner.from_dict(_s(d, "owner")), raw=dict(d))


@dataclass(frozen=True)
class Job(_Result):
    """One run of a flow; times are ISO 8601 UTC strings (or ``None``)."""

    job_id: str
    flow_id: str | None
    status: str
    created_at: str | None
    started_at: str | None
    completed_at: str | None
    error: str | None
    owner: Owner

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Job:
        return cls(d.get("job_id", ""), _s(d, "flow_id"), d.get("status", ""), _s(d, "created_at"),
                   _s(d, "started_at"), _s(d, "completed_at"), _s(d, "error"),
                   Owner.from_dict(_s(d, "owner")), raw=dict(d))

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True)
class Listing(_Result, Generic[T]):
    """A page of a list route: ``items`` plus the server's ``total``; iterable and sized."""

    items: list[T]
    total: int

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class JobStatus(_Result):
    """The answer to a control action or a debugger step."""

    job_id: str
    status: str

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> JobStatus:
        return cls(d.get("job_id", ""), d.get("status", ""), raw=dict(d))


@dataclass(frozen=True)
class RoutineMetrics(_Result):
    routine_id: str
    execution_count: int
    total_duration: float
    avg_duration: float
    min_duration: float | None
    max_duration: float | None
    error_count: int
    last_execution: str | None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RoutineMetrics:
        return cls(d.get("routine_id", ""), d.get("execution_count", 0),
                   d.get("total_duration", 0.0), d.get("avg_duration", 0.0),
                   _s(d, "min_duration"), _s(d, "max_duration"), d.get("error_count", 0),
                   _s(d, "last_execution"), raw=dict(d))


@dataclass(frozen=True)
class Metrics(_Result):
    """A job's metrics (DESIGN.md §4); durations in seconds except ``duration_ms``."""

    job_id: str
    flow_id: str | None
    status: str | None
    start_time: str | None
    end_time: str | None
    duration: float | None
    duration_ms: float | None
    total_routines: int
    completed_routines: int
    failed_routines: int
    total_events: int
    total_slot_calls: int
    total_event_emits: int
    routine_metrics: dict[str, RoutineMetrics]
    errors: list[Any]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Metrics:
        per_routine = {rid: RoutineMetrics.from_dict(m)
                       for rid, m in (d.get("routine_metrics") or {}).items()}
        return cls(d.get("job_id", ""), _s(d, "flow_id"), _s(d, "status"), _s(d, "start_time"),
                   _s(d, "end_time"), _s(d, "duration"), _s(d, "duration_ms"),
                   d.get("total_routines", 0), d.get("completed_routines", 0),
                   d.get("failed_routines", 0), d.get("total_events", 0),
                   d.get("total_slot_calls", 0), d.get("total_event_emits", 0), per_routine,
                   list(d.get("errors") or []), raw=dict(d))


@dataclass(frozen=True)
class Event(_Result):
    """One execution event, from a trace or a live monitor stream."""

    event_id: str | None
    job_id: str | None
    routine_id: str | None
    event_type: str
    timestamp: str | None
    data: dict[str, Any]
    duration: float | None
    status: str | None
    seq: int | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Event:
        return cls(_s(d, "event_id"), _s(d, "job_id"), _s(d, "routine_id"),
                   d.get("event_type", ""), _s(d, "timestamp"), dict(d.get("data") or {}),
                   _s(d, "duration"), _s(d, "status"), _s(d, "seq"), raw=dict(d))

    @property
    def is_terminal(self) -> bool:
        """Whether this event ends its job (completed, failed, cancelled or lost)."""
        return self.event_type in TERMINAL_EVENTS


@dataclass(frozen=True)
class Gap(_Result):
    """Marker in a live stream: ``dropped`` events were lost because the reader fell behind."""

    dropped: int

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Gap:
        return cls(int(d.get("dropped") or 0), raw=dict(d))

    # Read like an event, so a loop over a stream that only looks at event_type keeps working.
    event_type = "gap"
    is_terminal = False


@dataclass(frozen=True)
class Trace(_Result):
    events: list[Event]
    total: int

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Trace:
        return cls([Event.from_dict(e) for e in _dicts(d.get("events"))], d.get("total", 0),
                   raw=dict(d))


@dataclass(frozen=True)
class Breakpoint(_Result):
    breakpoint_id: str
    job_id: str | None
    flow_id: str | None
    type: str
    routine_id: str | None
    slot_name: str | None
    event_name: str | None
    condition: str | None
    enabled: bool
    hit_count: int

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Breakpoint:
        return cls(d.get("breakpoint_id", ""), _s(d, "job_id"), _s(d, "flow_id"),
                   d.get("type", ""), _s(d, "routine_id"), _s(d, "slot_name"),
                   _s(d, "event_name"), _s(d, "condition"), bool(d.get("enabled", True)),
                   d.get("hit_count", 0), raw=dict(d))

    @property
    def location(self) -> str:
        """``routine``, ``routine.slot`` or ``routine!event``, as the CLI prints it."""
        where = self.routine_id or "?"
        if self.slot_name:
            where += f".{self.slot_name}"
        if self.event_name:
            where += f"!{self.event_name}"
        return where


@dataclass(frozen=True)
class PausedAt(_Result):
    routine_id: str | None
    slot_name: str | None
    event_name: str | None
    line: int | None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PausedAt:
        return cls(_s(d, "routine_id"), _s(d, "slot_name"), _s(d, "event_name"), _s(d, "line"),
                   raw=dict(d))

    def __str__(self) -> str:
        where = self.routine_id or "?"
        if self.slot_name:
            where += f".{self.slot_name}"
        if self.event_name:
            where += f" (emit {self.event_name})"
        if self.line is not None:
            where += f" line {self.line}"
        return where


@dataclass(frozen=True)
class DebugSession(_Result):
    """Where a job stands in the debugger; ``paused_at`` is ``None`` unless paused there."""

    job_id: str
    status: str
    paused_at: PausedAt | None
    pause_reason: str | None = None
    pause_count: int = 0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DebugSession:
        at = _s(d, "paused_at")
        return cls(d.get("job_id", ""), d.get("status", ""),
                   PausedAt.from_dict(at) if at else None, _s(d, "pause_reason"),
                   d.get("pause_count") or 0, raw=dict(d))

    @property
    def is_paused(self) -> bool:
        return self.status == "paused"


@dataclass(frozen=True)
class Variables(_Result):
    """The paused activation's payload (or frame locals) and the job's shared data."""

    local: dict[str, Any]
    shared: dict[str, Any]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Variables:
        inner = d.get("variables") or {}
        return cls(dict(inner.get("local") or {}), dict(inner.get("shared") or {}), raw=dict(d))


@dataclass(frozen=True)
class VariableChange(_Result):
    """What ``set_variable`` changed: the value as the job now holds it (a bounded summary)."""

    name: str
    value: Any
    scope: str

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VariableChange:
        return cls(d.get("name", ""), d.get("value"), d.get("scope", "local"), raw=dict(d))


@dataclass(frozen=True)
class Frame(_Result):
    routine_id: str | None
    slot_name: str | None
    event_name: str | None
    function: str | None
    file: str | None
    line: int | None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Frame:
        return cls(_s(d, "routine_id"), _s(d, "slot_name"), _s(d, "event_name"),
                   _s(d, "function"), _s(d, "file"), _s(d, "line"), raw=dict(d))


@dataclass(frozen=True)
class CallStack(_Result):
    """Innermost frame first: the paused activation, then the emits that led to it."""

    frames: list[Frame]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CallStack:
        return cls([Frame.from_dict(f) for f in _dicts(d.get("frames"))], raw=dict(d))


@dataclass(frozen=True)
class Health(_Result):
    status: str
    version: str | None
    flows: int
    jobs: int
    owners: list[Owner]
    history: bool

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Health:
        return cls(d.get("status", ""), _s(d, "version"), d.get("flows", 0), d.get("jobs", 0),
                   [Owner.from_dict(o) for o in _dicts(d.get("owners"))],
                   bool(d.get("history")), raw=dict(d))
