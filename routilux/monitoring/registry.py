"""MonitoringRegistry: turns monitoring on and off and owns its parts.

``MonitoringRegistry.enable()`` installs one :class:`MonitoringHooks` object in the engine's hook
seam (:func:`routilux.hooks.install_hooks`); that object feeds the collector, checks breakpoints,
drives debug sessions and publishes to the event manager. ``disable()`` uninstalls it.

There is one process-wide registry (``get_instance()``), whose event manager is
:func:`~routilux.monitoring.event_manager.get_event_manager`. Tests may build their own
``MonitoringRegistry()`` and ``install()``/``uninstall()`` it; ``enable``/``disable``/
``is_enabled`` called on an instance act on that instance.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable

from routilux.hooks import ExecutionHooks, active_hooks, install_hooks
from routilux.monitoring.breakpoint_manager import BreakpointManager
from routilux.monitoring.debug_session import DebugSessionStore
from routilux.monitoring.debugger import WorkerDebugger
from routilux.monitoring.event_manager import JobEventManager, get_event_manager
from routilux.monitoring.monitor_collector import DEFAULT_MAX_EVENTS, MonitorCollector

if TYPE_CHECKING:
    from routilux.flow import Flow
    from routilux.job_state import JobState
    from routilux.monitoring.breakpoint_manager import Breakpoint
    from routilux.runtime import Activation

__all__ = ["MonitoringHooks", "MonitoringRegistry"]


class MonitoringHooks(ExecutionHooks):
    """The engine observer: cheap recording on every hop, debugging only when asked for."""

    def __init__(self, registry: MonitoringRegistry) -> None:
        self.registry = registry
        self.collector = registry.monitor_collector
        self.breakpoints = registry.breakpoint_manager
        self.sessions = registry.debug_session_store
        self._jobs = self.collector._jobs
        self._session_map = self.sessions._sessions
        self.debugger = WorkerDebugger(self.breakpoints, self.sessions, self._record_hit)

    def _rec(self, job_state: JobState) -> Any:
        rec = self._jobs.get(job_state.job_id)
        if rec is None:
            rec = self.collector.record_for(job_state.job_id, job_state.flow_id)
            rec.job_ref = weakref.ref(job_state)
        return rec

    # ---- job level --------------------------------------------------------------------------
    def on_job_start(self, *, job_state: JobState, flow: Flow) -> None:
        rec = self.collector.job_started(job_state.job_id, job_state.flow_id, len(flow.routines))
        rec.job_ref = weakref.ref(job_state)
        store = self.registry.history_store
        if store is not None:
            store.record_job(job_state.to_dict())

    def on_job_status(self, *, job_state: JobState, flow: Flow, status: str) -> None:
        self._rec(job_state)
        self.collector.job_status(job_state.job_id, status)
        session = self._session_map.get(job_state.job_id)
        if session is not None:
            session._note_status(status, job_state)

    def on_job_end(self, *, job_state: JobState, flow: Flow) -> None:
        job_id = job_state.job_id
        self._rec(job_state)
        status = str(job_state.status)
        self.collector.job_ended(job_id, status, job_state.error)
        session = self._session_map.get(job_id)
        if session is not None:
            session._note_status(status, job_state)
        store = self.registry.history_store
        if store is not None:
            collector = self.collector
            # Snapshot now (cheap); summarise and write on the store's writer thread.
            store.record_job(job_state.to_dict())
            metrics = collector.get_metrics(job_id)
            store.record_metrics(job_id, metrics.to_dict if metrics is not None else {})
            store.record_events(job_id, collector.trace_producer(job_id))

    # ---- hops ---------------------------------------------------------------------------------
    def on_slot_call(
        self, *, job_state: JobState, routine_id: str, slot_name: str, data: dict[str, Any],
        source: Activation | None,
    ) -> None:
        rec = self._jobs.get(job_state.job_id) or self._rec(job_state)
        self.collector.slot_call(rec, routine_id, slot_name, data,
                                 source.activation_id if source is not None else None)

    def before_activation(self, *, activation: Activation) -> None:
        if self._session_map or not self.breakpoints.empty:
            self.debugger.before_activation(activation)

    def on_routine_start(self, *, activation: Activation) -> None:
        js = activation.runtime.job_state
        rec = self._jobs.get(js.job_id) or self._rec(js)
        self.collector.routine_started(rec, activation.routine_id, activation.slot.name,
                                       activation.activation_id)

    def on_routine_end(
        self, *, activation: Activation, duration: float, error: BaseException | None
    ) -> None:
        js = activation.runtime.job_state
        rec = self._jobs.get(js.job_id) or self._rec(js)
        self.collector.routine_ended(rec, activation.routine_id, activation.slot.name,
                                     activation.activation_id, duration, error)
        if self._session_map:
            self.debugger.routine_ended(activation)

    def on_event_emit(
        self, *, activation: Activation | None, job_state: JobState, routine_id: str,
        event_name: str, data: dict[str, Any],
    ) -> None:
        rec = self._jobs.get(job_state.job_id) or self._rec(job_state)
        self.collector.event_emit(rec, routine_id, event_name, data,
                                  activation.activation_id if activation is not None else None)
        if not self.breakpoints.empty:
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


class _hybrid:
    """A method that binds to the instance when called on one, else to the singleton."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.__doc__ = func.__doc__

    def __get__(self, obj: Any, cls: type) -> Callable[..., Any]:
        target = obj if obj is not None else cls.get_instance()
        return self.func.__get__(target, cls)


