"""Routines run on Dask workers by the executor tests (importable by the worker processes)."""

from __future__ import annotations

import os
import time
from typing import Any

from routilux import Flow, Routine

from .async_routines import Fan


def burn(loops: int) -> int:
    """A pure-Python CPU loop (holds the GIL)."""
    x = 0
    for k in range(loops):
        x += k * k
    return x


class Burn(Routine):
    """CPU work, then emits where it ran; records its pid in shared data."""

    def __init__(self, loops: int = 10_000) -> None:
        super().__init__()
        self.define_slot("trigger", self.go)
        self.define_event("done", ["i", "pid"])
        self.set_config(loops=loops)

    def go(self, i: int) -> None:
        burn(self.get_config("loops"))
        self.job_state.shared_data[f"pid{i}"] = os.getpid()
        self.emit("done", i=i, pid=os.getpid())


class Total(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.take)

    def take(self, i: int, pid: int) -> None:
        self.job_state.shared_data[f"seen{i}"] = True


class Sleep(Routine):
    """Sleeps ``seconds`` (a long remote task to cancel or to kill a worker under)."""

    def __init__(self, seconds: float = 30.0) -> None:
        super().__init__()
        self.define_slot("trigger", self.go)
        self.define_event("done", ["i", "pid"])
        self.set_config(seconds=seconds)

    def go(self, i: int = 0) -> None:
        time.sleep(self.get_config("seconds"))
        self.emit("done", i=i, pid=os.getpid())


class Flaky(Routine):
    """Fails until shared data counts ``failures`` attempts (shared writes of failed attempts
    are applied, as they are on threads)."""

    def __init__(self, failures: int = 2) -> None:
        super().__init__()
        self.define_slot("trigger", self.go)
        self.define_event("done", ["i", "pid"])
        self.set_config(failures=failures)

    def go(self, i: int) -> None:
        shared = self.job_state.shared_data
        shared["attempts"] = shared.get("attempts", 0) + 1
        if shared["attempts"] <= self.get_config("failures"):
            raise ConnectionError(f"attempt {shared['attempts']} failed")
        self.emit("done", i=i, pid=os.getpid())


class Broken(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.go)
        self.define_event("done", ["i", "pid"])

    def go(self, i: int) -> None:
        inner_helper_that_raises(i)


def inner_helper_that_raises(i: int) -> Any:
    raise KeyError(f"no record {i}")


class Stepped(Routine):
    """A handler with a few lines, for step_into."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.go)
        self.define_event("done", ["i", "pid"])

    def go(self, i: int) -> None:
        doubled = i * 2
        pid = os.getpid()
        self.emit("done", i=doubled, pid=pid)


def cpu_flow(worker: Routine | None = None, strategy: str = "concurrent",
             max_workers: int = 8, flow_id: str | None = None) -> Flow:
    """``fan -> work -> total``."""
    flow = Flow(flow_id, execution_strategy=strategy, max_workers=max_workers)
    flow.add_routine(Fan(), "fan")
    flow.add_routine(worker if worker is not None else Burn(), "work")
    flow.add_routine(Total(), "total")
    flow.connect("fan", "item", "work")
    flow.connect("work", "done", "total")
    return flow


UNPICKLED = {"count": 0}   # per process: how many Counted routines arrived here


class Counted(Burn):
    """Counts how often it is unpickled in a process (a worker should receive it once)."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        UNPICKLED["count"] += 1


def unpickled_here() -> int:
    return UNPICKLED["count"]
