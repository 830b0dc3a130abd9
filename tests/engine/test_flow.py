"""Flow building, jobs end to end, strategies and control."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from routilux import (
    ErrorHandler, ErrorStrategy, Flow, InvalidStateError, JobState, Routine, ValidationError,
)

from .helpers import Gate, pipeline


def test_three_routines_complete_after_all_ran() -> None:
    flow = pipeline()
    js = flow.execute("ingest", entry_params={"data": [1, 2, 3]}, timeout=5)
    assert js.status == "completed"
    assert js.shared_data["validated"] == {"total": 12, "count": 3}
    assert {rid: s["execution_count"] for rid, s in js.routine_states.items()} == {
        "ingest": 1, "process": 1, "validate": 1}
    assert [r["routine_id"] for r in js.execution_history] == ["ingest", "process", "validate"]
    assert js.started_at is not None and js.completed_at >= js.started_at


def test_downstream_error_under_stop_fails_job_with_error() -> None:
    js = pipeline(fail=True).execute("ingest", entry_params={"data": [1]}, timeout=5)
    assert js.status == "failed"
    assert "process" in js.error and "process exploded" in js.error
    assert js.routine_states["process"]["status"] == "failed"
    assert "validated" not in js.shared_data


def test_downstream_error_under_continue_completes_with_error_recorded() -> None:
    flow = pipeline(fail=True)
    flow.set_error_handler(ErrorHandler(ErrorStrategy.CONTINUE))
    js = flow.execute("ingest", entry_params={"data": [1]}, timeout=5)
    assert js.status == "completed"
    assert js.error is None
    assert "process exploded" in js.routine_states["process"]["error"]
    assert js.routine_states["process"]["status"] == "error_continued"
    assert js.errors and js.errors[0]["routine_id"] == "process"


def test_routine_level_handler_beats_flow_level() -> None:
    flow = pipeline(fail=True)
    flow.set_error_handler(ErrorHandler(ErrorStrategy.CONTINUE))
    flow.routines["process"].set_error_handler(ErrorHandler(ErrorStrategy.STOP))
    js = flow.execute("ingest", entry_params={"data": [1]}, timeout=5)
    assert js.status == "failed"


def test_start_returns_at_once_and_wait_times_out() -> None:
    flow = Flow()
    gate = Gate()
    flow.add_routine(gate, "gate")
    js = flow.start("gate")
    assert js.status == "running"
    assert gate.entered.wait(5)
    assert js.wait(0.05) is False
    gate.release.set()
    assert js.wait(5) is True
    assert js.status == "completed"
    assert JobState.wait_for_completion(flow, js, timeout=1) is True


def test_execute_returns_live_job_when_timeout_passes() -> None:
    flow = Flow()
    gate = Gate()
    flow.add_routine(gate, "gate")
    js = flow.execute("gate", timeout=0.05)
    assert js.status == "running"
    gate.release.set()
    assert js.wait(5)


def test_connect_errors_name_alternatives() -> None:
    flow = pipeline()
    with pytest.raises(ValidationError, match="routines: \\['ingest', 'process', 'validate'\\]"):
        flow.connect("nope", "output", "process", "trigger")
    with pytest.raises(ValidationError, match="its events: \\['output'\\]"):
        flow.connect("ingest", "out", "process", "trigger")
    with pytest.raises(ValidationError, match="its slots: \\['trigger'\\]"):
        flow.connect("ingest", "output", "process", "input")
    with pytest.raises(ValidationError, match="already exists"):
        flow.connect("ingest", "output", "process", "trigger")


def test_emit_unknown_event_says_how_to_define_it() -> None:
    class Bad(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.run)

        def run(self) -> None:
            self.emit("missing", x=1)

    with pytest.raises(ValueError, match=r"self\.define_event\('missing'\)"):
        Bad().emit("missing")
    flow = Flow()
    flow.add_routine(Bad(), "bad")
    js = flow.execute("bad", timeout=5)
    assert js.status == "failed" and "define_event('missing')" in js.error


def test_pause_terminal_job_raises() -> None:
    js = pipeline().execute("ingest", entry_params={"data": [1]}, timeout=5)
    with pytest.raises(InvalidStateError):
        pipeline().pause(js)


def test_concurrent_fan_out_fan_in() -> None:
    class Source(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.run)
            self.define_event("item")

        def run(self, n: int) -> None:
            for i in range(n):
                self.emit("item", value=i)

    class Work(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.run)
            self.define_event("done")

        def run(self, value: int) -> None:
            self.emit("done", value=value * value)

    class Sink(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.lock = threading.Lock()
            self.define_slot("trigger", self.run)

        def run(self, value: int) -> None:
            js = self.job_state
            with self.lock:
                js.shared_data["total"] = js.shared_data.get("total", 0) + value

    flow = Flow(execution_strategy="concurrent", max_workers=4)
    flow.add_routine(Source(), "src")
    for i in range(3):
        flow.add_routine(Work(), f"w{i}")
        flow.connect("src", "item", f"w{i}", "trigger")
        flow.connect(f"w{i}", "done", "sink", "trigger") if "sink" in flow.routines else (
            flow.add_routine(Sink(), "sink"), flow.connect(f"w{i}", "done", "sink", "trigger"))
    js = flow.execute("src", {"n": 200}, timeout=10)
    assert js.status == "completed"
    assert js.shared_data["total"] == 3 * sum(i * i for i in range(200))
    assert js.routine_states["sink"]["execution_count"] == 600


def test_execution_context_properties() -> None:
    seen: dict[str, Any] = {}

    class Ctx(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.run)

        def run(self) -> None:
            seen.update(job_id=self.job_id, flow=self.flow, js=self.job_state,
                        rid=self.routine_id)

    flow = Flow()
    r = Ctx()
    flow.add_routine(r, "ctx")
    js = flow.execute("ctx", timeout=5)
    assert seen == {"job_id": js.job_id, "flow": flow, "js": js, "rid": "ctx"}
    assert r.job_state is None and r.job_id is None and r.flow is None
    assert r.stats()["execution_count"] == 1