class MonitoringRegistry:
    """Owns the collector, breakpoints, debug sessions and event manager, and the engine hook."""

    _instance: MonitoringRegistry | None = None
    _instance_lock = threading.Lock()

    def __init__(
        self, *, max_events_per_job: int = DEFAULT_MAX_EVENTS,
        event_manager: JobEventManager | None = None, history_store: Any = None,
    ) -> None:
        self._event_manager = event_manager if event_manager is not None else JobEventManager()
        self._collector = MonitorCollector(max_events_per_job, event_manager=self._event_manager)
        self._breakpoints = BreakpointManager()
        self._sessions = DebugSessionStore()
        self.history_store = history_store
        self._hooks = MonitoringHooks(self)
        self._undo: Callable[[], None] | None = None

    # ---- the singleton --------------------------------------------------------------------
    @classmethod
    def get_instance(cls) -> MonitoringRegistry:
        """The process-wide registry (created on first use, not yet enabled)."""
        inst = cls._instance
        if inst is None:
            with cls._instance_lock:
                inst = cls._instance
                if inst is None:
                    inst = cls._instance = cls(event_manager=get_event_manager())
        return inst

    @_hybrid
    def enable(self) -> MonitoringRegistry:
        """Start observing the engine (idempotent); returns the registry."""
        self.install()
        return self

    @_hybrid
    def disable(self) -> None:
        """Stop observing the engine (idempotent). Collected data stays readable."""
        self.uninstall()

    @_hybrid
    def is_enabled(self) -> bool:
        """Whether this registry's hooks are the ones the engine calls."""
        return active_hooks() is self._hooks

    def install(self) -> None:
        """Install this registry's hooks in the engine seam."""
        if self._undo is None or active_hooks() is not self._hooks:
            self._undo = install_hooks(self._hooks)

    def uninstall(self) -> None:
        """Remove this registry's hooks (restoring whatever was installed before)."""
        undo, self._undo = self._undo, None
        if undo is not None and active_hooks() is self._hooks:
            undo()

    # ---- parts ----------------------------------------------------------------------------------
    @property
    def monitor_collector(self) -> MonitorCollector:
        return self._collector

    @property
    def breakpoint_manager(self) -> BreakpointManager:
        return self._breakpoints

    @property
    def debug_session_store(self) -> DebugSessionStore:
        return self._sessions

    @property
    def event_manager(self) -> JobEventManager:
        return self._event_manager

    @property
    def hooks(self) -> MonitoringHooks:
        return self._hooks

    def attach_history_store(self, store: Any) -> None:
        """Persist every job's record, final metrics and trace to ``store`` when it ends."""
        self.history_store = store
