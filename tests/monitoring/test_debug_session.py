"""Real debugging on real engine threads: breakpoints, stepping, variables, call stack, cancel."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from routilux import Flow, InvalidStateError, Routine, ValidationError
from routilux.monitoring import DebugSession, MonitoringRegistry

from .helpers import Sink, Source, Tail, pipeline


def helper(x: int) -> int:
    y = x + 1
    return y


class Stepper(Routine):
    """A handler with a few lines and a call, to step through."""

    def __init__(self) -> None:
        super().__init__()
        self.results: list[int] = []
        self.define_slot("inp", self.handle)
        self.define_event("done", ["result"])

    def handle(self, value):
        a = value + 1
        b = helper(a)
        c = b * 2
        self.results.append(c)
        self.emit("done", result=c)


def _line_of(func: Any, text: str) -> int:
    import inspect

    lines, start = inspect.getsourcelines(func)
    for offset, line in enumerate(lines):
        if line.strip().startswith(text):
            return start + offset
    raise AssertionError(f"{text!r} not in {func}")


def _stepper_flow(flow_id: str) -> tuple[Flow, Stepper]:
    flow = Flow(flow_id)
    flow.add_routine(Source(), "r1")
    stepper = Stepper()
    flow.add_routine(stepper, "r2")
    flow.add_routine(Tail(), "r3")
    flow.connect("r1", "out", "r2", "inp")
    flow.connect("r2", "done", "r3", "inp")
    return flow, stepper


def _session(registry: MonitoringRegistry, job_id: str) -> DebugSession:
    return registry.debug_session_store.get_or_create(job_id)


def test_conditional_breakpoint_pauses_only_when_the_condition_holds(
    registry: MonitoringRegistry,
) -> None:
    flow, sink = pipeline("cond")
    bp = registry.breakpoint_manager.set_breakpoint(
        job_id="cond-1", routine_id="r2", slot_name="inp", condition="data.get('value', 0) > 100")
    session = _session(registry, "cond-1")
    job = flow.start("r1", {"values": [5, 500, 7]}, job_id="cond-1")
    assert session.wait_until_paused(5)
    assert str(job.status) == "paused"
    assert session.paused_at == {"routine_id": "r2", "slot_name": "inp", "event_name": None,
                                 "line": None}
    assert session.variables()["local"] == {"value": 500}
    assert sink.received == [5]            # the non-matching activation ran; the matching one waits
    assert bp.hit_count == 1
    session.resume()
    assert job.wait(5) and str(job.status) == "completed"
    assert sink.received == [5, 500, 7] and bp.hit_count == 1
    trace = registry.monitor_collector.get_execution_trace(job.job_id)
    hit = next(e for e in trace if e.event_type == "breakpoint_hit")
    assert hit.routine_id == "r2" and hit.extra["hit_count"] == 1
    assert hit.extra["location"]["slot_name"] == "inp"
    types = [e.event_type for e in trace]
    assert types.index("breakpoint_hit") < types.index("job_paused") < types.index("job_resumed")


def test_flow_scoped_breakpoint_stops_the_entry_routine_of_every_job(
    registry: MonitoringRegistry,
) -> None:
    flow, sink = pipeline("entry")
    registry.breakpoint_manager.set_breakpoint(flow_id="entry", routine_id="r1")
    for job_id in ("entry-1", "entry-2"):
        session = _session(registry, job_id)
        job = flow.start("r1", {"values": [1]}, job_id=job_id)
        assert session.wait_until_paused(5)
        assert session.paused_at["routine_id"] == "r1" and session.paused_at["slot_name"] == "trigger"
        assert session.variables()["local"] == {"values": [1]}
        session.resume()
        assert job.wait(5) and str(job.status) == "completed"


def test_step_over_pauses_at_each_next_activation(registry: MonitoringRegistry) -> None:
    flow, sink = pipeline("stepover")
    registry.breakpoint_manager.set_breakpoint(job_id="so", routine_id="r2", condition="value == 500")
    session = _session(registry, "so")
    job = flow.start("r1", {"values": [5, 500, 7]}, job_id="so")
    assert session.wait_until_paused(5)
    stops = []
    for _ in range(3):
        stops.append((session.paused_at["routine_id"], session.variables()["local"]))
        assert session.step_over() == {"job_id": "so", "status": "running"}
        assert session.wait_until_paused(5)
    stops.append((session.paused_at["routine_id"], session.variables()["local"]))
    # FIFO order of the job's queue: r2(500), r2(7), r3(11) (from r2(5)), r3(1001) (from r2(500))
    assert stops == [("r2", {"value": 500}), ("r2", {"value": 7}), ("r3", {"result": 11}),
                     ("r3", {"result": 1001})]
    session.resume()
    assert job.wait(5) and str(job.status) == "completed"


def test_step_into_stops_at_the_handlers_first_line_with_its_locals(
    registry: MonitoringRegistry,
) -> None:
    flow, stepper = _stepper_flow("stepinto")
    registry.breakpoint_manager.set_breakpoint(flow_id="stepinto", routine_id="r2")
    session = _session(registry, "si")
    job = flow.start("r1", {"values": [10]}, job_id="si")
    assert session.wait_until_paused(5)
    session.step_into()
    assert session.wait_until_paused(5)
    at = session.paused_at
    assert at["line"] == _line_of(Stepper.handle, "a = value + 1")
    assert at["function"] == "handle" and at["routine_id"] == "r2"
    local = session.variables()["local"]
    assert local["value"] == 10 and "self" in local and "a" not in local
    # next line
    session.step_over()
    assert session.wait_until_paused(5)
    assert session.paused_at["line"] == _line_of(Stepper.handle, "b = helper(a)")
    assert session.variables()["local"]["a"] == 11
    # into the call
    session.step_into()
    assert session.wait_until_paused(5)
    assert session.paused_at["function"] == "helper"
    assert session.paused_at["line"] == _line_of(helper, "y = x + 1")
    assert session.variables()["local"] == {"x": 11}
    stack = session.call_stack()["frames"]
    assert [f["function"] for f in stack[:2]] == ["helper", "handle"]
    assert stack[0]["kind"] == "python" and stack[1]["line"] == _line_of(Stepper.handle, "b = helper(a)")
    activations = [f for f in stack if f["kind"] == "activation"]
    assert [(f["routine_id"], f["slot_name"]) for f in activations] == [("r2", "inp"), ("r1", "trigger")]
    assert activations[0]["event_name"] == "out"   # r2.inp was fed by r1's "out"
    assert not any("routilux/" in (f["file"] or "") and "/tests/" not in (f["file"] or "")
                   for f in stack if f["kind"] == "python")
    # step over the rest of helper: back in the caller, on the line after the call
    session.step_over()
    assert session.wait_until_paused(5)
    session.step_over()
    assert session.wait_until_paused(5)
    assert session.paused_at["function"] == "handle"
    assert session.paused_at["line"] == _line_of(Stepper.handle, "c = b * 2")
    # step out: back to routine level, pausing before the next activation (r3)
    session.step_out()
    assert session.wait_until_paused(5)
    assert session.paused_at == {"routine_id": "r3", "slot_name": "inp", "event_name": None,
                                 "line": None}
    assert stepper.results == [24]
    session.resume()
    assert job.wait(5) and str(job.status) == "completed"


def test_set_variable_changes_what_the_handler_receives(registry: MonitoringRegistry) -> None:
    flow, sink = pipeline("setvar")
    registry.breakpoint_manager.set_breakpoint(job_id="sv", routine_id="r2", condition="value == 500")
    session = _session(registry, "sv")
    job = flow.start("r1", {"values": [5, 500]}, job_id="sv")
    assert session.wait_until_paused(5)
    assert session.set_variable("value", 1000) == {"name": "value", "value": 1000, "scope": "local"}
    assert session.variables()["local"] == {"value": 1000}
    session.set_variable("note", "edited", scope="shared")
    session.resume()
    assert job.wait(5) and str(job.status) == "completed"
    assert sink.received == [5, 1000]
    assert job.shared_data["note"] == "edited" and job.shared_data["last"] == 2001


def test_set_variable_on_a_frame_local_takes_effect(registry: MonitoringRegistry) -> None:
    flow, stepper = _stepper_flow("framelocal")
    registry.breakpoint_manager.set_breakpoint(job_id="fl", routine_id="r2")
    session = _session(registry, "fl")
    job = flow.start("r1", {"values": [10]}, job_id="fl")
    assert session.wait_until_paused(5)
    session.step_into()
    assert session.wait_until_paused(5)
    for _ in range(2):  # to "c = b * 2"
        session.step_over()
        assert session.wait_until_paused(5)
    assert session.paused_at["line"] == _line_of(Stepper.handle, "c = b * 2")
    assert session.variables()["local"]["b"] == 12
    session.set_variable("b", 100)
    assert session.variables()["local"]["b"] == 100
    with pytest.raises(ValidationError, match="no local variable"):
        session.set_variable("not_a_local", 1)
    session.resume()
    assert job.wait(5) and str(job.status) == "completed"
    assert stepper.results == [200]


def test_event_breakpoint_pauses_before_delivery_and_can_edit_the_event(
    registry: MonitoringRegistry,
) -> None:
    flow, sink = pipeline("eventbp")
    bp = registry.breakpoint_manager.set_breakpoint(
        job_id="ev", routine_id="r1", event_name="out", condition="value == 500")
    assert bp.type == "event"
    session = _session(registry, "ev")
    job = flow.start("r1", {"values": [5, 500]}, job_id="ev")
    assert session.wait_until_paused(5)
    at = session.paused_at
    assert at["routine_id"] == "r1" and at["event_name"] == "out" and at["slot_name"] == "trigger"
    assert at["function"] == "run" and at["line"] == _line_of(Source.run, "self.emit(")
    assert session.variables()["local"] == {"value": 500}
    session.set_variable("value", 501)
    session.resume()
    assert job.wait(5) and str(job.status) == "completed"
    assert sink.received == [5, 501]


def test_cancel_releases_a_job_paused_at_a_breakpoint(registry: MonitoringRegistry) -> None:
    flow, sink = pipeline("cancel")
    registry.breakpoint_manager.set_breakpoint(job_id="cx", routine_id="r2", condition="value == 500")
    session = _session(registry, "cx")
    job = flow.start("r1", {"values": [5, 500, 7]}, job_id="cx")
    assert session.wait_until_paused(5)
    flow.cancel(job)
    assert job.wait(5) and str(job.status) == "cancelled"
    assert session.wait_until_ended(5) and session.status == "cancelled"
    assert sink.received == [5]   # the paused activation never ran
    with pytest.raises(InvalidStateError):
        session.step_over()


def test_cancel_while_paused_inside_a_handler_stops_it(registry: MonitoringRegistry) -> None:
    flow, stepper = _stepper_flow("cancel-line")
    registry.breakpoint_manager.set_breakpoint(job_id="cl", routine_id="r2")
    session = _session(registry, "cl")
    job = flow.start("r1", {"values": [10]}, job_id="cl")
    assert session.wait_until_paused(5)
    session.step_into()
    assert session.wait_until_paused(5)
    flow.cancel(job)
    assert job.wait(5) and str(job.status) == "cancelled"
    assert stepper.results == []          # the rest of the handler did not run
    assert threading.current_thread().name  # (tracing never touched this thread)


def test_pausing_one_job_does_not_hold_another(registry: MonitoringRegistry) -> None:
    flow, sink = pipeline("two-jobs")
    registry.breakpoint_manager.set_breakpoint(job_id="held", routine_id="r2")
    session = _session(registry, "held")
    held = flow.start("r1", {"values": [1]}, job_id="held")
    assert session.wait_until_paused(5)
    free = flow.execute("r1", {"values": [2]}, timeout=5)
    assert str(free.status) == "completed" and str(held.status) == "paused"
    session.resume()
    assert held.wait(5) and str(held.status) == "completed"


def test_commands_need_a_paused_job(registry: MonitoringRegistry) -> None:
    flow, _ = pipeline("states")
    session = _session(registry, "st")
    job = flow.execute("r1", {"values": [1]}, job_id="st", timeout=5)
    assert str(job.status) == "completed"
    assert session.wait_until_paused(0.1) is False
    for command in (session.step_over, session.step_into, session.step_out, session.resume):
        with pytest.raises(InvalidStateError, match="not paused"):
            command()
    with pytest.raises(InvalidStateError):
        session.set_variable("x", 1)
    with pytest.raises(ValidationError):
        session.set_variable("x", 1, scope="global")
    assert session.to_dict()["status"] == "completed"


def test_user_pause_and_resume_are_seen_by_the_session(registry: MonitoringRegistry) -> None:
    flow = Flow("user-pause")
    gate_routine = _GateRoutine()
    flow.add_routine(gate_routine, "g")
    flow.add_routine(Sink(), "s")
    flow.connect("g", "out", "s", "inp")
    session = _session(registry, "up")
    job = flow.start("g", job_id="up")
    assert gate_routine.entered.wait(5)
    flow.pause(job)
    assert session.wait_until_paused(5) and session.paused_at is None
    assert session.variables()["local"] == {}
    gate_routine.release.set()
    session.step_over()   # resume; pause again before the next activation (s)
    assert session.wait_until_paused(5)
    assert session.paused_at["routine_id"] == "s"
    session.resume()
    assert job.wait(5) and str(job.status) == "completed"


class _GateRoutine(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.define_slot("trigger", self.run)
        self.define_event("out", ["value"])

    def run(self) -> None:
        self.entered.set()
        assert self.release.wait(10)
        self.emit("out", value=1)


def test_condition_that_fails_at_run_time_does_not_match(registry: MonitoringRegistry) -> None:
    flow, sink = pipeline("badcond")
    bp = registry.breakpoint_manager.set_breakpoint(job_id="bc", routine_id="r2",
                                                    condition="value['x'] > 1")
    job = flow.execute("r1", {"values": [1, 2]}, job_id="bc", timeout=5)
    assert str(job.status) == "completed" and sink.received == [1, 2]
    assert bp.hit_count == 0 and "TypeError" in bp.last_error


def test_breakpoints_pause_concurrent_jobs_too(registry: MonitoringRegistry) -> None:
    flow, sink = pipeline("conc", strategy="concurrent")
    registry.breakpoint_manager.set_breakpoint(job_id="cc", routine_id="r2", condition="value >= 2")
    session = _session(registry, "cc")
    job = flow.start("r1", {"values": [1, 2, 3]}, job_id="cc")
    hits = 0
    while session.wait_until_paused(5):
        hits += 1
        assert session.variables()["local"]["value"] in (2, 3)
        session.resume()
        if hits == 2:
            break
    assert job.wait(5) and str(job.status) == "completed"
    assert hits == 2 and sorted(sink.received) == [1, 2, 3]


def test_step_into_from_an_event_pause_enters_the_next_handler(registry: MonitoringRegistry) -> None:
    flow, stepper = _stepper_flow("ev-into")
    registry.breakpoint_manager.set_breakpoint(job_id="ei", routine_id="r1", event_name="out")
    session = _session(registry, "ei")
    job = flow.start("r1", {"values": [3]}, job_id="ei")
    assert session.wait_until_paused(5)
    assert session.paused_at["event_name"] == "out"
    session.step_into()
    assert session.wait_until_paused(5)
    assert session.paused_at["function"] == "handle" and session.paused_at["routine_id"] == "r2"
    assert session.paused_at["line"] == _line_of(Stepper.handle, "a = value + 1")
    assert session.variables()["local"]["value"] == 3
    session.resume()
    assert job.wait(5) and stepper.results == [10]


def test_call_stack_at_routine_level_is_the_activation_chain(registry: MonitoringRegistry) -> None:
    flow, _ = pipeline("stack")
    registry.breakpoint_manager.set_breakpoint(job_id="sk", routine_id="r3")
    session = _session(registry, "sk")
    job = flow.start("r1", {"values": [4]}, job_id="sk")
    assert session.wait_until_paused(5)
    frames = session.call_stack()["frames"]
    assert [(f["routine_id"], f["slot_name"], f["event_name"]) for f in frames] == [
        ("r3", "inp", "done"), ("r2", "inp", "out"), ("r1", "trigger", None)]
    assert frames[0]["function"] == "Tail.handle" and frames[0]["line"] == _line_of(Tail.handle, "def handle")
    assert session.variables() == {"local": {"result": 9}, "shared": {}}
    session.resume()
    assert job.wait(5) and job.shared_data["last"] == 9


class _Emitter(Routine):
    """Emits ``out`` with v = 0 .. n-1 in one activation."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("out", ["v"])

    def run(self, n):
        for i in range(n):
            self.emit("out", v=i)


