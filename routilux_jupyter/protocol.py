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

# -- the kernel bridge: how a kernel agent finds and authenticates to its server -------------------
#: Environment variables the server extension sets before kernels start (kernels inherit them).
BRIDGE_URL_ENV = "ROUTILUX_BRIDGE_URL"
BRIDGE_SECRET_ENV = "ROUTILUX_BRIDGE_SECRET"
#: Request header carrying the secret on the bridge WebSocket upgrade (never a query parameter).
BRIDGE_SECRET_HEADER = "X-Routilux-Bridge-Secret"
#: Route of the bridge WebSocket, relative to the server's base_url (outside the API prefix).
BRIDGE_PATH = "routilux/bridge"
#: Close code: a newer connection of the same kernel replaced this one; the agent must not retry.
BRIDGE_CLOSE_SUPERSEDED = 4003

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
    "BRIDGE_CLOSE_SUPERSEDED",
    "BRIDGE_PATH",
    "BRIDGE_SECRET_ENV",
    "BRIDGE_SECRET_HEADER",
    "BRIDGE_URL_ENV",
    "BatchMessage",
    "BridgeEvents",
    "BridgeFlows",
    "BridgeHello",
    "BridgeJobForgotten",
    "BridgeJobRecord",
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


# -- kernel agent -> server messages on the bridge (besides OwnerReply) -----------------------------


class BridgeHello(TypedDict):
    """First message of a bridge connection: who this kernel is and what it holds now.

    ``instance_id`` is new for every kernel process, so a restarted kernel (same ``kernel_id``)
    is told apart from a reconnecting one.
    """

    type: Literal["hello"]
    kernel_id: str
    instance_id: str
    notebook_path: str | None
    pid: int
    flow_ids: list[str]
    jobs: list[JobDict]


class BridgeEvents(TypedDict):
    """A batch of job events (``EventMessage`` dicts, each with ``job_id`` and per-job ``seq``)."""

    type: Literal["events"]
    events: list[dict[str, Any]]


class BridgeFlows(TypedDict):
    """The kernel's complete set of flow ids, sent whenever it changes."""

    type: Literal["flows"]
    flow_ids: list[str]


class BridgeJobRecord(TypedDict, total=False):
    """A job started (``ended`` false) or ended; an end carries final metrics and trace."""

    type: Literal["job"]
    job: JobDict
    ended: bool
    metrics: dict[str, Any] | None
    trace: list[dict[str, Any]] | None
    inputs: list[dict[str, Any]] | None  # recorded activations (RecordedActivation.to_dict())


class BridgeJobForgotten(TypedDict):
    """The kernel dropped a finished job from memory; the server's history keeps it."""

    type: Literal["job_forgotten"]
    job_id: str
