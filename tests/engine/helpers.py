"""Small routines shared by the engine tests."""

from __future__ import annotations

import threading
from typing import Any

from routilux import Flow, Routine


class Ingest(Routine):
    """Doubles the list it gets and emits it."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("output", ["items"])

    def run(self, **payload: Any) -> None:
        self.emit("output", items=[x * 2 for x in payload["data"]])


class Process(Routine):
    """Sums what it gets; raises when config ``fail`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("output", ["total", "count"])

    def run(self, items: list[int]) -> None:
        if self.get_config("fail"):
            raise RuntimeError("process exploded")
        self.emit("output", total=sum(items), count=len(items))


class Validate(Routine):
    """Stores what it gets in the job's shared data."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)

    def run(self, **payload: Any) -> None:
        self.job_state.shared_data["validated"] = payload


class Gate(Routine):
    """Blocks its handler until ``release`` is set; counts calls per job in shared data."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.define_slot("trigger", self.run)
        self.define_event("output")

    def run(self, **payload: Any) -> None:
        self.entered.set()
        assert self.release.wait(10), "test never released the gate"
        self.emit("output", **payload)


def pipeline(**process_config: Any) -> Flow:
    """ingest -> process -> validate."""
    flow = Flow("pipeline")
    flow.add_routine(Ingest(), "ingest")
    process = Process()
    process.set_config(**process_config)
    flow.add_routine(process, "process")
    flow.add_routine(Validate(), "validate")
    flow.connect("ingest", "output", "process", "trigger")
    flow.connect("process", "output", "validate", "trigger")
    return flow

