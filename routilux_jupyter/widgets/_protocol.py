"""Shapes of what crosses the comm between the views' Python side and their ES modules.

Synced traits carry plain JSON (the TypedDicts below); custom messages carry commands from the
front end and their results back. Every command is answered exactly once with a
:class:`ResultMsg` whose ``id`` echoes the command's, so the front end can show a refusal (a bad
breakpoint condition, a step while running) next to the control that caused it.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, Union

__all__ = [
    "ACTIONS",
    "Action",
    "Breakpoint",
    "CallFrame",
    "CommandMsg",
    "DebugState",
    "Graph",
    "GraphEdge",
    "GraphNode",
    "JobInfo",
    "PausedAt",
    "ResultMsg",
    "TraceEvent",
    "TracePage",
]


class GraphNode(TypedDict):
    """One routine: its id, class and port names (slots left, events right)."""

    id: str
    class_name: str
    slots: list[str]
    events: list[str]


class GraphEdge(TypedDict):
    """One connection, from ``source.event`` to ``target.slot``."""

    id: str
    source: str
    event: str
    target: str
    slot: str


class Graph(TypedDict):
    """The drawable flow: built once per flow, re-sent only when the flow changes."""

    flow_id: str
    nodes: list[GraphNode]
    edges: list[GraphEdge]


class JobInfo(TypedDict, total=False):
    """The job a view follows (DESIGN §6 job shape, times as ISO 8601 text)."""

    job_id: str
    flow_id: str
    status: str
    created_at: str | None
    started_at: str | None
    completed_at: str | None
    error: str | None
    executor: str                  # "thread" or "dask"
    executor_info: dict[str, Any]  # e.g. dashboard_link of a Dask job
    parent_job_id: str | None           # set on a fork: the job it was re-run from
    forked_from: dict[str, Any] | None  # {job_id, seq}
    replay_of: str | None
    label: str | None
    pinned: bool


class TraceEvent(TypedDict, total=False):
    """One execution event, payload already summarised (bounded) by monitoring."""

    event_id: str
    seq: int
    routine_id: str | None
    event_type: str
    timestamp: float
    duration: float | None
    status: str | None
    slot_name: str | None
    event_name: str | None
    data: Any


class TracePage(TypedDict):
    """Events older than a given one, oldest first; ``has_more`` when even older ones exist."""

    events: list[TraceEvent]
    has_more: bool


class Breakpoint(TypedDict, total=False):
    """A breakpoint as the debugger panel lists it (DESIGN §6 breakpoint shape)."""

    breakpoint_id: str
    job_id: str | None
    flow_id: str | None
    type: str
    routine_id: str
    slot_name: str | None
    event_name: str | None
    condition: str | None
    enabled: bool
    hit_count: int


class PausedAt(TypedDict, total=False):
    """Where a paused job stands."""

    routine_id: str | None
    slot_name: str | None
    event_name: str | None
    line: int | None
    reason: str | None


class CallFrame(TypedDict, total=False):
    """One frame of the call stack: an activation, or a Python frame inside a handler."""

    routine_id: str | None
    slot_name: str | None
    event_name: str | None
    function: str | None
    file: str | None
    line: int | None


class DebugState(TypedDict):
    """What the debugger panel shows; variables and frames only while the job is paused."""

    paused_at: PausedAt | None
    variables: dict[str, dict[str, Any]] | None
    call_stack: list[CallFrame]


Action = Literal[
    "pause",
    "resume",
    "cancel",
    "step_over",
    "step_into",
    "step_out",
    "continue",
    "add_breakpoint",
    "remove_breakpoint",
    "toggle_breakpoint",
    "update_breakpoint",
    "set_variable",
    "page_trace",
    "refresh",
    "activation",
    "rerun",
    "flow_jobs",
    "compare",
]

ACTIONS: frozenset[str] = frozenset(Action.__args__)  # type: ignore[attr-defined]


class CommandMsg(TypedDict):
    """Front end -> kernel: run ``action`` with ``args``."""

    type: Literal["command"]
    id: str
    action: Action
    args: dict[str, Any]


class ResultMsg(TypedDict):
    """Kernel -> front end: the answer to the command with the same ``id``."""

    type: Literal["result"]
    id: str
    ok: bool
    error: str | None
    data: Union[Any, None]
