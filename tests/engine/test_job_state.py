"""JobState: waiting (sync and async), JSON shape, save -> load -> resume exactly once."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from routilux import ExecutionStatus, Flow, InvalidStateError, JobState, Routine, ValidationError

from .helpers import Gate, pipeline

calls: Counter[tuple[str, Any]] = Counter()


class Fan(Routine):
    """Emits one ``item`` per element."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("item")

    def run(self, items: list[int]) -> None:
        calls[("fan", None)] += 1
        for x in items:
            self.emit("item", value=x)


class Work(Routine):
    """Counts each value."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("done")

    def run(self, value: int) -> None:
        calls[("work", value)] += 1
        self.emit("done", value=value)


class Sink(Routine):
    """Append slot: counts each delivery; blocks on ``hold`` when it gets ``block_on``."""

    def __init__(self, block_on: int | None = None) -> None:
        super().__init__()
        self.block_on = block_on
        self.entered = threading.Event()
        self.hold = threading.Event()
        self.define_slot("trigger", self.run, merge_strategy="append")

    def run(self, value: list[int]) -> None:
        calls[("sink", value[-1])] += 1
        self.job_state.shared_data["sunk"] = value
        if value[-1] == self.block_on:
            self.entered.set()
            assert self.hold.wait(10)


def build(block_on: int | None = None) -> tuple[Flow, Sink]:
    flow = Flow("saveable")
    work = Sink(block_on)
    flow.add_routine(Fan(), "fan")
    flow.add_routine(Work(), "work")
    flow.add_routine(work, "sink")
    flow.connect("fan", "item", "work", "trigger")
    flow.connect("work", "done", "sink", "trigger")
    return flow, work


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    calls.clear()


def paused_job(tmp_path: Path) -> tuple[Flow, Sink, JobState, Path]:
    flow, work = build(block_on=3)
    js = flow.start("fan", {"items": list(range(10))})
    assert work.entered.wait(5)
    flow.pause(js)
    work.hold.set()  # sink 3 finishes, then the worker parks before sink 4
    path = tmp_path / "job.json"
    js.save(path)
    return flow, work, js, path


def test_save_load_resume_in_a_new_flow_runs_each_remaining_task_once(tmp_path: Path) -> None:
    flow, _, original, path = paused_job(tmp_path)
    saved = json.loads(path.read_text())
    assert saved["status"] == "paused"
    pending = [(t["routine_id"], t["data"]) for t in saved["pending_tasks"]]
    assert pending == [("sink", {"value": v}) for v in range(4, 10)]
    assert saved["merge_buffers"] == [
        {"routine_id": "sink", "slot_name": "trigger", "data": {"value": [0, 1, 2, 3]}}]

    loaded = JobState.load(path)
    assert loaded.job_id == original.job_id and loaded.status == "paused"
    fresh, _ = build()
    resumed = fresh.resume(loaded)
    assert resumed is loaded
    assert loaded.wait(5) and loaded.status == "completed"
    assert calls[("fan", None)] == 1
    assert all(calls[("work", v)] == 1 for v in range(10)), calls
    assert all(calls[("sink", v)] == 1 for v in range(10)), calls
    # The append buffer continued from the saved one: every value exactly once, in order.
    assert loaded.shared_data["sunk"] == list(range(10))
    flow.cancel(original)


def test_resume_of_a_loaded_copy_uses_the_live_job(tmp_path: Path) -> None:
    flow, _, original, path = paused_job(tmp_path)
    loaded = JobState.load(path)
    live = flow.resume(loaded)
    assert live is original
    assert original.wait(5) and original.status == "completed"
    assert loaded.wait(5) and loaded.status == "completed"
    assert all(calls[("work", v)] == 1 for v in range(10)), calls
    assert all(calls[("sink", v)] == 1 for v in range(10)), calls


def test_save_refuses_payloads_that_are_not_json(tmp_path: Path) -> None:
    flow, work = build(block_on=0)
    js = flow.start("fan", {"items": [0, 1]})
    assert work.entered.wait(5)
    flow.pause(js)
    js.shared_data["conn"] = object()
    work.hold.set()
    with pytest.raises(ValidationError, match="not JSON-serializable"):
        js.save(tmp_path / "bad.json")
    flow.cancel(js)


def test_load_rejects_other_files(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text('{"hello": 1}')
    with pytest.raises(ValidationError, match="not a routilux job state"):
        JobState.load(p)


def test_resume_terminal_or_unsaved_job_is_refused(tmp_path: Path) -> None:
    flow = pipeline()
    js = flow.execute("ingest", {"data": [1]}, timeout=5)
    path = tmp_path / "done.json"
    js.save(path)
    loaded = JobState.load(path)
    assert loaded.wait(0) and loaded.status == "completed"
    with pytest.raises(InvalidStateError):
        flow.resume(loaded)
    with pytest.raises(InvalidStateError):
        flow.resume(JobState(flow.flow_id))


def test_await_job_state() -> None:
    flow = Flow()
    gate = Gate()
    flow.add_routine(gate, "gate")

    async def main() -> JobState:
        js = flow.start("gate", {"x": 1})
        asyncio.get_running_loop().call_soon(gate.release.set)
        return await asyncio.wait_for(js, 5)

    js = asyncio.run(main())
    assert js.status == ExecutionStatus.COMPLETED


def test_to_dict_is_json_with_iso_times() -> None:
    js = pipeline().execute("ingest", {"data": [1, 2]}, timeout=5)
    d = js.to_dict()
    json.dumps(d)
    assert d["status"] == "completed" and d["flow_id"] == "pipeline"
    for key in ("created_at", "started_at", "completed_at", "updated_at"):
        assert d[key].endswith("Z")
    assert d["routine_states"]["validate"]["execution_count"] == 1


def test_done_callback_and_repr_mimebundle() -> None:
    js = pipeline().execute("ingest", {"data": [1]}, timeout=5)
    got: list[JobState] = []
    js.add_done_callback(got.append)
    assert got == [js]
    bundle = js._repr_mimebundle_()
    assert "completed" in bundle["text/html"] and "text/plain" in bundle


def test_job_knows_its_flow_while_running_and_after_it_ended() -> None:
    import gc

    flow = Flow("owner-of-the-job")
    gate = Gate()
    flow.add_routine(gate, "gate")
    job = flow.start("gate")
    assert gate.entered.wait(5)
    assert job.flow is flow and job.runtime is not None and job.runtime.flow is flow
    gate.release.set()
    assert job.wait(5) and job.status == "completed"
    assert job.runtime is None      # the runtime is dropped at the end ...
    assert job.flow is flow         # ... the flow is still known
    del flow, gate
    gc.collect()
    assert job.flow is None         # held weakly: a finished job never keeps its flow alive


def test_a_loaded_job_gets_its_flow_when_resumed(tmp_path: Path) -> None:
    flow, _, original, path = paused_job(tmp_path)
    loaded = JobState.load(path)
    assert loaded.flow is None and loaded.runtime is None
    fresh, _ = build()
    assert fresh.resume(loaded) is loaded and loaded.flow is fresh
    assert loaded.wait(5) and loaded.flow is fresh
    flow.cancel(original)
