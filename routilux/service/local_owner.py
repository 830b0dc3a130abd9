"""``LocalOwner``: flows and jobs that live in this process (the Jupyter server, or a kernel).

It turns the engine and monitoring objects into the JSON shapes of :mod:`routilux.service.shapes`
and maps each API operation onto them. Flows and jobs are kept in the seed's
:class:`~routilux.monitoring.storage.FlowStore` / :class:`~routilux.monitoring.storage.JobStore`,
so a kernel agent can wrap the kernel's own stores in a ``LocalOwner`` and answer the same calls.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import Any

from routilux.errors import ConditionError, InvalidStateError, NotFoundError, ValidationError
from routilux.flow import Flow
from routilux.job_state import JobState
from routilux.monitoring.breakpoint_manager import Breakpoint
from routilux.monitoring.storage import FlowStore, JobStore
from routilux.monitoring.summary import summarize_mapping
from routilux.service.jsonable import jsonable
from routilux.service.owner import OwnerInfo
from routilux.service.requests import (
    BreakpointPatch,
    BreakpointSpec,
    FlowCreate,
    JobStart,
    VariableEdit,
)
from routilux.service.timetravel import TimeTravelOwner

__all__ = ["LocalOwner", "parse_dsl_text"]

_TERMINAL = frozenset({"completed", "failed", "cancelled", "lost"})


def parse_dsl_text(text: str) -> Any:
    """YAML text -> spec. Never treats the text as a file path (unlike ``Flow.from_yaml``):
    API input must not make the server read its own files."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError(f"The flow YAML does not parse: {exc}", detail={"field": "dsl"}) from None


