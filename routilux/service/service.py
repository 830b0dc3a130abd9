"""The routilux API as plain Python: one method per operation, JSON-ready dicts in and out.

:class:`RoutiluxService` validates input (:mod:`routilux.service.requests`), finds the owner of
the flow or job in question (:mod:`routilux.service.owner`), asks it, and falls back to the job
history for finished jobs no owner holds any more. It knows nothing about HTTP: errors are the
classes of :mod:`routilux.errors`, which the server maps to statuses in one table.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Callable

from routilux.errors import AmbiguousError, InvalidStateError, NotFoundError, ValidationError
from routilux.monitoring.frames import trace_csv
from routilux.service.history import History
from routilux.service.owner import Owner
from routilux.service.requests import (
    normalize_step,
    parse_breakpoint,
    parse_breakpoint_patch,
    parse_flow_create,
    parse_job_query,
    parse_job_start,
    parse_trace_limit,
    parse_variable_edit,
)
from routilux.service.timetravel import TimeTravelService

if TYPE_CHECKING:
    from routilux.monitoring.event_manager import JobEventManager, Subscription

__all__ = ["RoutiluxService"]

_CONTROL_ACTIONS = ("pause", "resume", "cancel")


def _sort_key(job: Mapping[str, Any]) -> tuple[str, str]:
    # ISO strings of one format sort chronologically; newest first after reverse=True.
    return (job.get("created_at") or "", job.get("job_id") or "")


class RoutiluxService(TimeTravelService):
    """Every API operation over a set of owners and an optional job history.

    The first owner given is the *default* owner: flows created without a ``kernel_id`` go there.
    Owners may be added and removed at any time (kernels come and go); methods are thread-safe.
    """

    def __init__(
        self,
        owners: Iterable[Owner],
        *,
        history: History | None = None,
        events: JobEventManager | None = None,
        version: str = "0",
    ) -> None:
        self._owners: list[Owner] = list(owners)
        if not self._owners:
            raise ValueError("RoutiluxService needs at least one owner (e.g. LocalOwner()).")
        self._lock = threading.Lock()
        self.history = history
        self.events = events
        self.version = version

    # -- owners -------------------------------------------------------------------------------

    @property
    def default_owner(self) -> Owner:
        """Where flows without a ``kernel_id`` are created (the server process)."""
        return self._owners[0]

    def owners(self) -> list[Owner]:
        """A snapshot of the current owners, default first."""
        with self._lock:
            return list(self._owners)

    def add_owner(self, owner: Owner) -> None:
        """Start routing to ``owner`` (e.g. a kernel that just connected)."""
        with self._lock:
            if owner not in self._owners:
                self._owners.append(owner)

    def remove_owner(self, owner: Owner) -> None:
        """Stop routing to ``owner``; the default owner cannot be removed."""
        with self._lock:
            if owner is self._owners[0]:
                raise InvalidStateError("The server's own owner cannot be removed.")
            if owner in self._owners:
                self._owners.remove(owner)

    def _owner_for_kernel(self, kernel_id: str) -> Owner:
        for owner in self.owners():
            if owner.info.kernel_id == kernel_id:
                return owner
        raise NotFoundError(
            f"No kernel {kernel_id!r} is connected to routilux; run `%load_ext routilux` in that "
            "kernel, or omit 'kernel_id' to use the server.",
            detail={"kernel_id": kernel_id},
        )

    def _flow_owner(self, flow_id: str, kernel_id: str | None) -> Owner:
        if kernel_id is not None:
            owner = self._owner_for_kernel(kernel_id)
            if not owner.has_flow(flow_id):
                raise NotFoundError(
                    f"Flow {flow_id!r} does not exist in kernel {kernel_id!r}; "
                    "GET /api/flows lists the flows.",
                    detail={"flow_id": flow_id, "kernel_id": kernel_id},
                )
            return owner
        found = [owner for owner in self.owners() if owner.has_flow(flow_id)]
        if not found:
            raise NotFoundError(
                f"Flow {flow_id!r} does not exist; GET /api/flows lists the flows, "
                "POST /api/flows creates one.",
                detail={"flow_id": flow_id},
            )
        if len(found) > 1:
            raise AmbiguousError(
                f"Flow id {flow_id!r} exists in {len(found)} places; pass 'kernel_id' to choose.",
                detail={"flow_id": flow_id, "candidates": [o.info.to_dict() for o in found]},
            )
        return found[0]

    def _job_owner(self, job_id: str) -> Owner | None:
        for owner in self.owners():
            if owner.has_job(job_id):
                return owner
        return None

    def _live_job_owner(self, job_id: str, action: str) -> Owner:
        """The owner of a job that must still be live (control, breakpoints, debugging)."""
        owner = self._job_owner(job_id)
        if owner is not None:
            return owner
        past = self.history.get_job(job_id) if self.history is not None else None
        if past is not None:
            raise InvalidStateError(
                f"Job {job_id!r} has ended ({past.get('status')}) and is only in the history; "
                f"it cannot {action} any more.",
                detail={"job_id": job_id, "status": past.get("status")},
            )
        raise self._job_not_found(job_id)

    @staticmethod
    def _job_not_found(job_id: str) -> NotFoundError:
        return NotFoundError(
            f"Job {job_id!r} does not exist; GET /api/jobs lists the jobs.",
            detail={"job_id": job_id},
        )

    # -- flows --------------------------------------------------------------------------------

    def list_flows(self) -> dict[str, Any]:
        """``{flows: [...], total}`` over every owner."""
        flows: list[dict[str, Any]] = []
        for owner in self.owners():
            flows.extend(owner.list_flows())
        return {"flows": flows, "total": len(flows)}

    def get_flow(self, flow_id: str, kernel_id: str | None = None) -> dict[str, Any]:
        return self._flow_owner(flow_id, kernel_id).get_flow(flow_id)

    def create_flow(self, body: Any) -> dict[str, Any]:
        """Build a flow from a DSL spec in the server (or in ``kernel_id``'s kernel)."""
        request = parse_flow_create(body)
        owner = (
            self.default_owner
            if request.kernel_id is None
            else self._owner_for_kernel(request.kernel_id)
        )
        return owner.create_flow(request)

    def delete_flow(self, flow_id: str, kernel_id: str | None = None) -> None:
        self._flow_owner(flow_id, kernel_id).delete_flow(flow_id)

    # -- jobs ---------------------------------------------------------------------------------

    def list_jobs(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``{jobs: [...], total}``: live jobs of every owner plus finished ones from the history."""
        query = parse_job_query(params or {})
        live: list[dict[str, Any]] = []
        for owner in self.owners():
            live.extend(owner.list_jobs(query.flow_id, query.status))
        merged = list(live)
        total = len(live)
        if self.history is not None:
            # Finished jobs still in memory are also in the history: count and list them once.
            seen = frozenset(job["job_id"] for job in live)
            merged.extend(
                self.history.list_jobs(
                    flow_id=query.flow_id,
                    status=query.status,
                    limit=query.offset + query.limit,
                    offset=0,
                    exclude=seen,
                )
            )
            total += self.history.count_jobs(
                flow_id=query.flow_id, status=query.status, exclude=seen
            )
        merged.sort(key=_sort_key, reverse=True)
        return {"jobs": merged[query.offset : query.offset + query.limit], "total": total}

    def get_job(self, job_id: str) -> dict[str, Any]:
        owner = self._job_owner(job_id)
        if owner is not None:
            return owner.get_job(job_id)
        past = self.history.get_job(job_id) if self.history is not None else None
        if past is None:
            raise self._job_not_found(job_id)
        return past

    def start_job(self, body: Any) -> dict[str, Any]:
        """Start a job of a flow; breakpoints in the body are armed before its first routine."""
        request = parse_job_start(body)
        owner = self._flow_owner(request.flow_id, request.kernel_id)
        return owner.start_job(request)

    def control_job(self, job_id: str, action: str) -> dict[str, Any]:
        """``pause``, ``resume`` or ``cancel`` a job; returns ``{job_id, status}``."""
        if action not in _CONTROL_ACTIONS:
            raise ValidationError(
                f"Unknown job action {action!r}; use one of {', '.join(_CONTROL_ACTIONS)}.",
                detail={"field": "action"},
            )
        return self._live_job_owner(job_id, action).control_job(job_id, action)

    def pause_job(self, job_id: str) -> dict[str, Any]:
        return self.control_job(job_id, "pause")

    def resume_job(self, job_id: str) -> dict[str, Any]:
        return self.control_job(job_id, "resume")

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        return self.control_job(job_id, "cancel")

    def get_metrics(self, job_id: str) -> dict[str, Any]:
        owner = self._job_owner(job_id)
        if owner is not None:
            return owner.get_metrics(job_id)
        metrics = self.history.get_metrics(job_id) if self.history is not None else None
        if metrics is None:
            raise self._job_not_found(job_id)
        return metrics

    def get_trace(self, job_id: str, limit: Any = None) -> dict[str, Any]:
        """``{events: [...], total}``, the last ``limit`` events (all buffered ones by default)."""
        count = parse_trace_limit(limit)
        owner = self._job_owner(job_id)
        if owner is not None:
            return owner.get_trace(job_id, count)
        events = self.history.get_trace(job_id, count) if self.history is not None else None
        if events is None:
            raise self._job_not_found(job_id)
        return {"events": events, "total": len(events)}

    def get_trace_csv(self, job_id: str, limit: Any = None) -> str:
        """The events of :meth:`get_trace` as CSV text, one row per event (columns:
        :data:`routilux.monitoring.frames.TRACE_COLUMNS`, the columns of ``trace_frame()``)."""
        return trace_csv(self.get_trace(job_id, limit)["events"])

    # -- breakpoints --------------------------------------------------------------------------

    def list_breakpoints(self, job_id: str) -> dict[str, Any]:
        return self._live_job_owner(job_id, "have breakpoints").list_breakpoints(job_id)

    def add_breakpoint(self, job_id: str, body: Any) -> dict[str, Any]:
        spec = parse_breakpoint(body)
        return self._live_job_owner(job_id, "get breakpoints").add_breakpoint(job_id, spec)

    def update_breakpoint(self, job_id: str, breakpoint_id: str, body: Any) -> dict[str, Any]:
        patch = parse_breakpoint_patch(body)
        owner = self._live_job_owner(job_id, "change breakpoints")
        return owner.update_breakpoint(job_id, breakpoint_id, patch)

    def remove_breakpoint(self, job_id: str, breakpoint_id: str) -> None:
        self._live_job_owner(job_id, "remove breakpoints").remove_breakpoint(job_id, breakpoint_id)

    # -- debugging ----------------------------------------------------------------------------

    def debug_session(self, job_id: str) -> dict[str, Any]:
        """``{job_id, status, paused_at}``; ``paused_at`` is ``None`` unless paused in a debugger."""
        owner = self._job_owner(job_id)
        if owner is not None:
            return owner.debug_session(job_id)
        past = self.history.get_job(job_id) if self.history is not None else None
        if past is None:
            raise self._job_not_found(job_id)
        return {"job_id": job_id, "status": past["status"], "paused_at": None}

    def debug_step(self, job_id: str, step: str) -> dict[str, Any]:
        """``step_over``/``step_into``/``step_out``/``resume`` (hyphens and ``continue`` too)."""
        name = normalize_step(step)
        return self._live_job_owner(job_id, name.replace("_", " ")).debug_step(job_id, name)

    def get_variables(self, job_id: str) -> dict[str, Any]:
        return self._live_job_owner(job_id, "show variables").get_variables(job_id)

    def set_variable(self, job_id: str, name: str, body: Any) -> dict[str, Any]:
        edit = parse_variable_edit(name, body)
        return self._live_job_owner(job_id, "set variables").set_variable(job_id, edit)

    def get_call_stack(self, job_id: str) -> dict[str, Any]:
        return self._live_job_owner(job_id, "show a call stack").get_call_stack(job_id)

    # -- live events --------------------------------------------------------------------------

    def _event_manager(self) -> JobEventManager:
        if self.events is None:
            raise InvalidStateError("This service has no event manager; pass events= to it.")
        return self.events

    def subscribe_job(
        self, job_id: str, notify: Callable[[], None], max_queue: int = 100
    ) -> Subscription:
        """A subscription to a job's events (its recent history first); 404 for unknown jobs.

        ``notify`` is called on the publishing thread whenever the queue goes from empty to
        non-empty; the consumer then calls ``subscription.drain()``.
        """
        self.get_job(job_id)  # raises NotFoundError; works for finished jobs too
        return self._event_manager().subscribe(job_id, max_queue, notify=notify)

    def subscribe_flow(
        self, flow_id: str, notify: Callable[[], None], max_queue: int = 100
    ) -> Subscription:
        """A subscription to the live events of every job of a flow; 404 for unknown flows."""
        if not any(owner.has_flow(flow_id) for owner in self.owners()):
            raise NotFoundError(
                f"Flow {flow_id!r} does not exist; GET /api/flows lists the flows.",
                detail={"flow_id": flow_id},
            )
        return self._event_manager().subscribe_flow(flow_id, max_queue, notify=notify)

    def subscribe_all(self, notify: Callable[[], None], max_queue: int = 100) -> Subscription:
        """A subscription to the live events of every job, the server's and the kernels' alike
        (kernel events reach this process's event manager through the bridge)."""
        return self._event_manager().subscribe_all(max_queue, notify=notify)

    # -- health -------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Liveness plus a few counts; never raises for a healthy process."""
        owners = self.owners()
        flows = sum(len(owner.list_flows()) for owner in owners)
        jobs = sum(len(owner.list_jobs(None, None)) for owner in owners)
        return {
            "status": "ok",
            "version": self.version,
            "flows": flows,
            "jobs": jobs,
            "owners": [owner.info.to_dict() for owner in owners],
            "history": self.history is not None,
        }
