"""The views' data source over ``routilux.monitoring`` (collector, breakpoints, debug sessions).

A source follows one job: either the job it was given ("pinned"), or, for a flow, the flow's
newest job ("follow": a ``job_start`` of another job of the flow switches to it). Events arrive
through a :class:`~routilux.monitoring.event_manager.JobEventManager` subscription whose
``notify`` only marks the view dirty; the flush thread drains the queue (counting emits per
``routine.event`` to light edges) and reads metrics, trace, breakpoints and the debug session.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable

from routilux.errors import InvalidStateError, NotFoundError, ValidationError
from routilux.monitoring import MonitoringRegistry
from routilux.service.jsonable import jsonable

from . import _timetravel
from ._flows import find_flow
from ._protocol import Graph, JobInfo, TraceEvent, TracePage
from ._source import Snapshot, empty_debug

if TYPE_CHECKING:
    from routilux.flow import Flow
    from routilux.job_state import JobState
    from routilux.monitoring.event_manager import Subscription

__all__ = ["MonitoringSource"]

TERMINAL = frozenset({"completed", "failed", "cancelled", "lost"})
QUEUE = 4096           # events buffered between two flushes (10 Hz) before a gap is reported
MAX_ERRORS = 20        # job errors carried in the metrics trait
_TRACE_DROP = ("type", "job_id", "flow_id")


class MonitoringSource:
    """Reads and steers one job (or the newest job of one flow) through monitoring."""

    def __init__(
        self, flow: Flow | None, job: JobState | None, *, follow_latest: bool,
        registry: MonitoringRegistry | None = None,
    ) -> None:
        if flow is None and job is not None:
            flow = find_flow(job)
        if flow is None:
            raise ValidationError(
                f"Cannot find flow {getattr(job, 'flow_id', '?')!r} of this job (it was built before "
                "routilux_jupyter.widgets was imported); pass it: JobView(job_state, flow=flow)"
            )
        # A view is useless without monitoring; turning it on here is what the user asked for.
        self.registry = registry or MonitoringRegistry.get_instance()
        if not self.registry.is_enabled():
            self.registry.enable()
        self.flow = flow
        self.flow_id: str = flow.flow_id
        self.follow = follow_latest
        self._lock = threading.RLock()
        self._sub: Subscription | None = None
        self._notify: Callable[[], None] | None = None
        self._job: JobState | None = None
        self._job_id: str | None = None
        self._emits: dict[tuple[str, str], int] = {}
        self._active: dict[str, int] = {}  # routine id -> handlers running (from the stream)
        self.gaps = 0
        if job is not None:
            self._select(job.job_id, job, seed=not follow_latest)
        elif follow_latest:
            latest = self._latest_job_id()
            if latest is not None:
                self._select(latest, flow.get_job(latest), seed=True)

    # ---- which job ---------------------------------------------------------------------------
    @property
    def job_id(self) -> str | None:
        return self._job_id

    def _latest_job_id(self) -> str | None:
        live = self.flow.live_jobs()
        if live:
            return live[-1].job_id
        collector = self.registry.monitor_collector
        for job_id in reversed(collector.list_jobs()):
            metrics = collector.get_metrics(job_id)
            if metrics is not None and metrics.flow_id == self.flow_id:
                return job_id
        return None

    def _select(self, job_id: str, job: JobState | None, *, seed: bool) -> None:
        """Follow ``job_id`` from now on (caller holds the lock or is the constructor)."""
        self._job_id = job_id
        self._job = job
        self._emits = {}
        self._active = {}
        if seed:
            for event in self.registry.monitor_collector.get_execution_trace(job_id):
                self._count(event.event_type, event.routine_id, event.event_name)
        if job is not None and str(job.status) not in TERMINAL:
            # A session lets a manual pause be stepped from the panel (the hooks keep it current).
            session = self.registry.debug_session_store.get_or_create(job_id)
            if str(job.status) == "paused" and not session.is_paused:
                session._note_status("paused", job)

    def _count(self, event_type: str | None, routine_id: str | None, event_name: str | None) -> None:
        if not routine_id:
            return
        if event_type == "event_emit" and event_name:
            key = (routine_id, event_name)
            self._emits[key] = self._emits.get(key, 0) + 1
        elif event_type == "routine_start":
            self._active[routine_id] = self._active.get(routine_id, 0) + 1
        elif event_type in ("routine_complete", "routine_error"):
            left = self._active.get(routine_id, 0) - 1
            if left > 0:
                self._active[routine_id] = left
            else:
                self._active.pop(routine_id, None)

    # ---- ViewSource --------------------------------------------------------------------------
    def graph(self) -> Graph:
        spec = self.flow.describe()
        nodes = [
            {"id": rid, "class_name": r.get("class_name", ""), "slots": list(r.get("slots", [])),
             "events": list(r.get("events", []))}
            for rid, r in spec["routines"].items()
        ]
        edges = [
            {"id": c["connection_id"], "source": c["source_routine"], "event": c["source_event"],
             "target": c["target_routine"], "slot": c["target_slot"]}
            for c in spec["connections"]
        ]
        return {"flow_id": self.flow_id, "nodes": nodes, "edges": edges}  # type: ignore[typeddict-item]

    def attach(self, notify: Callable[[], None]) -> None:
        manager = self.registry.event_manager
        with self._lock:
            if self._sub is not None:
                return
            self._notify = notify
            if self.follow:
                self._sub = manager.subscribe_flow(self.flow_id, QUEUE, notify=notify)
            elif self._job_id is not None:
                # History is already counted by _select(seed=True); only live events from here.
                self._sub = manager.subscribe(self._job_id, QUEUE, notify=notify, history=False)

    def detach(self) -> None:
        with self._lock:
            sub, self._sub = self._sub, None
        if sub is not None:
            self.registry.event_manager.unsubscribe(sub)

    def _drain(self) -> None:
        sub = self._sub
        if sub is None:
            return
        for event in sub.drain():
            if event.get("type") == "gap":
                self.gaps += int(event.get("dropped", 0))
                continue
            job_id = event.get("job_id")
            if self.follow and job_id != self._job_id:
                if event.get("event_type") != "job_start":
                    continue  # a late event of a job we no longer follow
                self._select(job_id, self.flow.get_job(job_id), seed=False)
            self._count(event.get("event_type"), event.get("routine_id"), event.get("event_name"))

    def snapshot(self, trace_limit: int) -> Snapshot:
        with self._lock:
            self._drain()
            job_id, job = self._job_id, self._job
            emits = dict(self._emits)
            active = list(self._active)
        if job_id is None:
            bps = self.registry.breakpoint_manager.get_breakpoints(flow_id=self.flow_id)
            return Snapshot(breakpoints=[jsonable(bp.to_dict()) for bp in bps])
        collector = self.registry.monitor_collector
        metrics = collector.get_metrics(job_id)
        info = self._job_info(job_id, job, metrics)
        status = info.get("status", "pending")
        routine_metrics: dict[str, dict[str, Any]] = {}
        states: dict[str, str] = {}
        if job is not None:
            states = {rid: str(st.get("status", "pending")) for rid, st in list(job.routine_states.items())}
        summary: dict[str, Any] = {}
        if metrics is not None:
            for rid, rm in metrics.routine_metrics.items():
                routine_metrics[rid] = jsonable(rm.to_dict())
                if rm.status == "running" or rid not in states:
                    states[rid] = rm.status
            summary = metrics.to_dict()
            summary.pop("routine_metrics", None)
            summary["errors"] = jsonable(summary.get("errors", [])[-MAX_ERRORS:])
            summary = jsonable(summary)
        if status not in TERMINAL:
            for rid in active:  # the stream knows a handler started before the metrics do
                states[rid] = "running"
        trace: list[TraceEvent] = []
        if trace_limit:
            trace = [_trace_event(e.to_dict()) for e in collector.get_execution_trace(job_id, trace_limit)]
        bps = self.registry.breakpoint_manager.get_breakpoints(job_id=job_id, flow_id=self.flow_id)
        final = status in TERMINAL and not self.follow
        return Snapshot(
            job=info, routine_states=states, routine_metrics=routine_metrics, metrics=summary,
            emit_counts=emits, trace=trace,
            trace_total=int(summary.get("total_events", len(trace)) or 0),
            breakpoints=[jsonable(bp.to_dict()) for bp in bps],
            debug=self._debug_state(job_id, job, status), final=final,
        )

    def _job_info(self, job_id: str, job: JobState | None, metrics: Any) -> JobInfo:
        if job is not None:
            d = job.to_dict()
            return jsonable({k: d.get(k) for k in (
                "job_id", "flow_id", "status", "created_at", "started_at", "completed_at", "error",
                "executor", "executor_info",
                "parent_job_id", "forked_from", "replay_of", "label", "pinned")})
        status = metrics.status if metrics is not None else "pending"
        m = metrics.to_dict() if metrics is not None else {}
        return {"job_id": job_id, "flow_id": self.flow_id, "status": str(status), "created_at": None,
                "started_at": m.get("start_time"), "completed_at": m.get("end_time"), "error": None}

    def _debug_state(self, job_id: str, job: JobState | None, status: str) -> Any:
        if status != "paused":
            return empty_debug()
        session = self.registry.debug_session_store.get(job_id)
        if session is None or not session.is_paused:
            shared = dict(job.shared_data) if job is not None else {}
            return {"paused_at": {"routine_id": None, "reason": "pause"},
                    "variables": {"local": {}, "shared": jsonable(shared)}, "call_stack": []}
        info = session.to_dict()
        paused_at = dict(info.get("paused_at") or {})
        paused_at["reason"] = info.get("pause_reason")
        return jsonable({
            "paused_at": paused_at,
            "variables": session.variables(),
            "call_stack": session.call_stack().get("frames", []),
        })

    def page_trace(self, before: str | None, limit: int) -> TracePage:
        job_id = self._job_id
        if job_id is None:
            return {"events": [], "has_more": False}
        events = self.registry.monitor_collector.get_execution_trace(job_id)
        if before is not None:
            seq = _seq_of(before)
            events = [e for e in events if e.seq < seq]
        page = events[-limit:]
        return {"events": [_trace_event(e.to_dict()) for e in page], "has_more": len(events) > len(page)}

    # ---- commands ----------------------------------------------------------------------------
    def command(self, action: str, args: dict[str, Any]) -> Any:
        handler = getattr(self, f"_do_{action}", None)
        if handler is None:
            raise ValidationError(f"action {action!r} is not supported by this view")
        return handler(args)

    # Time travel (see _timetravel): open an activation, re-run from it, compare with a job.
    _do_activation = _timetravel.activation
    _do_rerun = _timetravel.rerun
    _do_flow_jobs = _timetravel.flow_jobs
    _do_compare = _timetravel.compare_with

    def _live_job(self, what: str) -> JobState:
        with self._lock:
            job, job_id = self._job, self._job_id
            if job is None and job_id is not None:
                job = self._job = self.flow.get_job(job_id)
        if job is None:
            if job_id is None:
                raise InvalidStateError(f"cannot {what}: no job of flow {self.flow_id!r} has started yet")
            status = self.registry.monitor_collector.get_job_status(job_id)
            if status in TERMINAL:
                raise InvalidStateError(f"cannot {what}: job {job_id} is already {status}")
            raise InvalidStateError(f"cannot {what}: job {job_id} is no longer running in this kernel")
        status = str(job.status)
        if status in TERMINAL:
            raise InvalidStateError(f"cannot {what}: job {job.job_id} is already {status}")
        return job

    def _do_pause(self, args: dict[str, Any]) -> dict[str, Any]:
        job = self._live_job("pause")
        if str(job.status) != "paused":
            self.flow.pause(job, args.get("reason") or "paused from the notebook view")
        return {"job_id": job.job_id, "status": str(job.status)}

    def _do_resume(self, args: dict[str, Any]) -> dict[str, Any]:
        job = self._live_job("resume")
        if str(job.status) != "paused":
            raise InvalidStateError(f"cannot resume: job {job.job_id} is {job.status}, not paused")
        session = self.registry.debug_session_store.get(job.job_id)
        if session is not None and session.is_paused:
            session.resume()
        else:
            self.flow.resume(job)
        return {"job_id": job.job_id, "status": str(job.status)}

    _do_continue = _do_resume

    def _do_cancel(self, args: dict[str, Any]) -> dict[str, Any]:
        job = self._live_job("cancel")
        self.flow.cancel(job, args.get("reason") or "cancelled from the notebook view")
        return {"job_id": job.job_id, "status": str(job.status)}

    def _session(self, what: str) -> Any:
        job = self._live_job(what)
        session = self.registry.debug_session_store.get(job.job_id)
        if session is None or not session.is_paused:
            raise InvalidStateError(
                f"cannot {what}: job {job.job_id} is {job.status}, not paused in the debugger; "
                "set a breakpoint or press Pause first"
            )
        return session

    def _do_step_over(self, args: dict[str, Any]) -> Any:
        return jsonable(self._session("step over").step_over())

    def _do_step_into(self, args: dict[str, Any]) -> Any:
        return jsonable(self._session("step into").step_into())

    def _do_step_out(self, args: dict[str, Any]) -> Any:
        return jsonable(self._session("step out").step_out())

    def _do_set_variable(self, args: dict[str, Any]) -> Any:
        name = args.get("name")
        if not isinstance(name, str) or not name:
            raise ValidationError("set_variable needs the variable's name")
        session = self._session("set a variable")
        return jsonable(session.set_variable(name, args.get("value"), str(args.get("scope") or "local")))

    def _do_add_breakpoint(self, args: dict[str, Any]) -> Any:
        kind = str(args.get("type") or "routine")
        routine_id = str(args.get("routine_id") or "")
        slot_name = args.get("slot_name") or None
        event_name = args.get("event_name") or None
        self._check_location(kind, routine_id, slot_name, event_name)
        condition = args.get("condition")
        condition = str(condition) if condition not in (None, "") else None
        with self._lock:
            # Following a flow: the breakpoint applies to its every job (the next one included).
            job_id = None if self.follow else self._job_id
        bp = self.registry.breakpoint_manager.set_breakpoint(
            job_id=job_id, flow_id=self.flow_id, routine_id=routine_id, type=kind,
            slot_name=slot_name if kind == "slot" else None,
            event_name=event_name if kind == "event" else None,
            condition=condition, enabled=bool(args.get("enabled", True)),
        )
        return jsonable(bp.to_dict())

    def _check_location(self, kind: str, routine_id: str, slot: str | None, event: str | None) -> None:
        routine = self.flow.routines.get(routine_id)
        if routine is None:
            raise ValidationError(
                f"flow {self.flow_id!r} has no routine {routine_id!r}; pick one of {sorted(self.flow.routines)}"
            )
        if kind == "slot" and routine.get_slot(slot or "") is None:
            raise ValidationError(f"routine {routine_id!r} has no slot {slot!r}; its slots: {sorted(routine.slots)}")
        if kind == "event" and routine.get_event(event or "") is None:
            raise ValidationError(f"routine {routine_id!r} has no event {event!r}; its events: {sorted(routine.events)}")

    def _breakpoint_id(self, args: dict[str, Any]) -> str:
        bid = args.get("breakpoint_id")
        if not isinstance(bid, str) or not bid:
            raise ValidationError("this command needs breakpoint_id")
        return bid

    def _do_remove_breakpoint(self, args: dict[str, Any]) -> Any:
        return jsonable(self.registry.breakpoint_manager.remove_breakpoint(self._breakpoint_id(args)).to_dict())

    def _do_toggle_breakpoint(self, args: dict[str, Any]) -> Any:
        manager = self.registry.breakpoint_manager
        bid = self._breakpoint_id(args)
        enabled = args.get("enabled")
        if enabled is None:
            enabled = not manager.get_breakpoint(bid).enabled
        return jsonable(manager.update(bid, enabled=bool(enabled)).to_dict())

    def _do_update_breakpoint(self, args: dict[str, Any]) -> Any:
        if "condition" not in args:
            raise ValidationError("update_breakpoint needs condition (null removes it)")
        condition = args["condition"]
        condition = str(condition) if condition not in (None, "") else None
        return jsonable(self.registry.breakpoint_manager.update(self._breakpoint_id(args), condition=condition).to_dict())


def _seq_of(event_id: str) -> int:
    try:
        return int(str(event_id).rsplit(":", 1)[-1])
    except ValueError:
        raise NotFoundError(f"unknown trace event id {event_id!r}; page from an id the view showed") from None


def _trace_event(d: dict[str, Any]) -> TraceEvent:
    for key in _TRACE_DROP:
        d.pop(key, None)
    return jsonable(d)  # type: ignore[no-any-return]
