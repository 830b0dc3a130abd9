"""Per-job runtime: isolation of concurrent jobs, pause, cancel, worker pool, parent chains."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from routilux import Flow, InvalidStateError, Routine
from routilux.pool import WorkerPool

from .helpers import Gate


class Source(Routine):
    """Emits ``item`` once per element of ``items``; waits at a barrier first if configured."""

    def __init__(self, barrier: threading.Barrier | None = None) -> None:
        super().__init__()
        self.barrier = barrier
        self.define_slot("trigger", self.run)
        self.define_event("item")

    def run(self, items: list[Any]) -> None:
        if self.barrier is not None:
            self.barrier.wait(5)
        for x in items:
            self.emit("item", value=x)


class Accumulate(Routine):
    """Append slot: records the accumulated list it sees last, per job."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run, merge_strategy="append")

    def run(self, value: list[Any]) -> None:
        self.job_state.shared_data["seen"] = value


def test_two_jobs_with_append_slots_never_see_each_other() -> None:
    barrier = threading.Barrier(2)
    flow = Flow()
    flow.add_routine(Source(barrier), "src")
    flow.add_routine(Accumulate(), "acc")
    flow.connect("src", "item", "acc", "trigger")
    a = flow.start("src", {"items": [f"a{i}" for i in range(50)]})
    b = flow.start("src", {"items": [f"b{i}" for i in range(50)]})
    assert a.wait(5) and b.wait(5)
    assert a.status == b.status == "completed"
    assert a.shared_data["seen"] == [f"a{i}" for i in range(50)]
    assert b.shared_data["seen"] == [f"b{i}" for i in range(50)]


def test_pausing_one_job_leaves_the_other_running() -> None:
    flow = Flow()
    gate = Gate()
    after: list[str] = []

    class After(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.run)

        def run(self, name: str) -> None:
            after.append(name)

    flow.add_routine(gate, "gate")
    flow.add_routine(After(), "after")
    flow.connect("gate", "output", "after", "trigger")
    a = flow.start("gate", {"name": "a"})
    assert gate.entered.wait(5)
    flow.pause(a)
    assert a.status == "paused"
    gate.release.set()  # a's handler finishes; its emit is queued but a is paused
    b = flow.start("gate", {"name": "b"})
    assert b.wait(5) and b.status == "completed"
    assert after == ["b"]
    assert a.status == "paused" and not a.wait(0.05)
    assert [t["routine_id"] for t in a.pending_tasks()] == ["after"]
    flow.resume(a)
    assert a.wait(5) and a.status == "completed"
    assert after == ["b", "a"]


def test_cancel_with_many_queued_tasks_returns_within_a_second() -> None:
    ran = threading.Event()
    calls = []

    class Slow(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.run)

        def run(self, value: int) -> None:
            calls.append(value)
            ran.set()

    flow = Flow()
    gate = Gate()
    flow.add_routine(Source(), "src")
    flow.add_routine(Slow(), "slow")
    flow.connect("src", "item", "slow", "trigger")
    js = flow.start("src", {"items": list(range(200_000))})
    assert ran.wait(5)
    t0 = time.perf_counter()
    flow.cancel(js)
    assert js.wait(1.0)
    assert time.perf_counter() - t0 < 1.0
    assert js.status == "cancelled"
    assert js.pending_tasks() == []
    n = len(calls)
    assert n < 200_000
    with pytest.raises(InvalidStateError):
        flow.pause(js)
    del gate


def test_cancel_during_pause_releases_the_parked_worker() -> None:
    flow = Flow()
    gate = Gate()
    flow.add_routine(gate, "gate")
    flow.add_routine(Accumulate(), "acc")
    flow.connect("gate", "output", "acc", "trigger")
    js = flow.start("gate", {"value": 1})
    assert gate.entered.wait(5)
    flow.pause(js)
    gate.release.set()
    flow.cancel(js, "user said stop")
    assert js.wait(1.0)
    assert js.status == "cancelled" and js.cancel_reason == "user said stop"
    assert "seen" not in js.shared_data
    with pytest.raises(InvalidStateError):
        flow.resume(js)
    with pytest.raises(InvalidStateError):
        flow.cancel(js)


def test_paused_jobs_never_exhaust_the_pool() -> None:
    flows = []
    jobs = []
    for _ in range(12):  # more paused jobs than any fixed pool would have
        flow = Flow()
        gate = Gate()
        flow.add_routine(gate, "gate")
        flow.add_routine(Accumulate(), "acc")
        flow.connect("gate", "output", "acc", "trigger")
        js = flow.start("gate", {"value": 1})
        assert gate.entered.wait(5)
        flow.pause(js)
        gate.release.set()
        flows.append(flow)
        jobs.append(js)
    other = Flow()
    other.add_routine(Accumulate(), "acc")
    js = other.execute("acc", {"value": 2}, timeout=5)
    assert js.status == "completed"
    for flow, job in zip(flows, jobs):
        flow.resume(job)
        assert job.wait(5) and job.status == "completed"


def test_worker_pool_reuses_idle_threads_and_retires_them() -> None:
    pool = WorkerPool(idle_seconds=0.3, name="test-pool")
    threads: list[threading.Thread] = []
    done = threading.Event()
    pool.submit(lambda: (threads.append(threading.current_thread()), done.set()))
    assert done.wait(5)
    # No event marks "went idle", so wait for that state with a deadline.
    deadline = time.monotonic() + 5
    while pool.idle != 1 and time.monotonic() < deadline:
        threading.Event().wait(0.005)
    assert pool.size == 1 and pool.idle == 1
    again = threading.Event()
    pool.submit(lambda: (threads.append(threading.current_thread()), again.set()))
    assert again.wait(5)
    assert threads[0] is threads[1] and pool.size == 1  # reused, not a new thread
    threads[0].join(5)  # retires after idling 0.3 s
    assert not threads[0].is_alive() and pool.size == 0