class LocalOwner(TimeTravelOwner):
    """Owner of the flows and jobs of this process.

    ``monitoring`` is a :class:`~routilux.monitoring.MonitoringRegistry` (its collector,
    breakpoint manager and debug sessions); it must be the enabled one, since the engine reports
    to whatever is installed in the hook seam. ``max_finished_jobs`` finished jobs stay in memory
    (newest kept); older ones are only in the history.
    """

    def __init__(
        self,
        monitoring: Any,
        *,
        info: OwnerInfo | None = None,
        flow_store: FlowStore | None = None,
        job_store: JobStore | None = None,
        max_finished_jobs: int = 1000,
    ) -> None:
        self._info = info or OwnerInfo()
        self._monitoring = monitoring
        self._lock = threading.RLock()  # makes check-then-add of flow ids atomic
        self.flows = flow_store if flow_store is not None else FlowStore()
        self.jobs = job_store if job_store is not None else JobStore()
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._max_finished = max(1, max_finished_jobs)

    @property
    def info(self) -> OwnerInfo:
        return self._info

    # -- lookups ------------------------------------------------------------------------------

    def _flow(self, flow_id: str) -> Flow:
        flow = self.flows.get(flow_id)
        if flow is None:
            raise NotFoundError(
                f"Flow {flow_id!r} does not exist; GET /api/flows lists the flows.",
                detail={"flow_id": flow_id},
            )
        return flow

    def _job(self, job_id: str) -> JobState:
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFoundError(
                f"Job {job_id!r} does not exist; GET /api/jobs lists the jobs.",
                detail={"job_id": job_id},
            )
        return job

    def _flow_of(self, job: JobState) -> Flow:
        flow = self.flows.get(job.flow_id)
        if flow is None:
            raise InvalidStateError(
                f"The flow {job.flow_id!r} of job {job.job_id!r} was deleted.",
                detail={"job_id": job.job_id, "flow_id": job.flow_id},
            )
        return flow

    # -- flows --------------------------------------------------------------------------------

    def flow_dict(self, flow: Flow) -> dict[str, Any]:
        out = jsonable(flow.describe())
        out["owner"] = self._info.to_dict()
        return out

    def list_flows(self) -> list[dict[str, Any]]:
        return [self.flow_dict(flow) for flow in self.flows.list_all()]

    def has_flow(self, flow_id: str) -> bool:
        return flow_id in self.flows

    def get_flow(self, flow_id: str) -> dict[str, Any]:
        return self.flow_dict(self._flow(flow_id))

    def add_flow(self, flow: Flow, *, replace: bool = False) -> dict[str, Any]:
        """Register an already built flow (flows_dir, tests, a kernel's notebook cells)."""
        with self._lock:
            if not replace and flow.flow_id in self.flows:
                raise InvalidStateError(
                    f"Flow {flow.flow_id!r} already exists; DELETE /api/flows/{flow.flow_id} "
                    "first or choose another flow_id.",
                    detail={"flow_id": flow.flow_id},
                )
            self.flows.add(flow)
        return self.flow_dict(flow)

    def create_flow(self, request: FlowCreate) -> dict[str, Any]:
        spec = request.spec if request.spec is not None else parse_dsl_text(request.dsl or "")
        if not isinstance(spec, dict):
            raise ValidationError(
                "The flow spec must be a mapping with 'routines' and 'connections'.",
                detail={"field": "dsl" if request.dsl is not None else "spec"},
            )
        spec = dict(spec)
        if request.flow_id is not None:
            spec["flow_id"] = request.flow_id
        if request.execution_strategy is not None or request.max_workers is not None:
            execution = dict(spec.get("execution") or {})
            if request.execution_strategy is not None:
                execution["strategy"] = request.execution_strategy
            if request.max_workers is not None:
                execution["max_workers"] = request.max_workers
            spec["execution"] = execution
        if request.flow_id is None and spec.get("flow_id") is None:
            spec["flow_id"] = f"flow-{uuid.uuid4().hex[:8]}"
        if spec.get("flow_id") in self.flows:  # cheap check before building routines
            raise InvalidStateError(
                f"Flow {spec['flow_id']!r} already exists; DELETE /api/flows/{spec['flow_id']} "
                "first or choose another flow_id.",
                detail={"flow_id": spec["flow_id"]},
            )
        flow = Flow.from_dict(spec)
        result = self.add_flow(flow)
        problems = flow.validate()
        if problems:
            result["warnings"] = problems
        return result

    def delete_flow(self, flow_id: str) -> None:
        with self._lock:
            flow = self._flow(flow_id)
            live = [job.job_id for job in flow.live_jobs()]
            if live:
                raise InvalidStateError(
                    f"Flow {flow_id!r} has {len(live)} unfinished job(s); cancel them first "
                    "(POST /api/jobs/{job_id}/cancel).",
                    detail={"flow_id": flow_id, "jobs": live},
                )
            self.flows.remove(flow_id)
        self._monitoring.breakpoint_manager.clear_breakpoints(flow_id=flow_id)

    # -- jobs ---------------------------------------------------------------------------------

    def job_dict(self, job: JobState) -> dict[str, Any]:
        out = jsonable(job.to_dict())
        out["owner"] = self._info.to_dict()
        return out

    def list_jobs(self, flow_id: str | None, status: str | None) -> list[dict[str, Any]]:
        jobs = self.jobs.list_all() if flow_id is None else self.jobs.get_by_flow(flow_id)
        return [
            self.job_dict(job)
            for job in jobs
            if (flow_id is None or job.flow_id == flow_id)
            and (status is None or str(job.status) == status)
        ]

    def has_job(self, job_id: str) -> bool:
        return job_id in self.jobs

    def get_job(self, job_id: str) -> dict[str, Any]:
        return self.job_dict(self._job(job_id))

    def _check_location(self, flow: Flow, spec: BreakpointSpec) -> None:
        routine = flow.routines.get(spec.routine_id)
        if routine is None:
            raise ValidationError(
                f"Flow {flow.flow_id!r} has no routine {spec.routine_id!r}; its routines: "
                f"{sorted(flow.routines)}.",
                detail={"field": "routine_id", "routines": sorted(flow.routines)},
            )
        if spec.type == "slot" and routine.get_slot(spec.slot_name or "") is None:
            raise ValidationError(
                f"Routine {spec.routine_id!r} has no slot {spec.slot_name!r}; its slots: "
                f"{sorted(routine.slots)}.",
                detail={"field": "slot_name", "slots": sorted(routine.slots)},
            )
        if spec.type == "event" and routine.get_event(spec.event_name or "") is None:
            raise ValidationError(
                f"Routine {spec.routine_id!r} has no event {spec.event_name!r}; its events: "
                f"{sorted(routine.events)}.",
                detail={"field": "event_name", "events": sorted(routine.events)},
            )

    def _new_breakpoint(self, flow: Flow, job_id: str, spec: BreakpointSpec) -> Breakpoint:
        self._check_location(flow, spec)
        return Breakpoint(
            job_id=job_id, flow_id=flow.flow_id, type=spec.type, routine_id=spec.routine_id,
            slot_name=spec.slot_name, event_name=spec.event_name, condition=spec.condition,
            enabled=spec.enabled,
        )

    def start_job(self, request: JobStart) -> dict[str, Any]:
        flow = self._flow(request.flow_id)
        job_id = uuid.uuid4().hex
        # Build (and so validate) every breakpoint before anything runs or is registered.
        breakpoints = []
        for i, spec in enumerate(request.breakpoints):
            try:
                breakpoints.append(self._new_breakpoint(flow, job_id, spec))
            except ConditionError as exc:   # name the item, as request parsing does
                if isinstance(exc.detail, dict):
                    exc.detail = {**exc.detail, "field": f"breakpoints[{i}].condition"}
                raise
        manager = self._monitoring.breakpoint_manager
        for bp in breakpoints:
            manager.add_breakpoint(bp)
        try:
            job = flow.start(
                request.entry_routine_id,
                request.entry_params,
                entry_slot=request.entry_slot,
                job_id=job_id,
            )
        except Exception:
            manager.clear_breakpoints(job_id=job_id)
            raise
        self.jobs.add(job)
        job.add_done_callback(self._job_ended)
        # flow.start() returns with the job running; a short job may already have moved on, so
        # report the status it started with (GET the job for its current status).
        return {**self.job_dict(job), "status": "running"}

    def _job_ended(self, job: JobState) -> None:
        """Keep the newest ``max_finished_jobs`` finished jobs in memory (worker thread)."""
        with self._lock:
            self._finished[job.job_id] = None
            excess = len(self._finished) - self._max_finished
            # Pinned jobs stay (PUT /api/jobs/{id} {"pinned": true}); the oldest others go.
            old = [j for j in self._finished if not self._pinned(j)][:excess] if excess > 0 else []
        for job_id in old:
            self.forget_job(job_id)

    def _pinned(self, job_id: str) -> bool:
        job = self.jobs.get(job_id)
        return bool(job is not None and job.pinned)

    def forget_job(self, job_id: str) -> None:
        """Drop a finished job from memory (its record stays in the history, if any)."""
        self.jobs.remove(job_id)
        with self._lock:
            self._finished.pop(job_id, None)
        self._monitoring.breakpoint_manager.clear_breakpoints(job_id=job_id)
        self._monitoring.monitor_collector.clear(job_id)
        self._monitoring.debug_session_store.remove(job_id)

    def control_job(self, job_id: str, action: str) -> dict[str, Any]:
        job = self._job(job_id)
        flow = self._flow_of(job)
        status = str(job.status)
        if status in _TERMINAL:
            raise InvalidStateError(
                f"Job {job_id!r} is already {status}; it cannot {action} any more.",
                detail={"job_id": job_id, "status": status},
            )
        if action == "pause":
            if status != "paused":
                flow.pause(job)
        elif action == "resume":
            if status != "paused":
                raise InvalidStateError(
                    f"Job {job_id!r} is {status}, not paused; nothing to resume.",
                    detail={"job_id": job_id, "status": status},
                )
            session = self._monitoring.debug_session_store.get(job_id)
            if session is not None and session.is_paused:
                session.resume()  # also clears any pending step mode
            else:
                flow.resume(job)
        else:
            flow.cancel(job)
        return {"job_id": job_id, "status": str(job.status)}

    def get_metrics(self, job_id: str) -> dict[str, Any]:
        self._job(job_id)
        metrics = self._monitoring.monitor_collector.get_metrics(job_id)
        if metrics is None:
            raise NotFoundError(
                f"No metrics for job {job_id!r}: monitoring was off when it ran.",
                detail={"job_id": job_id},
            )
        return jsonable(metrics.to_dict())

    def get_trace(self, job_id: str, limit: int | None) -> dict[str, Any]:
        self._job(job_id)
        collector = self._monitoring.monitor_collector
        # Each event is bounded on its own: the list itself is the whole ring (or ``limit``).
        events = [jsonable(event.to_dict())
                  for event in collector.get_execution_trace(job_id, limit)]
        return {"events": events, "total": collector.ring_length(job_id)}

    # -- breakpoints --------------------------------------------------------------------------

    def list_breakpoints(self, job_id: str) -> dict[str, Any]:
        job = self._job(job_id)
        found = self._monitoring.breakpoint_manager.get_breakpoints(
            job_id=job_id, flow_id=job.flow_id
        )
        items = [jsonable(bp.to_dict()) for bp in found]
        return {"breakpoints": items, "total": len(items)}

    def add_breakpoint(self, job_id: str, spec: BreakpointSpec) -> dict[str, Any]:
        job = self._job(job_id)
        bp = self._new_breakpoint(self._flow_of(job), job_id, spec)
        return jsonable(self._monitoring.breakpoint_manager.add_breakpoint(bp).to_dict())

    def update_breakpoint(
        self, job_id: str, breakpoint_id: str, patch: BreakpointPatch
    ) -> dict[str, Any]:
        self._job(job_id)
        kwargs: dict[str, Any] = {"enabled": patch.enabled, "job_id": job_id}
        if patch.set_condition:
            kwargs["condition"] = patch.condition
        bp = self._monitoring.breakpoint_manager.update(breakpoint_id, **kwargs)
        return jsonable(bp.to_dict())

    def remove_breakpoint(self, job_id: str, breakpoint_id: str) -> None:
        self._job(job_id)
        self._monitoring.breakpoint_manager.remove_breakpoint(breakpoint_id, job_id=job_id)

    # -- debugging ----------------------------------------------------------------------------

    def _session(self, job_id: str, what: str) -> Any:
        job = self._job(job_id)
        session = self._monitoring.debug_session_store.get(job_id)
        if session is None:
            raise InvalidStateError(
                f"Cannot {what}: job {job_id!r} is {job.status}, not paused in the debugger; "
                "set a breakpoint or pause it first.",
                detail={"job_id": job_id, "status": str(job.status)},
            )
        return session

    def debug_session(self, job_id: str) -> dict[str, Any]:
        job = self._job(job_id)
        session = self._monitoring.debug_session_store.get(job_id)
        if session is None:
            return {"job_id": job_id, "status": str(job.status), "paused_at": None}
        return jsonable(session.to_dict())

    def debug_step(self, job_id: str, step: str) -> dict[str, Any]:
        session = self._session(job_id, step.replace("_", " "))
        return jsonable(getattr(session, step)())

    def get_variables(self, job_id: str) -> dict[str, Any]:
        job = self._job(job_id)
        session = self._monitoring.debug_session_store.get(job_id)
        if session is None:
            variables = {"local": {}, "shared": summarize_mapping(dict(job.shared_data))}
        else:
            variables = session.variables()
        return {"variables": jsonable(variables)}

    def set_variable(self, job_id: str, edit: VariableEdit) -> dict[str, Any]:
        session = self._session(job_id, "set a variable")
        return jsonable(session.set_variable(edit.name, edit.value, edit.scope))

    def get_call_stack(self, job_id: str) -> dict[str, Any]:
        self._job(job_id)
        session = self._monitoring.debug_session_store.get(job_id)
        if session is None:
            return {"frames": []}
        return jsonable(session.call_stack())

    # -- lifecycle ----------------------------------------------------------------------------

    def cancel_all(self) -> None:
        """Cancel every unfinished job (server shutdown)."""
        jobs = [job for job in self.jobs.list_all() if str(job.status) not in _TERMINAL]
        for job in jobs:
            flow = self.flows.get(job.flow_id)
            if flow is None:
                continue
            try:
                flow.cancel(job, "server shutdown")
            except (InvalidStateError, NotFoundError):
                pass
