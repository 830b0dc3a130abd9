"""MonitoringHooks: the one engine observer that monitoring installs.

Budget: with monitoring on, a hop may cost at most twice a hop with it off (DESIGN.md §9), and
the engine's own hooked path already spends much of that. So each hop hook does the least that
keeps the contract: find the job's record (cached on the JobState as ``_monitor_rec``) and append
one short tuple of values that already exist to its buffer; counts, metrics, payload summaries
and event objects are derived only when read (see :mod:`~routilux.monitoring.job_record`). For a
sequential job every hop hook runs on that job's single worker, so the append needs no lock;
concurrent jobs and recording while live subscribers exist take the record's lock. Breakpoint
and debugger work happens only when a breakpoint or a debug session exists.
"""

from __future__ import annotations

import threading
import weakref
from time import perf_counter as _clock
from typing import TYPE_CHECKING, Any

from routilux.hooks import ExecutionHooks
from routilux.monitoring.debugger import WorkerDebugger
from routilux.monitoring.job_record import full

if TYPE_CHECKING:
    from routilux.flow import Flow
    from routilux.job_state import JobState
    from routilux.monitoring.breakpoint_manager import Breakpoint
    from routilux.monitoring.registry import MonitoringRegistry
    from routilux.runtime import Activation

__all__ = ["MonitoringHooks"]