def test_sequential_is_fifo_and_concurrent_uses_several_workers() -> None:
    order: list[int] = []
    threads: set[str] = set()
    started = threading.Barrier(3)

    class Record(Routine):
        def __init__(self, wait: bool) -> None:
            super().__init__()
            self.wait = wait
            self.define_slot("trigger", self.run)

        def run(self, value: int) -> None:
            threads.add(threading.current_thread().name)
            if self.wait:
                started.wait(5)  # only passes if 3 handlers run at once
            order.append(value)

    seq = Flow()
    seq.add_routine(Source(), "src")
    seq.add_routine(Record(False), "rec")
    seq.connect("src", "item", "rec", "trigger")
    assert seq.execute("src", {"items": list(range(100))}, timeout=5).status == "completed"
    assert order == list(range(100))

    con = Flow(execution_strategy="concurrent", max_workers=3)
    con.add_routine(Source(), "src")
    con.add_routine(Record(True), "rec")
    con.connect("src", "item", "rec", "trigger")
    js = con.execute("src", {"items": [0, 1, 2]}, timeout=5)
    assert js.status == "completed", js.error


def test_self_loop_of_many_hops_completes() -> None:
    class Loop(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.run)
            self.define_event("again")

        def run(self, i: int, n: int) -> None:
            if i < n:
                self.emit("again", i=i + 1, n=n)
            else:
                self.job_state.shared_data["last"] = i

    flow = Flow()
    flow.add_routine(Loop(), "loop")
    flow.connect("loop", "again", "loop", "trigger")
    js = flow.execute("loop", {"i": 0, "n": 20_000}, timeout=30)
    assert js.status == "completed" and js.shared_data["last"] == 20_000
    assert js.routine_states["loop"]["execution_count"] == 20_001
    assert len(js.execution_history) == 1000  # bounded


def test_many_concurrent_jobs_with_pause_resume_churn_all_finish_correctly() -> None:
    class Square(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.run)
            self.define_event("done")

        def run(self, value: int) -> None:
            self.emit("done", value=value * value)

    class Total(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.run, merge_strategy="append")

        def run(self, value: list[int]) -> None:
            # Handlers of one job run concurrently: keep the fullest snapshot, not the last one.
            shared = self.job_state.shared_data
            with lock:
                if len(value) > len(shared.get("values", ())):
                    shared["values"] = value

    lock = threading.Lock()
    flow = Flow(execution_strategy="concurrent", max_workers=4)
    flow.add_routine(Source(), "src")
    flow.add_routine(Square(), "sq")
    flow.add_routine(Total(), "total")
    flow.connect("src", "item", "sq", "trigger")
    flow.connect("sq", "done", "total", "trigger")
    jobs = {k: flow.start("src", {"items": list(range(k, k + 300))}) for k in range(0, 20_000, 1000)}
    for _ in range(3):
        for js in jobs.values():
            try:
                flow.pause(js)
                flow.resume(js)
            except InvalidStateError:
                pass  # it finished meanwhile
    for k, js in jobs.items():
        assert js.wait(10), js.status
        assert js.status == "completed", js.error
        assert sorted(js.shared_data["values"]) == [v * v for v in range(k, k + 300)]
        assert js.routine_states["sq"]["execution_count"] == 300


@pytest.mark.parametrize("strategy, override, expected", [
    ("sequential", None, 1), ("concurrent", None, 3), ("sequential", "concurrent", 3),
    ("concurrent", "sequential", 1),
])
def test_a_running_job_exposes_its_runtime_and_how_many_workers_it_may_use(
    strategy: str, override: str | None, expected: int,
) -> None:
    from routilux.runtime import JobRuntime

    flow = Flow(execution_strategy=strategy, max_workers=3)
    gate = Gate()
    flow.add_routine(gate, "gate")
    job = flow.start("gate", execution_strategy=override)
    assert gate.entered.wait(5)
    runtime = job.runtime
    assert isinstance(runtime, JobRuntime)
    assert runtime.job_state is job and runtime.flow is flow
    assert runtime.max_workers == expected
    assert not runtime.is_paused and not runtime.is_terminal
    flow.pause(job)
    assert job.runtime is runtime and runtime.is_paused     # the same object while it lives
    flow.resume(job)
    gate.release.set()
    assert job.wait(5) and job.status == "completed"
    assert job.runtime is None      # dropped at the end (queues, buffers can be collected)
    assert runtime.is_terminal      # a kept reference still answers


def test_max_workers_is_read_only_and_caps_the_running_handlers() -> None:
    from routilux.runtime import JobRuntime

    assert isinstance(JobRuntime.max_workers, property) and JobRuntime.max_workers.fset is None
    running = 0
    peak = 0
    seen: set[int] = set()
    lock = threading.Lock()
    pairs = threading.Barrier(2)   # two handlers must meet: the job really uses both workers

    class Busy(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.run)

        def run(self, value: int) -> None:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
                seen.add(self.job_state.runtime.max_workers)
            pairs.wait(5)
            with lock:
                running -= 1

    flow = Flow(execution_strategy="concurrent", max_workers=2)
    flow.add_routine(Source(), "src")
    flow.add_routine(Busy(), "busy")
    flow.connect("src", "item", "busy", "trigger")
    job = flow.execute("src", {"items": list(range(8))}, timeout=10)
    assert job.status == "completed", job.error
    assert seen == {2}
    assert peak == 2   # both workers ran at once, never more than max_workers
