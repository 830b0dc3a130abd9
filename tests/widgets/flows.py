"""Small real flows for the widget tests (no fakes: real engine, real monitoring)."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from routilux import Flow, Routine

_ids = itertools.count(1)


def unique(prefix: str) -> str:
    """A flow id no other test uses (flow-level breakpoints are keyed by flow id)."""
    return f"{prefix}-{next(_ids)}"


class Source(Routine):
    """Emits ``n`` values on ``out``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("out", ["value"])

    def run(self, n: int = 3) -> None:
        for i in range(n):
            self.emit("out", value=i)


class Sink(Routine):
    """Appends what it gets to the job's shared ``seen`` list."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("inp", self.run)

    def run(self, value: Any) -> None:
        doubled = value * 2
        self.job_state.shared_data.setdefault("seen", []).append(doubled)


class Relay(Routine):
    """Passes ``value`` on."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("inp", self.run)
        self.define_event("out", ["value"])

    def run(self, value: Any) -> None:
        self.emit("out", value=value)


class Gate(Routine):
    """Blocks until ``release`` is set, then emits (lets a test pause a running job)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.define_slot("trigger", self.run)
        self.define_event("out", ["value"])

    def run(self, value: Any = 0) -> None:
        self.entered.set()
        assert self.release.wait(10), "the test never opened the gate"
        self.emit("out", value=value)


def source_sink(prefix: str = "ss") -> Flow:
    """source.out -> sink.inp."""
    flow = Flow(unique(prefix))
    flow.add_routine(Source(), "source")
    flow.add_routine(Sink(), "sink")
    flow.connect("source", "out", "sink", "inp")
    return flow


def gated(prefix: str = "gate") -> tuple[Flow, Gate]:
    """gate.out -> relay.inp -> relay.out -> sink.inp; the gate holds the job until released."""
    flow = Flow(unique(prefix))
    gate = Gate()
    flow.add_routine(gate, "gate")
    flow.add_routine(Relay(), "relay")
    flow.add_routine(Sink(), "sink")
    flow.connect("gate", "out", "relay", "inp")
    flow.connect("relay", "out", "sink", "inp")
    return flow, gate


def chain(n: int, prefix: str = "chain") -> Flow:
    """source -> r1 -> ... -> r(n-2) -> sink: ``n`` routines in a line."""
    flow = Flow(unique(prefix))
    flow.add_routine(Source(), "source")
    prev = "source"
    for i in range(1, n - 1):
        rid = f"r{i}"
        flow.add_routine(Relay(), rid)
        flow.connect(prev, "out", rid, "inp")
        prev = rid
    flow.add_routine(Sink(), "sink")
    flow.connect(prev, "out", "sink", "inp")
    return flow
