"""``async def`` handlers: one shared loop thread, context-local jobs, error strategies, control."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from routilux import ErrorHandler, ErrorStrategy, Flow, Routine

from .async_routines import Count, Fan, Hold, Sleepy, fan_flow


def test_ten_thousand_waiting_coroutines_finish_fast_on_few_threads() -> None:
    # In a fresh process, so idle pool threads left by other tests do not count.
    code = textwrap.dedent("""
        import json, sys, threading, time
        sys.path.insert(0, %r)
        from tests.executors.async_routines import AsyncCount, Sleepy, fan_flow
        # Ten jobs: each plain entry handler fans out 1000 coroutines whose emits are counted
        # by a coroutine too (a plain handler there would run on threads, up to max_workers).
        flow = fan_flow(Sleepy(0.2), count=AsyncCount())
        peak = [threading.active_count()]
        done = threading.Event()
        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], threading.active_count())
                time.sleep(0.002)
        sampler = threading.Thread(target=sample); sampler.start()
        t0 = time.perf_counter()
        jobs = [flow.start("fan", {"n": 1000}) for _ in range(10)]
        ok = all(j.wait(30) for j in jobs)
        elapsed = time.perf_counter() - t0
        done.set(); sampler.join()
        count = flow.routines["count"]
        print(json.dumps({"ok": ok, "elapsed": elapsed, "peak": peak[0] - 1,
                          "status": [j.status for j in jobs],
                          "n": [j.shared_data.get("n") for j in jobs],
                          "complete": [len(j.shared_data.get("seen", ())) for j in jobs],
                          "wrong": len(count.wrong)}))
    """) % (str(__import__("pathlib").Path(__file__).resolve().parents[2]),)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["ok"] and r["status"] == ["completed"] * 10
    # Every emit reached the job it came from: 1000 distinct items per job, none crossed.
    assert r["n"] == [1000] * 10 and r["complete"] == [1000] * 10 and r["wrong"] == 0
    assert r["elapsed"] < 2.0, r
    assert r["peak"] < 20, r   # the sampler thread itself is not counted


def test_self_context_is_per_coroutine_and_reaches_spawned_tasks() -> None:
    class Spawner(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.go)
            self.define_event("done", ["i", "job_id"])

        async def go(self, i: int) -> None:
            async def child() -> None:
                await asyncio.sleep(0.01)
                # A task the handler spawned still emits as this activation.
                self.emit("done", i=i, job_id=self.job_id)
                self.job_state.shared_data[f"child{i}"] = self.routine_id

            await asyncio.gather(child())

    flow = fan_flow(Spawner(), 50)
    jobs = [flow.start("fan", {"n": 20}) for _ in range(5)]
    assert all(j.wait(10) for j in jobs)
    for j in jobs:
        assert j.status == "completed", j.error
        assert j.shared_data["n"] == 20
        assert {j.shared_data[f"child{i}"] for i in range(20)} == {"work"}
    assert flow.routines["count"].wrong == []


def test_async_handler_error_follows_stop_and_continue() -> None:
    class Boom(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.go)
            self.define_event("done", ["i", "job_id"])

        async def go(self, i: int) -> None:
            await asyncio.sleep(0)
            if i == 3:
                raise ValueError("bad item 3")
            self.emit("done", i=i, job_id=self.job_id)

    flow = fan_flow(Boom(), 4)
    js = flow.execute("fan", {"n": 6}, timeout=10)
    assert js.status == "failed"
    assert "work.trigger: ValueError: bad item 3" in js.error

    flow.set_error_handler(ErrorHandler(ErrorStrategy.CONTINUE))
    js = flow.execute("fan", {"n": 6}, timeout=10)
    assert js.status == "completed"
    assert js.shared_data["n"] == 5
    assert [e["error"] for e in js.errors] == ["work.trigger: ValueError: bad item 3"]


def test_retry_with_backoff_reruns_the_coroutine_without_holding_a_thread() -> None:
    class Flaky(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.attempts: list[float] = []
            self.define_slot("trigger", self.go)
            self.define_event("done", ["i", "job_id"])

        async def go(self, i: int) -> None:
            self.attempts.append(time.monotonic())
            await asyncio.sleep(0)
            self.emit("done", i=i, job_id=self.job_id)  # held until an attempt succeeds
            if len(self.attempts) < 3:
                raise ConnectionError("try again")

    flaky = Flaky()
    flaky.set_error_handler(ErrorHandler(ErrorStrategy.RETRY, max_retries=3, retry_delay=0.1,
                                         retry_backoff=2.0))
    flow = fan_flow(flaky, 4)
    js = flow.execute("fan", {"n": 1}, timeout=10)
    assert js.status == "completed", js.error
    assert len(flaky.attempts) == 3
    gap1 = flaky.attempts[1] - flaky.attempts[0]
    gap2 = flaky.attempts[2] - flaky.attempts[1]
    assert 0.09 <= gap1 < 1.0 and 0.19 <= gap2 < 1.5, (gap1, gap2)
    # Emits of failed attempts never left them: one delivery downstream.
    assert js.shared_data["n"] == 1


def test_pause_holds_new_coroutines_and_resume_runs_them() -> None:
    hold = Hold()
    flow = Flow(execution_strategy="sequential")
    flow.add_routine(Fan(), "fan")
    flow.add_routine(hold, "hold")
    flow.connect("fan", "item", "hold")
    js = flow.start("fan", {"n": 3})
    assert hold.started.wait(5)
    flow.pause(js)
    assert js.status == "paused"
    hold.started.clear()
    hold.release()   # the running coroutine finishes; the next two must wait for resume
    assert not hold.started.wait(0.3)
    assert js.status == "paused" and hold.calls == 1
    flow.resume(js)
    assert js.wait(5)
    assert js.status == "completed" and hold.calls == 3


def test_cancel_cancels_running_coroutines() -> None:
    hold = Hold()
    flow = fan_flow(hold, 10)
    js = flow.start("fan", {"n": 5})
    assert hold.started.wait(5)
    flow.cancel(js)
    assert js.wait(5)
    assert js.status == "cancelled"
    assert hold.cancelled.wait(5), "the running coroutine was not cancelled"


def test_aexecute_runs_a_job_without_blocking_the_loop() -> None:
    flow = fan_flow(Sleepy(0.05), 100)

    async def main() -> tuple[str, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        t = asyncio.ensure_future(ticker())
        js = await flow.aexecute("fan", {"n": 50})
        t.cancel()
        return js.status, ticks

    status, ticks = asyncio.run(main())
    assert status == "completed"
    assert ticks >= 5   # the caller's loop kept running while the job ran


def test_mixed_sync_and_async_handlers_in_one_flow_keep_the_concurrency_cap() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()

    class Track(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.go)
            self.define_event("done", ["i", "job_id"])

        async def go(self, i: int) -> None:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            await asyncio.sleep(0.01)
            with lock:
                running -= 1
            self.emit("done", i=i, job_id=self.job_id)

    flow = fan_flow(Track(), 7)
    js = flow.execute("fan", {"n": 100}, timeout=10)
    assert js.status == "completed" and js.shared_data["n"] == 100
    assert peak <= 7
    assert peak >= 2   # they did overlap


def test_a_slot_turned_async_after_the_job_started_fails_with_a_clear_error() -> None:
    flow = Flow()
    fan, count = Fan(), Count()
    flow.add_routine(fan, "fan")
    flow.add_routine(count, "count")
    flow.connect("fan", "item", "count")
    gate = threading.Event()

    class Slow(Routine):
        pass

    def first(n: int) -> None:
        gate.wait(5)
        fan.emit("item", i=0)

    fan.get_slot("trigger").set_handler(first)
    js = flow.start("fan", {"n": 1})

    async def late(i: int, job_id: str = "") -> None:
        return None

    count.get_slot("trigger").set_handler(late)
    gate.set()
    assert js.wait(5)
    assert js.status == "failed"
    assert "start a new job" in js.error


def test_import_routilux_does_not_import_asyncio_or_dask() -> None:
    code = ("import sys, routilux, routilux.executors\n"
            "bad = [m for m in ('asyncio', 'dask', 'distributed', 'cloudpickle') "
            "if m in sys.modules]\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("monitoring", [False, True])
def test_async_jobs_are_traced_like_thread_jobs(monitoring: bool) -> None:
    from routilux.monitoring import MonitoringRegistry

    reg = MonitoringRegistry() if monitoring else None
    if reg is not None:
        reg.install()
    try:
        flow = fan_flow(Sleepy(0.01), 10)
        js = flow.execute("fan", {"n": 5}, timeout=10)
        assert js.status == "completed"
        if reg is not None:
            trace = reg.monitor_collector.get_execution_trace(js.job_id)
            starts = [e["routine_id"] for e in trace if e["event_type"] == "routine_start"]
            assert sorted(starts) == sorted(["fan"] + ["work"] * 5 + ["count"] * 5)
            m = reg.monitor_collector.get_metrics(js.job_id)
            assert m["routine_metrics"]["work"]["execution_count"] == 5
            # A coroutine's duration covers its await.
            assert m["routine_metrics"]["work"]["min_duration"] >= 0.009
    finally:
        if reg is not None:
            reg.uninstall()


def test_retries_of_thousands_of_interleaved_coroutines_stay_with_their_jobs() -> None:
    class FailOnce(Routine):
        """Fails the first attempt of every item of every job; emits on the second."""

        def __init__(self) -> None:
            super().__init__()
            self.attempts: dict[tuple[str, int], int] = {}
            self.lock = threading.Lock()
            self.define_slot("trigger", self.go)
            self.define_event("done", ["i", "job_id"])

        async def go(self, i: int) -> None:
            key = (self.job_id, i)
            with self.lock:
                self.attempts[key] = n = self.attempts.get(key, 0) + 1
            await asyncio.sleep(0.01)
            self.emit("done", i=i, job_id=self.job_id)   # held until the attempt succeeds
            if n == 1:
                raise TimeoutError(f"item {i}: upstream timed out")

    worker = FailOnce()
    worker.set_error_handler(ErrorHandler(ErrorStrategy.RETRY, max_retries=2, retry_delay=0.05,
                                          retry_backoff=2.0))
    flow = fan_flow(worker, 1000)
    jobs = [flow.start("fan", {"n": 100}) for _ in range(20)]
    assert all(j.wait(30) for j in jobs)
    for j in jobs:
        assert j.status == "completed", j.error
        assert j.shared_data["n"] == 100 and len(j.shared_data["seen"]) == 100
    assert len(worker.attempts) == 2000 and set(worker.attempts.values()) == {2}
    assert flow.routines["count"].wrong == []
