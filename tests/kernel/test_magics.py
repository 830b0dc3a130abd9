"""``%load_ext routilux`` and ``%routilux`` in an IPython shell (no kernel, no server)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from routilux.monitoring import MonitoringRegistry
from routilux_jupyter.kernel import session as kernel_session

SETUP = '''
import threading
from routilux import Flow, Routine

gate = threading.Event()

class Src(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.go)
        self.define_event("out", ["x"])
    def go(self, n=3, **_):
        for i in range(n):
            self.emit("out", x=i)

class Snk(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("inp", self.take)
    def take(self, x):
        return x

flow = Flow("magic_flow")
flow.add_routine(Src(), "src")
flow.add_routine(Snk(), "sink")
flow.connect("src", "out", "sink", "inp")
'''


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    was_enabled = MonitoringRegistry.is_enabled()
    for key in ("ROUTILUX_BRIDGE_URL", "ROUTILUX_BRIDGE_SECRET"):
        os.environ.pop(key, None)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "routilux")
    yield ip
    ip.run_line_magic("unload_ext", "routilux")
    if not was_enabled:
        MonitoringRegistry.disable()


def run(shell: InteractiveShell, capsys: Any, code: str) -> tuple[str, str, Any]:
    result = shell.run_cell(code)
    out, err = capsys.readouterr()
    return out, err, result


def test_load_enables_monitoring_registers_flows_and_shows_them(
    shell: InteractiveShell, capsys: Any
) -> None:
    assert MonitoringRegistry.is_enabled()
    run(shell, capsys, SETUP)
    out, _, _ = run(shell, capsys, "%routilux flows")
    assert "magic_flow" in out and "sequential" in out
    run(shell, capsys, 'job = flow.execute("src", {"n": 2})')
    out, _, _ = run(shell, capsys, "%routilux jobs")
    job_id = shell.user_ns["job"].job_id
    assert job_id in out and "completed" in out
    out, _, _ = run(shell, capsys, "%routilux status")
    assert "monitoring:    on" in out and "registration:  on" in out
    assert re.search(r"flows / jobs:  [1-9]\d* / [1-9]\d*", out)
    assert "no bridge in this kernel's environment" in out


def test_loading_twice_is_harmless(shell: InteractiveShell, capsys: Any) -> None:
    import routilux

    routilux.load_ipython_extension(shell)
    routilux.load_ipython_extension(shell)
    shell.run_line_magic("load_ext", "routilux")
    run(shell, capsys, SETUP)
    session = kernel_session.current_session()
    assert session is not None and session.registration.installed
    assert [f.flow_id for f in session.owner.flows.list_all()].count("magic_flow") == 1
    out, _, _ = run(shell, capsys, "%routilux flows")
    assert out.count("magic_flow") == 1


def test_debug_shows_where_a_paused_job_stands(shell: InteractiveShell, capsys: Any) -> None:
    run(shell, capsys, SETUP)
    run(shell, capsys, '''
from routilux.monitoring import MonitoringRegistry
bp = MonitoringRegistry.get_instance().breakpoint_manager.set_breakpoint(
    flow_id="magic_flow", routine_id="sink", slot_name="inp", condition="x == 1")
job = flow.start("src", {"n": 3})
''')
    job = shell.user_ns["job"]
    registry = MonitoringRegistry.get_instance()
    try:
        assert registry.debug_session_store.get_or_create(job.job_id).wait_until_paused(5)
        out, err, result = run(shell, capsys, f"%routilux debug {job.job_id[:10]}")
        assert result.error_in_exec is None, err
        assert "paused at sink.inp" in out and "x=1" in out
        assert "call stack" in out and "src" in out
    finally:
        registry.breakpoint_manager.clear_breakpoints(flow_id="magic_flow")
        flow = shell.user_ns["flow"]
        flow.cancel(job)


@pytest.mark.parametrize(("line", "message"), [
    ("%routilux", "needs a command"),
    ("%routilux bogus", "Unknown %routilux command 'bogus'"),
    ("%routilux flows extra", "takes no arguments"),
    ("%routilux debug", "exactly one job id"),
    ("%routilux debug nosuchjob", "No job 'nosuchjob'"),
    ('%routilux debug "unclosed', "No closing quotation"),
])
def test_bad_input_is_a_usage_error_without_traceback(
    shell: InteractiveShell, capsys: Any, line: str, message: str
) -> None:
    out, err, result = run(shell, capsys, line)
    text = out + err
    assert type(result.error_in_exec).__name__ == "UsageError"
    assert message in text
    assert "Traceback" not in text
    assert "%routilux jobs" in text or "%routilux debug" in text or "%routilux flows" in text


def test_unload_stops_registration_and_removes_the_magic(
    shell: InteractiveShell, capsys: Any
) -> None:
    shell.run_line_magic("unload_ext", "routilux")
    session = kernel_session.current_session()
    assert session is not None and not session.registration.installed
    _, err, result = run(shell, capsys, "%routilux flows")
    assert result.error_in_exec is not None
    shell.run_line_magic("load_ext", "routilux")  # the fixture unloads it again
    out, _, _ = run(shell, capsys, "%routilux status")
    assert "registration:  on" in out
