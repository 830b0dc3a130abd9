"""The owner seam: who holds a flow or a job, and the operations the service asks of it.

The service never touches a flow or job directly; it asks the job's *owner*. Today the only owner
is :class:`~routilux.service.local_owner.LocalOwner` (flows and jobs in this process). The kernel
bridge adds a ``KernelOwner`` whose methods forward the same calls, with the same arguments and
JSON results, to an agent in a kernel; that is why every argument here is a plain value or one of
the dataclasses of :mod:`routilux.service.requests`, and every result a JSON-ready dict.

Methods may block (a kernel owner waits for its reply), so the HTTP layer calls the service off
its event loop. They raise :mod:`routilux.errors` classes only: ``NotFoundError`` for ids the owner
does not hold, ``InvalidStateError`` for wrong states, ``OwnerUnavailableError`` /
``OwnerTimeoutError`` when the owning process is gone or slow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from routilux.service.requests import (
    BreakpointPatch,
    BreakpointSpec,
    FlowCreate,
    JobStart,
    VariableEdit,
)
from routilux.service.shapes import OwnerDict, OwnerKind
from routilux.service.timetravel import JobPatch, JobRerun

__all__ = ["Owner", "OwnerInfo"]


@dataclass(frozen=True)
class OwnerInfo:
    """Identity of an owner, as shown in flow and job JSON."""

    kind: OwnerKind = "server"
    kernel_id: str | None = None
    notebook_path: str | None = None

    def to_dict(self) -> OwnerDict:
        return {"kind": self.kind, "kernel_id": self.kernel_id, "notebook_path": self.notebook_path}


@runtime_checkable
class Owner(Protocol):
    """What the service needs from whoever holds flows and jobs."""

    @property
    def info(self) -> OwnerInfo:
        """Who this owner is."""
        ...

    # Flows
    def list_flows(self) -> list[dict[str, Any]]: ...
    def has_flow(self, flow_id: str) -> bool: ...
    def get_flow(self, flow_id: str) -> dict[str, Any]: ...
    def create_flow(self, request: FlowCreate) -> dict[str, Any]: ...
    def delete_flow(self, flow_id: str) -> None: ...

    # Jobs
    def list_jobs(self, flow_id: str | None, status: str | None) -> list[dict[str, Any]]: ...
    def has_job(self, job_id: str) -> bool: ...
    def get_job(self, job_id: str) -> dict[str, Any]: ...
    def start_job(self, request: JobStart) -> dict[str, Any]: ...
    def control_job(self, job_id: str, action: str) -> dict[str, Any]:
        """``action`` is ``pause``, ``resume`` or ``cancel``; returns ``{job_id, status}``."""
        ...

    def get_metrics(self, job_id: str) -> dict[str, Any]: ...
    def get_trace(self, job_id: str, limit: int | None) -> dict[str, Any]: ...

    # Breakpoints (scoped to one job)
    def list_breakpoints(self, job_id: str) -> dict[str, Any]: ...
    def add_breakpoint(self, job_id: str, spec: BreakpointSpec) -> dict[str, Any]: ...
    def update_breakpoint(
        self, job_id: str, breakpoint_id: str, patch: BreakpointPatch
    ) -> dict[str, Any]: ...
    def remove_breakpoint(self, job_id: str, breakpoint_id: str) -> None: ...

    # Debugging
    def debug_session(self, job_id: str) -> dict[str, Any]: ...
    def debug_step(self, job_id: str, step: str) -> dict[str, Any]:
        """``step`` is ``step_over``, ``step_into``, ``step_out`` or ``resume``."""
        ...

    def get_variables(self, job_id: str) -> dict[str, Any]: ...
    def set_variable(self, job_id: str, edit: VariableEdit) -> dict[str, Any]: ...
    def get_call_stack(self, job_id: str) -> dict[str, Any]: ...

    # Time travel (routilux.service.timetravel)
    def rerun_job(self, job_id: str, rerun: JobRerun) -> dict[str, Any]: ...
    def replay_job(self, job_id: str) -> dict[str, Any]: ...
    def annotate_job(self, job_id: str, patch: JobPatch) -> dict[str, Any]: ...
    def get_run(self, job_id: str) -> dict[str, Any]:
        """``{job_id, flow_id, status, forked_from, activations: [RecordedActivation dicts]}``."""
        ...
