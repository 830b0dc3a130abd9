"""A Python client of the routilux API of a Jupyter server: ``connect()``, then call methods.

::

    from routilux_jupyter.client import connect

    client = connect()                      # the server of this kernel, or of `jupyter server list`
    job = client.start_job("payments", "orders", {"count": 5})
    for event in client.watch(job.job_id):  # live, until the job ends
        print(event.event_type, event.routine_id)

Importing this package starts nothing and loads nothing from Jupyter; discovery imports
``jupyter_server`` only when it runs, and :meth:`Client.watch` needs websocket-client.
"""

from __future__ import annotations

from routilux.errors import (
    AmbiguousError,
    InvalidStateError,
    NotFoundError,
    OwnerTimeoutError,
    OwnerUnavailableError,
    RoutiluxError,
    ValidationError,
)
from routilux_jupyter.client.client import Client, connect
from routilux_jupyter.client.discovery import ServerInfo, current_kernel_id, discover
from routilux_jupyter.client.errors import ServerNotFoundError, ServerUnreachableError
from routilux_jupyter.client.models import (
    Breakpoint,
    CallStack,
    DebugSession,
    Event,
    Flow,
    Frame,
    Gap,
    Health,
    Job,
    JobStatus,
    Listing,
    Metrics,
    Owner,
    PausedAt,
    RoutineMetrics,
    Trace,
    VariableChange,
    Variables,
)
from routilux_jupyter.client.watch import AsyncJobWatch, JobWatch

__all__ = [
    "AmbiguousError",
    "AsyncJobWatch",
    "Breakpoint",
    "CallStack",
    "Client",
    "DebugSession",
    "Event",
    "Flow",
    "Frame",
    "Gap",
    "Health",
    "InvalidStateError",
    "Job",
    "JobStatus",
    "JobWatch",
    "Listing",
    "Metrics",
    "NotFoundError",
    "Owner",
    "OwnerTimeoutError",
    "OwnerUnavailableError",
    "PausedAt",
    "RoutiluxError",
    "RoutineMetrics",
    "ServerInfo",
    "ServerNotFoundError",
    "ServerUnreachableError",
    "Trace",
    "ValidationError",
    "VariableChange",
    "Variables",
    "connect",
    "current_kernel_id",
    "discover",
]