class _Relay(Routine):
    """Re-emits what it gets; with ``echo`` it first emits ``v + 10`` (an earlier delivery)."""

    def __init__(self, echo: bool = False) -> None:
        super().__init__()
        self.echo = echo
        self.define_slot("inp", self.run)
        self.define_event("out", ["v"])

    def run(self, v):
        if self.echo:
            self.emit("out", v=v + 10)
        self.emit("out", v=v)


class _Collect(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.got: list[int] = []
        self.define_slot("inp", self.run)

    def run(self, v):
        w = v
        self.got.append(w)


def _relay_flow(flow_id: str, echo: bool = False) -> tuple[Flow, _Collect]:
    flow = Flow(flow_id)
    flow.add_routine(_Emitter(), "src")
    flow.add_routine(_Relay(echo), "mid")
    sink = _Collect()
    flow.add_routine(sink, "sink")
    flow.connect("src", "out", "mid", "inp")
    flow.connect("mid", "out", "sink", "inp")
    return flow, sink


@pytest.mark.parametrize("echo", [False, True], ids=["one-emit", "earlier-emit-queued"])
def test_step_into_from_an_event_pause_enters_the_handler_that_event_feeds(
    registry: MonitoringRegistry, echo: bool,
) -> None:
    # mid's other activations (v=1, v=2) and, with echo, the delivery of mid's earlier emit
    # (v=10) are queued before the paused event's delivery: step_into must skip them all.
    flow, sink = _relay_flow(f"ev-feeds-{echo}", echo)
    registry.breakpoint_manager.set_breakpoint(flow_id=flow.flow_id, routine_id="mid",
                                               event_name="out", condition="v == 0")
    job = flow.start("src", {"n": 3})
    session = _session(registry, job.job_id)
    assert session.wait_until_paused(5)
    assert session.paused_at["routine_id"] == "mid" and session.paused_at["event_name"] == "out"
    session.step_into()
    assert session.wait_until_paused(5)
    at = session.paused_at
    assert (at["routine_id"], at["function"]) == ("sink", "run")
    assert at["line"] == _line_of(_Collect.run, "w = v")
    assert session.variables()["local"]["v"] == 0
    session.resume()
    assert job.wait(5) and str(job.status) == "completed"
    assert sorted(sink.got) == ([0, 1, 2, 10, 11, 12] if echo else [0, 1, 2])


def test_step_over_from_an_event_pause_stops_before_the_jobs_next_activation(
    registry: MonitoringRegistry,
) -> None:
    flow, sink = _relay_flow("ev-over")
    registry.breakpoint_manager.set_breakpoint(flow_id="ev-over", routine_id="mid",
                                               event_name="out", condition="v == 0")
    job = flow.start("src", {"n": 3})
    session = _session(registry, job.job_id)
    assert session.wait_until_paused(5)
    session.step_over()
    assert session.wait_until_paused(5)
    # FIFO: mid(v=1) was queued before the paused event's delivery sink(v=0)
    assert session.paused_at == {"routine_id": "mid", "slot_name": "inp", "event_name": None,
                                 "line": None}
    assert session.variables()["local"] == {"v": 1}
    session.resume()
    assert job.wait(5) and sorted(sink.got) == [0, 1, 2]


def test_step_into_from_an_event_nobody_receives_stops_at_the_next_activation(
    registry: MonitoringRegistry,
) -> None:
    flow = Flow("ev-unwired")
    flow.add_routine(_Emitter(), "src")
    flow.add_routine(_Relay(), "mid")
    flow.connect("src", "out", "mid", "inp")   # mid.out goes nowhere
    registry.breakpoint_manager.set_breakpoint(flow_id="ev-unwired", routine_id="mid",
                                               event_name="out", condition="v == 0")
    job = flow.start("src", {"n": 2})
    session = _session(registry, job.job_id)
    assert session.wait_until_paused(5)
    session.step_into()
    assert session.wait_until_paused(5)
    assert session.paused_at["routine_id"] == "mid" and session.variables()["local"] == {"v": 1}
    session.resume()
    assert job.wait(5) and str(job.status) == "completed"


def test_set_variable_does_not_rewrite_the_traced_payload(registry: MonitoringRegistry) -> None:
    flow, sink = pipeline("setvar-trace")
    registry.breakpoint_manager.set_breakpoint(job_id="svt", routine_id="r2", condition="value == 500")
    session = _session(registry, "svt")
    job = flow.start("r1", {"values": [5, 500]}, job_id="svt")
    assert session.wait_until_paused(5)
    session.set_variable("value", 1000)
    session.resume()
    assert job.wait(5) and sink.received == [5, 1000]
    calls = [e.data for e in registry.monitor_collector.get_execution_trace("svt")
             if e.event_type == "slot_call" and e.routine_id == "r2"]
    assert calls == [{"value": 5}, {"value": 500}]   # what was delivered, before the edit


def _switch_fast() -> Any:
    """Hand the GIL over as often as possible, so a woken subscriber runs at once."""
    import sys

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    return lambda: sys.setswitchinterval(old)


def test_a_subscriber_can_step_as_soon_as_it_sees_breakpoint_hit(
    registry: MonitoringRegistry,
) -> None:
    # A client acting on breakpoint_hit, or on the job_paused of a step, the moment it arrives
    # must find the job paused (no InvalidStateError, which is the API's 409): both events are
    # published only once the session and the job are paused.
    flow, sink = pipeline("instant")
    registry.breakpoint_manager.set_breakpoint(flow_id="instant", routine_id="r2")
    restore = _switch_fast()
    try:
        for i in range(200):
            job_id = f"instant-{i}"
            session = registry.debug_session_store.get_or_create(job_id)
            sub = registry.event_manager.subscribe(job_id, max_queue=1000)
            failures: list[BaseException] = []
            order: list[str] = []

            def react() -> None:
                state = "hit"
                while True:
                    event = sub.get(timeout=5)
                    if event is None:
                        failures.append(AssertionError(f"stuck waiting for {state}"))
                        return
                    kind = event.get("event_type")
                    if kind in ("breakpoint_hit", "job_paused", "job_resumed"):
                        order.append(kind)
                    try:
                        if state == "hit" and kind == "breakpoint_hit":
                            state = "resumed"
                            session.step_over()       # pauses again before r3
                        elif state == "resumed" and kind == "job_resumed":
                            state = "step"
                        elif state == "step" and kind == "job_paused":
                            state = "done"
                            assert session.paused_at["routine_id"] == "r3"
                            session.resume()
                    except Exception as exc:
                        failures.append(exc)
                        return
                    if kind in ("job_completed", "job_failed", "job_cancelled"):
                        return

            t = threading.Thread(target=react)
            t.start()
            job = flow.start("r1", {"values": [i]}, job_id=job_id)
            t.join(10)
            sub.close()
            if failures:   # leave nothing paused behind
                flow.cancel(job)
            assert not failures, f"round {i}: {failures[0]!r}"
            assert job.wait(5) and str(job.status) == "completed" and sink.received[-1] == i
            assert order == ["breakpoint_hit", "job_paused", "job_resumed", "job_paused",
                             "job_resumed"], f"round {i}: {order}"
    finally:
        restore()


class _EmitMidway(Routine):
    """Emits in the middle of its handler, so there are lines to step to after the emit."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("inp", self.run)
        self.define_event("out", ["value"])
        self.define_event("done", ["value"])

    def run(self, value):
        y = value + 1
        self.emit("out", value=y)
        z = y * 2
        self.emit("done", value=z)


def test_step_over_from_an_event_pause_goes_to_the_emitting_handlers_next_line(
    registry: MonitoringRegistry,
) -> None:
    flow = Flow("ev-next-line")
    flow.add_routine(Source(), "r1")
    flow.add_routine(_EmitMidway(), "mid")
    after_out, after_done = Sink(), Sink()
    flow.add_routine(after_out, "after_out")
    flow.add_routine(after_done, "after_done")
    flow.connect("r1", "out", "mid", "inp")
    flow.connect("mid", "out", "after_out", "inp")
    flow.connect("mid", "done", "after_done", "inp")
    registry.breakpoint_manager.set_breakpoint(job_id="evl", routine_id="mid", event_name="out")
    job = flow.start("r1", {"values": [4]}, job_id="evl")
    session = _session(registry, job.job_id)
    assert session.wait_until_paused(5)
    emit_line = _line_of(_EmitMidway.run, 'self.emit("out"')
    assert (session.paused_at["event_name"], session.paused_at["line"]) == ("out", emit_line)
    assert session.variables()["local"] == {"value": 5}      # the payload about to be delivered
    stack = session.call_stack()["frames"]
    assert (stack[0]["kind"], stack[0]["function"], stack[0]["line"]) == ("python", "run", emit_line)

    session.step_over()
    assert session.wait_until_paused(5)
    at = session.paused_at
    assert (at["routine_id"], at["function"], at["line"]) == (
        "mid", "run", _line_of(_EmitMidway.run, "z = y * 2"))
    assert session.variables()["local"]["y"] == 5            # now the handler's frame locals
    session.step_over()
    assert session.wait_until_paused(5)
    assert session.paused_at["line"] == _line_of(_EmitMidway.run, 'self.emit("done"')
    session.step_out()                                          # back to routine level
    assert session.wait_until_paused(5)
    assert session.paused_at["line"] is None and session.paused_at["routine_id"] in (
        "after_out", "after_done")
    session.resume()
    assert job.wait(5) and str(job.status) == "completed"
    assert (after_out.received, after_done.received) == ([5], [10])


def test_step_into_enters_a_builtin_routine_too(registry: MonitoringRegistry) -> None:
    import inspect

    from routilux.builtin_routines import Mapper

    flow = Flow("builtin-step")
    mapper = Mapper()
    mapper.set_config(mapping={"value": "raw"})
    flow.add_routine(mapper, "map")
    sink = Sink()
    flow.add_routine(sink, "sink")
    flow.connect("map", "output", "sink", "inp")
    registry.breakpoint_manager.set_breakpoint(job_id="bis", routine_id="map")
    job = flow.start("map", {"raw": 3}, job_id="bis")
    session = _session(registry, job.job_id)
    assert session.wait_until_paused(5)
    session.step_into()
    assert session.wait_until_paused(5)
    at = session.paused_at
    assert (at["function"], at["file"]) == ("run", inspect.getsourcefile(Mapper))
    assert session.variables()["local"]["data"] == {"raw": 3}
    session.resume()
    assert job.wait(5) and str(job.status) == "completed" and sink.received == [3]
