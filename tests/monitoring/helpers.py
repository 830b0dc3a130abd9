"""Small routines and flows shared by the monitoring tests."""

from __future__ import annotations

import threading
from typing import Any

from routilux import Flow, Routine


class Source(Routine):
    """Emits ``out`` once per item of ``values`` (payload key)."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("out", ["value"])

    def run(self, **payload: Any) -> None:
        for v in payload.get("values", []):
            self.emit("out", value=v)


class Sink(Routine):
    """Records what its handler received (per routine instance, across jobs)."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Any] = []
        self.results: list[Any] = []
        self.lock = threading.Lock()
        self.define_slot("inp", self.handle)
        self.define_event("done", ["result"])

    def handle(self, value):
        doubled = value * 2
        total = doubled + 1
        with self.lock:
            self.received.append(value)
            self.results.append(total)
        self.emit("done", result=total)


class Tail(Routine):
    """Stores the last result in the job's shared data."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("inp", self.handle)

    def handle(self, result):
        self.job_state.shared_data["last"] = result


class Counter(Routine):
    """Emits ``tick`` ``count`` times in one activation (for event-volume tests)."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("tick", ["i"])
        self.gate: threading.Event | None = None

    def run(self, count: int) -> None:
        if self.gate is not None:
            assert self.gate.wait(10), "test never opened the gate"
        for i in range(count):
            self.emit("tick", i=i)


class Hop(Routine):
    """Ping-pong hop: re-emits ``n - 1`` until it reaches 0."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("out", ["n"])

    def run(self, n: int) -> None:
        if n > 0:
            self.emit("out", n=n - 1)


class Boom(Routine):
    """Raises on every call."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)

    def run(self, **payload: Any) -> None:
        raise ValueError("boom")


def pipeline(flow_id: str = "pipe", strategy: str = "sequential") -> tuple[Flow, Sink]:
    """r1 (Source) -> r2 (Sink) -> r3 (Tail)."""
    flow = Flow(flow_id, execution_strategy=strategy)
    flow.add_routine(Source(), "r1")
    sink = Sink()
    flow.add_routine(sink, "r2")
    flow.add_routine(Tail(), "r3")
    flow.connect("r1", "out", "r2", "inp")
    flow.connect("r2", "done", "r3", "inp")
    return flow, sink


def ping_pong(flow_id: str = "pingpong") -> Flow:
    """a <-> b, ``n`` hops in all."""
    flow = Flow(flow_id)
    flow.add_routine(Hop(), "a")
    flow.add_routine(Hop(), "b")
    flow.connect("a", "out", "b", "trigger")
    flow.connect("b", "out", "a", "trigger")
    return flow
