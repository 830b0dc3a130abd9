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
from typing import Any, Callable

from routilux.hooks import active_hooks, install_hooks
from routilux.monitoring.breakpoint_manager import BreakpointManager
from routilux.monitoring.debug_session import DebugSessionStore
from routilux.monitoring.event_manager import JobEventManager, get_event_manager
from routilux.monitoring.monitor_collector import (
    DEFAULT_MAX_EVENTS,
    DEFAULT_MAX_JOBS,
    MonitorCollector,
)
from routilux.monitoring.monitor_hooks import MonitoringHooks

__all__ = ["MonitoringRegistry"]


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
        self, *, max_events_per_job: int = DEFAULT_MAX_EVENTS, max_jobs: int = DEFAULT_MAX_JOBS,
        event_manager: JobEventManager | None = None, history_store: Any = None,
    ) -> None:
        self._event_manager = event_manager if event_manager is not None else JobEventManager()
        self._collector = MonitorCollector(max_events_per_job, event_manager=self._event_manager)
        self._collector.set_max_jobs(max_jobs)
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
        """Start observing the engine (idempotent); returns the registry.

        ``MonitoringRegistry.enable()`` acts on the process-wide registry, ``registry.enable()``
        on that instance.
        """
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
        """Metrics and traces per job."""
        return self._collector

    @property
    def breakpoint_manager(self) -> BreakpointManager:
        """Breakpoints, checked on the job's worker threads."""
        return self._breakpoints

    @property
    def debug_session_store(self) -> DebugSessionStore:
        """Debug sessions (pause location, stepping, variables) per job."""
        return self._sessions

    @property
    def event_manager(self) -> JobEventManager:
        """Live event fan-out to subscribers."""
        return self._event_manager

    @property
    def hooks(self) -> MonitoringHooks:
        """The engine observer this registry installs."""
        return self._hooks

    def attach_history_store(self, store: Any) -> None:
        """Persist every job's record, final metrics and trace to ``store`` when it ends."""
        self.history_store = store