class MonitoringHooks(ExecutionHooks):
    """Feeds the collector, checks breakpoints, drives debug sessions, publishes live events."""

    def __init__(self, registry: MonitoringRegistry) -> None:
        self.registry = registry
        self.collector = registry.monitor_collector
        self.breakpoints = registry.breakpoint_manager
        self.sessions = registry.debug_session_store
        self._em = self.collector.event_manager
        self._jobs = self.collector._jobs
        self._session_map = self.sessions._sessions
        self.debugger = WorkerDebugger(self.breakpoints, self.sessions, self._record_hit)
        # What the hop hooks check, kept current by the breakpoint manager and the session
        # store (they call _refresh on every change), so "nothing to debug" is one attribute.
        self._refresh_lock = threading.Lock()
        self._debugging = False        # any breakpoint or debug session at all
        self._bp_routines: frozenset[str] = frozenset()
        self._bp_events: frozenset[str] | None = None   # None: no event breakpoint anywhere
        self.breakpoints._listeners.append(self._refresh)
        self.sessions._listeners.append(self._refresh)
        self._refresh()

    def _refresh(self) -> None:
        """Breakpoints or debug sessions changed: recompute what the hop hooks check."""
        with self._refresh_lock:
            bm = self.breakpoints
            self._bp_routines = bm.routine_ids
            self._bp_events = bm.event_routine_ids or None
            self._debugging = bm.active or bool(self._session_map)
            self.gates_activations = self._debugging   # else the engine skips before_activation

    def _rec(self, job_state: JobState) -> Any:
        """The job's record in this registry's collector (slow path; caches it on the job)."""
        rec = self._jobs.get(job_state.job_id)
        if rec is None:
            rec = self.collector.record_for(job_state.job_id, job_state.flow_id)
        if rec.job_ref is None:
            rec.job_ref = weakref.ref(job_state)
        job_state._monitor_rec = rec  # type: ignore[attr-defined]
        return rec

    # ---- job level (rare: always under the record's lock) --------------------------------
    def on_job_start(self, *, job_state: JobState, flow: Flow) -> None:
        fork = getattr(job_state, "forked_from", None)   # a fork's trace names its parent
        rec = self.collector.job_started(
            job_state.job_id, job_state.flow_id, len(flow.routines),
            {"parent_job_id": fork["job_id"], "forked_from": dict(fork)} if fork else None)
        rec.job_ref = weakref.ref(job_state)
        runtime = job_state.runtime
        # One worker per job => hop hooks never race each other => lock-free appends.
        self.collector.set_locked(rec, runtime is None or runtime.max_workers != 1)
        job_state._monitor_rec = rec  # type: ignore[attr-defined]
        store = self.registry.history_store
        if store is not None:
            store.record_job(job_state.to_dict())

    def on_job_status(self, *, job_state: JobState, flow: Flow, status: str) -> None:
        rec = self._rec(job_state)
        runtime = job_state.runtime
        # The session first, then the events: a client acting on job_paused (or on the
        # breakpoint_hit published with it) must find the session paused already.
        session = self._session_map.get(job_state.job_id)
        hit = None
        if session is not None:
            session._note_status(status, job_state)
            if status == "paused":
                hit = session._take_pending_hit()
        # breakpoint_hit and job_paused back to back: a controller that steps on the first one
        # records its job_resumed (under this lock) after both.
        with rec.lock:
            if hit is not None:
                hit()
            self.collector.job_status(job_state.job_id, status,
                                      runtime.pause_reason if runtime is not None else None)
        if session is not None and status == "running":
            session._resume_recorded()   # a worker released by the debugger may go on now

    def on_job_end(self, *, job_state: JobState, flow: Flow) -> None:
        job_id = job_state.job_id
        self._rec(job_state)
        status = str(job_state.status)
        session = self._session_map.get(job_id)
        if session is not None:   # before the terminal event is published (see on_job_status)
            session._note_status(status, job_state)
        self.collector.job_ended(job_id, status, job_state.error)
        store = self.registry.history_store
        if store is not None:
            collector = self.collector
            # Snapshot now (cheap); summarise and write on the store's writer thread.
            store.record_job(job_state.to_dict())
            metrics = collector.get_metrics(job_id)
            store.record_metrics(job_id, metrics.to_dict if metrics is not None else {})
            store.record_events(job_id, collector.trace_producer(job_id))
            record_inputs = getattr(store, "record_inputs", None)
            if record_inputs is not None:
                record_inputs(job_id, collector.inputs_producer(job_id))

    # ---- hops (hot: keep every line here cheap) -------------------------------------------
    # A job is recorded by the registry whose hooks saw it start: its record is cached on the
    # JobState, so a hop finds it with one attribute read (AttributeError: first sight). Each
    # hook extends the flat buffer by one event of values that already exist (layouts in
    # job_record): no
    # seq, no counter, no metric, no copy; routine events reuse the engine's clock reads
    # (activation.t0, duration). The two hooks that end a hop's work check the buffer's
    # high-water mark, so it is folded and trimmed in chunks.

    def on_slot_call(
        self, *, job_state: JobState, routine_id: str, slot_name: str, data: dict[str, Any],
        source: Activation | None,
    ) -> None:
        try:
            rec = job_state._monitor_rec  # type: ignore[attr-defined]
        except AttributeError:
            rec = self._rec(job_state)
        entry = (_clock(), "slot_call", routine_id, data, slot_name,
                 source.activation_id if source is not None else None)
        if rec.fast:
            ring = rec.ring
            ring += entry
            if not rec.fast:  # a subscriber registered while we appended
                self.collector.publish_late(rec, entry)
        else:
            self.collector.append_locked(rec, entry)

    def before_activation(self, *, activation: Activation) -> None:
        if self._debugging and (
            activation.routine_id in self._bp_routines
            or (self._session_map and activation.runtime.job_state.job_id in self._session_map)
        ):
            self.debugger.before_activation(activation)

    def on_routine_start(self, *, activation: Activation) -> None:
        js = activation.runtime.job_state
        try:
            rec = js._monitor_rec  # type: ignore[attr-defined]
        except AttributeError:
            rec = self._rec(js)
        # The last field holds (input, source activation id, shared snapshot or None): the
        # recorded input is the delivered dict itself, no copy (monitoring.recorded); the id of
        # the activation whose emit fed this one is an int that already exists (the causal edge
        # OTel links follow); shared data is copied shallowly only when the job has any.
        shared = js.shared_data
        parent = activation.parent
        entry = (activation.t0, "routine_start", activation.routine_id, activation.slot.name,
                 activation.activation_id,
                 (activation.data, parent.activation_id if parent is not None else None,
                  dict(shared) if shared else None))
        if rec.fast:
            ring = rec.ring
            ring += entry
            if not rec.fast:
                self.collector.publish_late(rec, entry)
        else:
            self.collector.append_locked(rec, entry)

    def on_routine_end(
        self, *, activation: Activation, duration: float, error: BaseException | None
    ) -> None:
        try:
            rec = activation.runtime.job_state._monitor_rec  # type: ignore[attr-defined]
        except AttributeError:
            rec = self._rec(activation.runtime.job_state)
        if error is None:
            entry: tuple[Any, ...] = (activation.t0, "routine_complete", activation.routine_id,
                                      activation.slot.name, activation.activation_id, duration)
        else:
            entry = self._error_entry(rec, activation, duration, error)
        if rec.fast:
            ring = rec.ring
            ring += entry
            if not rec.fast:
                self.collector.publish_late(rec, entry)
            elif len(ring) > rec.high:
                self.collector.trim(rec)
        else:
            self.collector.append_locked(rec, entry)
        if self._debugging and self._session_map and (
            activation.runtime.job_state.job_id in self._session_map
        ):  # (sessions outlive their jobs: a stale one must not cost other jobs a call)
            self.debugger.routine_ended(activation)

    def _error_entry(
        self, rec: Any, activation: Activation, duration: float, error: BaseException
    ) -> tuple[Any, ...]:
        t_end = activation.t0 + duration
        rid, slot_name = activation.routine_id, activation.slot.name
        self.collector.note_error(rec, rid, slot_name, t_end, error)
        return full(t_end, "routine_error", rid, None, duration, "failed", slot_name, None,
                    activation.activation_id, {"error": f"{type(error).__name__}: {error}"[:1000]})

    def on_event_emit(
        self, *, activation: Activation | None, job_state: JobState, routine_id: str,
        event_name: str, data: dict[str, Any],
    ) -> None:
        try:
            rec = job_state._monitor_rec  # type: ignore[attr-defined]
        except AttributeError:
            rec = self._rec(job_state)
        events = self._bp_events   # read once: the copy and the debugger call must agree
        steer = events is not None and routine_id in events
        # An event breakpoint may pause here and edit the dict about to be delivered: keep
        # what was emitted.
        entry = (_clock(), "event_emit", routine_id, data.copy() if steer else data, event_name,
                 activation.activation_id if activation is not None else None)
        if rec.fast:
            ring = rec.ring
            ring += entry
            if not rec.fast:
                self.collector.publish_late(rec, entry)
            elif len(ring) > rec.high:
                self.collector.trim(rec)
        else:
            self.collector.append_locked(rec, entry)
        if steer:
            self.debugger.event_emitted(activation, job_state, routine_id, event_name, data)

    def _record_hit(
        self, job_state: JobState, activation: Activation | None, bp: Breakpoint,
        location: dict[str, Any],
    ) -> None:
        rec = self._rec(job_state)
        extra = {"breakpoint_id": bp.breakpoint_id, "hit_count": bp.hit_count,
                 "breakpoint_type": bp.type, "condition": bp.condition, "location": dict(location)}
        self.collector.record(
            rec, "breakpoint_hit", location.get("routine_id"), None, None, "paused",
            location.get("slot_name"), location.get("event_name"),
            activation.activation_id if activation is not None else None, extra,
        )
