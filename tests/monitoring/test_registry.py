"""MonitoringRegistry: the singleton, test instances, the hook seam, and the seed's names."""

from __future__ import annotations

import importlib
import subprocess
import sys

from routilux.hooks import ExecutionHooks, active_hooks, install_hooks
from routilux.monitoring import MonitoringRegistry, get_event_manager

from .helpers import pipeline


def test_seed_module_paths_and_class_names_exist() -> None:
    names = {
        "registry": ["MonitoringRegistry"],
        "monitor_collector": ["MonitorCollector", "ExecutionEvent", "RoutineMetrics"],
        "breakpoint_manager": ["BreakpointManager", "Breakpoint"],
        "debug_session": ["DebugSessionStore", "DebugSession"],
        "event_manager": ["JobEventManager", "get_event_manager"],
        "storage": ["FlowStore", "JobStore"],
    }
    for module, classes in names.items():
        mod = importlib.import_module(f"routilux.monitoring.{module}")
        for cls in classes:
            assert hasattr(mod, cls), f"routilux.monitoring.{module}.{cls}"
    import routilux.monitoring as pkg

    assert pkg.__all__ == sorted(pkg.__all__)
    assert pkg.MonitorCollector is importlib.import_module(
        "routilux.monitoring.monitor_collector").MonitorCollector


def test_singleton_enable_disable() -> None:
    reg = MonitoringRegistry.get_instance()
    assert MonitoringRegistry.get_instance() is reg
    assert reg.event_manager is get_event_manager()
    assert not MonitoringRegistry.is_enabled()
    assert MonitoringRegistry.enable() is reg
    MonitoringRegistry.enable()  # idempotent
    try:
        assert MonitoringRegistry.is_enabled() and active_hooks() is reg.hooks
    finally:
        MonitoringRegistry.disable()
    assert not MonitoringRegistry.is_enabled() and active_hooks() is None
    MonitoringRegistry.disable()  # idempotent


def test_instances_are_independent_and_enable_on_an_instance_acts_on_it() -> None:
    a, b = MonitoringRegistry(), MonitoringRegistry()
    assert a.monitor_collector is not b.monitor_collector
    assert a.event_manager is not get_event_manager()
    a.enable()
    try:
        assert a.is_enabled() and not b.is_enabled() and not MonitoringRegistry.is_enabled()
        flow, _ = pipeline("indep")
        job = flow.execute("r1", {"values": [1]}, timeout=5)
        assert a.monitor_collector.get_metrics(job.job_id) is not None
        assert b.monitor_collector.get_metrics(job.job_id) is None
    finally:
        a.disable()


def test_uninstall_restores_what_was_there_before() -> None:
    other = ExecutionHooks()
    undo = install_hooks(other)
    try:
        reg = MonitoringRegistry()
        reg.install()
        assert active_hooks() is reg.hooks
        reg.uninstall()
        assert active_hooks() is other
    finally:
        undo()


def test_disabled_monitoring_records_nothing() -> None:
    reg = MonitoringRegistry()
    flow, _ = pipeline("off")
    job = flow.execute("r1", {"values": [1]}, timeout=5)
    assert reg.monitor_collector.get_metrics(job.job_id) is None


def test_importing_monitoring_loads_no_jupyter_stack() -> None:
    code = (
        "import sys, routilux, routilux.monitoring, routilux.monitoring.storage_sqlite\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in {'tornado', 'jupyter_server', "
        "'jupyter_client', 'IPython', 'ipywidgets', 'anywidget', 'traitlets', 'ipykernel'}]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
