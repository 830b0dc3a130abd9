"""Message shapes shared by the server half and the kernel half (TypedDicts, no Jupyter imports).

The REST/WebSocket JSON shapes are defined once, in :mod:`routilux.service.shapes`, and
re-exported here. This module adds the WebSocket messages of the monitor and debug sockets and
the envelope the kernel bridge will use: the server's ``KernelOwner`` sends an
:class:`OwnerRequest` naming an :class:`~routilux.service.owner.Owner` method (``op``) with its
arguments as JSON, and the kernel agent answers with an :class:`OwnerReply` carrying that method's
JSON result or an error (the routilux error class name, message and detail).
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, Union

from routilux.service.shapes import (
    BreakpointDict,
    BreakpointList,
    CallStackDict,
    ConnectionDict,
    DebugSessionDict,
    EventDict,
    FlowDict,
    FlowList,
    FrameDict,
    HealthDict,
    JobDict,
    JobList,
    JobStatusDict,
    MetricsDict,
    OwnerDict,
    PausedAtDict,
    RoutineDict,
    RoutineMetricsDict,
    TraceDict,
    VariablesDict,
)

__all__ = [
    "BatchMessage",
    "BreakpointDict",
    "BreakpointList",
    "CallStackDict",
    "ConnectionDict",
    "DebugCommand",
    "DebugCommandName",
    "DebugResponse",
    "DebugSessionDict",
    "ErrorBody",
    "EventDict",
    "EventMessage",
    "FlowDict",
    "FlowList",
    "FrameDict",
    "GapMessage",
    "HealthDict",
    "JobDict",
    "JobList",
    "JobStatusDict",
    "MetricsDict",
    "MonitorMessage",
    "OwnerDict",
    "OwnerReply",
    "OwnerRequest",
    "PausedAtDict",
    "RemoteError",
    "RoutineDict",
    "RoutineMetricsDict",
    "TraceDict",
    "VariablesDict",
]


class ErrorBody(TypedDict):
    """Body of every error answer (HTTP and debug socket)."""

    message: str
    detail: Any


class EventMessage(EventDict, total=False):
    """One job event on a monitor socket (``type`` is ``"event"``)."""

    type: Literal["event"]
    seq: int
    flow_id: str | None
    slot_name: str | None
    event_name: str | None


class GapMessage(TypedDict):
    """``dropped`` events were lost right here because the subscriber fell behind."""

    type: Literal["gap"]
    dropped: int


class BatchMessage(TypedDict):
    """Several items at once (sockets opened with ``?batch=1``)."""

    type: Literal["batch"]
    events: list[Union[EventMessage, GapMessage]]


MonitorMessage = Union[EventMessage, GapMessage, BatchMessage]

DebugCommandName = Literal[
    "step_over",
    "step_into",
    "step_out",
    "continue",
    "resume",
    "pause",
    "cancel",
    "get_variables",
    "set_variable",
    "get_call_stack",
    "get_session",
]


class DebugCommand(TypedDict, total=False):
    """Client -> server on ``/api/ws/jobs/{id}/debug`` (hyphenated names are accepted too)."""

    command: DebugCommandName
    id: Any
    name: str  # set_variable
    value: Any  # set_variable
    scope: Literal["local", "shared"]  # set_variable


class DebugResponse(TypedDict, total=False):
    """Server -> client: exactly one per command, echoing its ``id``."""

    type: Literal["response"]
    id: Any
    command: str | None
    ok: bool
    result: Any
    status: int
    error: ErrorBody


class OwnerRequest(TypedDict):
    """Server -> kernel agent: call ``Owner.<op>(**args)`` (arguments as JSON)."""

    type: Literal["request"]
    request_id: str
    op: str
    args: dict[str, Any]


class RemoteError(TypedDict):
    """A routilux error raised in the kernel, rebuilt as the same class on the server."""

    error_class: str
    message: str
    detail: Any


class OwnerReply(TypedDict, total=False):
    """Kernel agent -> server: the answer to one :class:`OwnerRequest`."""

    type: Literal["reply"]
    request_id: str
    ok: bool
    result: Any
    error: RemoteError
