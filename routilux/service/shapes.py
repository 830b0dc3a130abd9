"""The JSON shapes the service returns (DESIGN.md §6), as TypedDicts.

They are plain dicts at run time; the types document the wire contract for the HTTP layer, the
notebook widgets and the kernel bridge (``routilux_jupyter.protocol`` re-exports them). Extra keys
are allowed; the keys listed here are always present.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

__all__ = [
    "BreakpointDict",
    "BreakpointList",
    "CallStackDict",
    "ConnectionDict",
    "DebugSessionDict",
    "EventDict",
    "FlowDict",
    "FlowList",
    "FrameDict",
    "HealthDict",
    "JobDict",
    "JobList",
    "JobStatusDict",
    "MetricsDict",
    "OwnerDict",
    "OwnerKind",
    "PausedAtDict",
    "RoutineDict",
    "RoutineMetricsDict",
    "TraceDict",
    "VariablesDict",
]

OwnerKind = Literal["server", "kernel"]


class OwnerDict(TypedDict):
    """Which process holds a flow or job."""

    kind: OwnerKind
    kernel_id: str | None
    notebook_path: str | None


class RoutineDict(TypedDict):
    """One routine of a flow."""

    routine_id: str
    class_name: str
    slots: list[str]
    events: list[str]
    config: dict[str, Any]


class ConnectionDict(TypedDict):
    """One event -> slot wire of a flow."""

    connection_id: str
    source_routine: str
    source_event: str
    target_routine: str
    target_slot: str
    param_mapping: dict[str, str] | None


class FlowDict(TypedDict):
    """A flow: routines, wires, execution settings and where it lives."""

    flow_id: str
    routines: dict[str, RoutineDict]
    connections: list[ConnectionDict]
    execution_strategy: str
    max_workers: int
    executor: str
    owner: OwnerDict


class FlowList(TypedDict):
    flows: list[FlowDict]
    total: int


class JobDict(TypedDict):
    """A job (one run of a flow); times are ISO 8601 UTC strings or ``None``."""

    job_id: str
    flow_id: str
    status: str
    created_at: str | None
    started_at: str | None
    completed_at: str | None
    error: str | None
    executor: str               # "thread" or "dask" (where its handlers run)
    executor_info: dict[str, Any]   # e.g. a Dask job's dashboard_link
    owner: OwnerDict


class JobList(TypedDict):
    jobs: list[JobDict]
    total: int


class JobStatusDict(TypedDict):
    """The answer to a control action (pause, resume, cancel, step)."""

    job_id: str
    status: str


class RoutineMetricsDict(TypedDict):
    routine_id: str
    execution_count: int
    total_duration: float
    avg_duration: float
    min_duration: float | None
    max_duration: float | None
    error_count: int
    last_execution: str | None


class MetricsDict(TypedDict):
    """A job's metrics (DESIGN.md §4); durations in seconds except ``duration_ms``."""

    job_id: str
    flow_id: str
    status: str
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
    routine_metrics: dict[str, RoutineMetricsDict]
    errors: list[Any]


class EventDict(TypedDict):
    """One execution event of a trace or a monitor stream."""

    event_id: str
    job_id: str
    routine_id: str | None
    event_type: str
    timestamp: str | None
    data: dict[str, Any]
    duration: float | None
    status: str | None


class TraceDict(TypedDict):
    events: list[EventDict]
    total: int


class BreakpointDict(TypedDict):
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


class BreakpointList(TypedDict):
    breakpoints: list[BreakpointDict]
    total: int


class PausedAtDict(TypedDict):
    routine_id: str | None
    slot_name: str | None
    event_name: str | None
    line: int | None


class DebugSessionDict(TypedDict):
    job_id: str
    status: str
    paused_at: PausedAtDict | None


class VariablesDict(TypedDict):
    """``{"variables": {"local": {...}, "shared": {...}}}``."""

    variables: dict[str, dict[str, Any]]


class FrameDict(TypedDict):
    routine_id: str | None
    slot_name: str | None
    event_name: str | None
    function: str | None
    file: str | None
    line: int | None


class CallStackDict(TypedDict):
    frames: list[FrameDict]


class HealthDict(TypedDict):
    status: Literal["ok"]
    version: str
    flows: int
    jobs: int
    owners: list[OwnerDict]
    history: bool
