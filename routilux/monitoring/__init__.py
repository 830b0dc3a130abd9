"""Monitoring and debugging for routilux jobs: metrics, traces, breakpoints, stepping, live events.

Turn it on with ``MonitoringRegistry.enable()``; read through ``MonitoringRegistry.get_instance()``
(``monitor_collector``, ``breakpoint_manager``, ``debug_session_store``) and subscribe to live
events with ``get_event_manager()``.
"""

from routilux.monitoring.breakpoint_manager import Breakpoint, BreakpointManager
from routilux.monitoring.compare import RunDiff, compare
from routilux.monitoring.conditions import Condition, compile_condition
from routilux.monitoring.debug_session import DebugSession, DebugSessionStore
from routilux.monitoring.event_manager import JobEventManager, Subscription, get_event_manager
from routilux.monitoring.monitor_collector import (
    ExecutionEvent,
    JobMetrics,
    MonitorCollector,
    RoutineMetrics,
)
from routilux.monitoring.monitor_hooks import MonitoringHooks
from routilux.monitoring.registry import MonitoringRegistry
from routilux.monitoring.storage import FlowStore, JobStore, SqliteHistoryStore
from routilux.monitoring.summary import summarize

__all__ = [
    "Breakpoint",
    "BreakpointManager",
    "Condition",
    "DebugSession",
    "DebugSessionStore",
    "ExecutionEvent",
    "FlowStore",
    "JobEventManager",
    "JobMetrics",
    "JobStore",
    "MonitorCollector",
    "MonitoringHooks",
    "MonitoringRegistry",
    "RoutineMetrics",
    "RunDiff",
    "SqliteHistoryStore",
    "Subscription",
    "compare",
    "compile_condition",
    "get_event_manager",
    "summarize",
]
