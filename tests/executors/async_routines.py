"""Routines with ``async def`` handlers shared by the executor tests."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from routilux import Flow, Routine


class Fan(Routine):
    """Emits ``item`` ``n`` times (a plain handler)."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("item", ["i"])

    def run(self, n: int) -> None:
        for i in range(n):
            self.emit("item", i=i)


class Sleepy(Routine):
    """Awaits ``asyncio.sleep(delay)`` then emits its input and the job it believes it is in."""

    def __init__(self, delay: float = 0.2) -> None:
        super().__init__()
        self.delay = delay
        self.define_slot("trigger", self.go)
        self.define_event("done", ["i", "job_id"])

    async def go(self, i: int) -> None:
        await asyncio.sleep(self.delay)
        self.emit("done", i=i, job_id=self.job_id)


class Count(Routine):
    """Counts deliveries per job in shared data and checks they came from that job."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.take)
        self.wrong: list[Any] = []

    def take(self, i: int, job_id: str) -> None:
        if job_id != self.job_id:
            self.wrong.append((i, job_id, self.job_id))
        shared = self.job_state.shared_data
        shared["n"] = shared.get("n", 0) + 1
        shared.setdefault("seen", set()).add(i)


class AsyncCount(Count):
    """:class:`Count` as a coroutine: the whole fan-out then runs on the event loop."""

    def __init__(self) -> None:
        Routine.__init__(self)
        self.define_slot("trigger", self.atake)
        self.wrong = []

    async def atake(self, i: int, job_id: str) -> None:
        self.take(i, job_id)


class Hold(Routine):
    """An async handler that waits until :meth:`release` (or cancellation), recording calls."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.cancelled = threading.Event()
        self.calls = 0
        self._gate: asyncio.Event | None = None
        self.define_slot("trigger", self.go)
        self.define_event("done", ["i"])

    async def go(self, i: int = 0) -> None:
        if self._gate is None:
            self._gate = asyncio.Event()   # made on the loop thread that awaits it
        self.calls += 1
        self.started.set()
        try:
            await asyncio.wait_for(self._gate.wait(), 30)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        self.emit("done", i=i)

    def release(self) -> None:
        """Let every waiting and future call through (thread-safe)."""
        from routilux.executors.loop import get_event_loop_thread

        get_event_loop_thread().call(lambda: self._gate and self._gate.set())


def fan_flow(worker: Routine, n_workers: int = 10_000, flow_id: str | None = None,
             count: Routine | None = None) -> Flow:
    """``fan -> worker -> count``, concurrent."""
    flow = Flow(flow_id, execution_strategy="concurrent", max_workers=n_workers)
    flow.add_routine(Fan(), "fan")
    flow.add_routine(worker, "work")
    flow.add_routine(count if count is not None else Count(), "count")
    flow.connect("fan", "item", "work")
    flow.connect("work", "done", "count")
    return flow
