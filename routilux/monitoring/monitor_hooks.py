"""MonitoringHooks: the one engine observer that monitoring installs.

Budget: with monitoring on, a hop may cost at most twice a hop with it off (DESIGN.md §9), and
the engine's own hooked path already spends much of that. So each hop hook does the least that
keeps the contract: find the job's record (cached on the JobState as ``_monitor_rec``), append
one tuple to its ring, bump an ``itertools.count``; payload summaries and event objects are built
only when read (the payload dict itself is copied shallowly, once per hop, so later changes to it
do not rewrite the trace). For a sequential job every hop hook runs on that job's single worker, so the
append needs no lock (see :class:`~routilux.monitoring.monitor_collector._JobRecord`); concurrent
jobs and recording while live subscribers exist take the record's lock. Breakpoint and debugger
work happens only when a breakpoint or a debug session exists.
"""

from __future__ import annotations

import threading
import weakref
from time import perf_counter as _clock
from typing import TYPE_CHECKING, Any

from routilux.hooks import ExecutionHooks
from routilux.monitoring.debugger import WorkerDebugger

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
        rec = self.collector.job_started(job_state.job_id, job_state.flow_id, len(flow.routines))
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

    # ---- hops (hot: keep every line here cheap) -------------------------------------------
    # A job is recorded by the registry whose hooks saw it start: its record is cached on the
    # JobState, so a hop finds it with one attribute read (AttributeError: first sight). Each
    # hook appends one short tuple to the ring (layouts in job_record); routine events reuse the
    # engine's clock reads (activation.t0, duration) instead of reading the clock again.

    def on_slot_call(
        self, *, job_state: JobState, routine_id: str, slot_name: str, data: dict[str, Any],
        source: Activation | None,
    ) -> None:
        try:
            rec = job_state._monitor_rec  # type: ignore[attr-defined]
        except AttributeError:
            rec = self._rec(job_state)
        src = source.activation_id if source is not None else None
        # A shallow copy: the handler (or a debugger's set_variable) may change the payload
        # later, and the trace must show what was delivered (summarised only when read). A
        # delivery right after an emit gets the emitted dict itself: reuse the emit's copy.
        if rec.fast:
            data = rec.emitted_copy if rec.emitted is data else data.copy()
            entry = (next(rec.counter), _clock(), "slot_call", routine_id, data, slot_name, src)
            rec.ring.append(entry)
            next(rec.slot_counter)
            if not rec.fast:  # a subscriber registered while we appended
                self.collector.publish_late(rec, entry)
        else:
            self.collector.append_locked(
                rec, (_clock(), "slot_call", routine_id, data.copy(), slot_name, src),
                rec.slot_counter)

    def before_activation(self, *, activation: Activation) -> None:
        if self._debugging and (
            activation.routine_id in self._bp_routines
            or (self._session_map and activation.runtime.job_state.job_id in self._session_map)
        ):
            self.debugger.before_activation(activation)

    def on_routine_start(self, *, activation: Activation) -> None:
        try:
            rec = activation.runtime.job_state._monitor_rec  # type: ignore[attr-defined]
        except AttributeError:
            rec = self._rec(activation.runtime.job_state)
        if rec.fast:
            entry = (next(rec.counter), activation.t0, "routine_start", activation.routine_id,
                     activation.slot.name, activation.activation_id)
            rec.ring.append(entry)
            if not rec.fast:
                self.collector.publish_late(rec, entry)
        else:
            self.collector.append_locked(rec, (activation.t0, "routine_start", activation.routine_id,
                                               activation.slot.name, activation.activation_id))

    def on_routine_end(
        self, *, activation: Activation, duration: float, error: BaseException | None
    ) -> None:
        try:
            rec = activation.runtime.job_state._monitor_rec  # type: ignore[attr-defined]
        except AttributeError:
            rec = self._rec(activation.runtime.job_state)
        t0 = activation.t0   # the handler ended at t0 + duration (the engine's own clock reads)
        rid = activation.routine_id
        if error is None and rec.fast:
            # The common case, inlined: a successful activation of a sequential job, nobody
            # listening live. Metrics: (count, total, min, max, errors, last_t0, last_duration).
            routines = rec.routines
            m = routines.get(rid)
            if m is None:
                routines[rid] = (1, duration, duration, duration, 0, t0, duration)
            else:
                count, total, low, high, errors, _, _ = m
                routines[rid] = (count + 1, total + duration, duration if duration < low else low,
                                 duration if duration > high else high, errors, t0, duration)
            entry = (next(rec.counter), t0, "routine_complete", rid, activation.slot.name,
                     activation.activation_id, duration)
            rec.ring.append(entry)
            if not rec.fast:
                self.collector.publish_late(rec, entry)
        else:
            self._routine_end_slow(rec, activation, duration, error, t0)
        if self._debugging and self._session_map and (
            activation.runtime.job_state.job_id in self._session_map
        ):  # (sessions outlive their jobs: a stale one must not cost other jobs a call)
            self.debugger.routine_ended(activation)

    def _routine_end_slow(
        self, rec: Any, activation: Activation, duration: float, error: BaseException | None,
        t0: float,
    ) -> None:
        rid, slot_name = activation.routine_id, activation.slot.name
        with rec.lock:
            self.collector.update_routine(rec, rid, slot_name, duration, t0, error)
        if error is None:
            fields: tuple[Any, ...] = (t0, "routine_complete", rid, slot_name,
                                       activation.activation_id, duration)
        else:
            fields = (t0 + duration, "routine_error", rid, None, duration, "failed", slot_name,
                      None, activation.activation_id,
                      {"error": f"{type(error).__name__}: {error}"[:1000]})
        if not rec.fast:
            self.collector.append_locked(rec, fields)
        else:
            entry = (next(rec.counter), *fields)
            rec.ring.append(entry)
            if not rec.fast:
                self.collector.publish_late(rec, entry)

    def on_event_emit(
        self, *, activation: Activation | None, job_state: JobState, routine_id: str,
        event_name: str, data: dict[str, Any],
    ) -> None:
        try:
            rec = job_state._monitor_rec  # type: ignore[attr-defined]
        except AttributeError:
            rec = self._rec(job_state)
        act_id = activation.activation_id if activation is not None else None
        copy = data.copy()   # the receivers get this very dict: keep what was emitted
        if rec.fast:
            # One writer (the job's worker), so the pair cannot be mixed up between threads.
            rec.emitted = data
            rec.emitted_copy = copy
            entry = (next(rec.counter), _clock(), "event_emit", routine_id, copy, event_name,
                     act_id)
            rec.ring.append(entry)
            next(rec.emit_counter)
            if not rec.fast:
                self.collector.publish_late(rec, entry)
        else:
            self.collector.append_locked(
                rec, (_clock(), "event_emit", routine_id, copy, event_name, act_id),
                rec.emit_counter)
        events = self._bp_events
        if events is not None and routine_id in events:
            rec.emitted = None   # a breakpoint may pause here and edit the payload: copy again
            rec.emitted_copy = None
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
