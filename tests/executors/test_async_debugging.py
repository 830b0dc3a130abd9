"""Breakpoints and stepping on jobs with ``async def`` handlers (routine level)."""

from __future__ import annotations

import asyncio

import pytest

from routilux import Flow, Routine
from routilux.errors import InvalidStateError
from routilux.monitoring import MonitoringRegistry




class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("out", ["value"])

    def run(self, values: list[int]) -> None:
        for v in values:
            self.emit("out", value=v)


class AsyncDouble(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("inp", self.handle)
        self.define_event("done", ["result"])

    async def handle(self, value: int) -> None:
        await asyncio.sleep(0.001)
        self.emit("done", result=value * 2)


class Collect(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[int] = []
        self.define_slot("inp", self.handle)

    def handle(self, result: int) -> None:
        self.received.append(result)


def _flow(flow_id: str) -> tuple[Flow, Collect]:
    flow = Flow(flow_id)
    collect = Collect()
    flow.add_routine(Source(), "src")
    flow.add_routine(AsyncDouble(), "dbl")
    flow.add_routine(collect, "out")
    flow.connect("src", "out", "dbl", "inp")
    flow.connect("dbl", "done", "out", "inp")
    return flow, collect


def test_conditional_breakpoint_pauses_before_a_coroutine_and_edits_its_input(
    registry: MonitoringRegistry,
) -> None:
    flow, collect = _flow("abp")
    bp = registry.breakpoint_manager.set_breakpoint(
        job_id="abp-1", routine_id="dbl", slot_name="inp", condition="value == 5")
    session = registry.debug_session_store.get_or_create("abp-1")
    job = flow.start("src", {"values": [1, 5, 7]}, job_id="abp-1")
    assert session.wait_until_paused(5)
    assert job.status == "paused"
    assert session.paused_at["routine_id"] == "dbl"
    assert session.variables()["local"] == {"value": 5}
    session.set_variable("value", 50)
    # Line stepping cannot enter a coroutine: a clear refusal, and the job stays paused.
    with pytest.raises(InvalidStateError, match="not available inside an async def handler"):
        session.step_into()
    assert session.is_paused
    session.step_over()     # runs the coroutine, pauses before the next activation
    assert session.wait_until_paused(5)
    session.resume()
    assert job.wait(5) and job.status == "completed", job.error
    assert sorted(collect.received) == [2, 14, 100]
    assert bp.hit_count == 1


def test_event_breakpoint_inside_a_coroutine_pauses_before_its_delivery_without_blocking_the_loop(
    registry: MonitoringRegistry,
) -> None:
    flow, collect = _flow("aev")
    other_flow, other_collect = _flow("aev-other")
    registry.breakpoint_manager.set_breakpoint(
        job_id="aev-1", routine_id="dbl", event_name="done", condition="result == 10")
    session = registry.debug_session_store.get_or_create("aev-1")
    job = flow.start("src", {"values": [1, 5]}, job_id="aev-1")
    assert session.wait_until_paused(5)
    assert session.paused_at["routine_id"] == "out"
    assert session.variables()["local"] == {"result": 10}
    # The event loop is not blocked: another job's coroutines still run to the end.
    other = other_flow.execute("src", {"values": [3, 4]}, timeout=5)
    assert other.status == "completed" and sorted(other_collect.received) == [6, 8]
    session.resume()
    assert job.wait(5) and job.status == "completed"
    assert sorted(collect.received) == [2, 10]
