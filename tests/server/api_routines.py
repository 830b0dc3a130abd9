"""Routine classes for the API tests, registered for DSL specs.

The servers under test import this module through ``c.RoutiluxExtension.routine_modules``
(the test directory is on ``sys.path``; the subprocess server gets it through ``PYTHONPATH``).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from routilux.registry import register_routine
from routilux.routine import Routine

# Gates that ApiGate handlers block on, by config name; tests set them to let jobs finish.
GATES: defaultdict[str, threading.Event] = defaultdict(threading.Event)
ENTERED: defaultdict[str, threading.Event] = defaultdict(threading.Event)


@register_routine(name="ApiNumbers")
class ApiNumbers(Routine):
    """Emits ``item`` with ``value`` 0..count-1."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("item", ["value"])

    def run(self, count: int = 3, **_: Any) -> None:
        for i in range(count):
            self.emit("item", value=i)


@register_routine(name="ApiSum")
class ApiSum(Routine):
    """Adds each ``value`` to the job's shared ``total``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", self.run)
        self.define_event("done", ["total"])

    def run(self, value: int) -> None:
        shared = self.job_state.shared_data
        step = value * 1
        shared["total"] = shared.get("total", 0) + step
        self.emit("done", total=shared["total"])


@register_routine(name="ApiGate")
class ApiGate(Routine):
    """Blocks until ``GATES[config gate]`` is set (at most 10 s), so a job stays running."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("output")

    def run(self, **payload: Any) -> None:
        name = self.get_config("gate", "default")
        ENTERED[name].set()
        GATES[name].wait(10)
        self.emit("output", **payload)


SUM_SPEC: dict[str, Any] = {
    "flow_id": "sum_flow",
    "routines": {"numbers": {"class": "ApiNumbers"}, "sum": {"class": "ApiSum"}},
    "connections": [{"from": "numbers.item", "to": "sum.input"}],
}

SUM_YAML = """
flow_id: sum_yaml
routines:
  numbers: {class: ApiNumbers}
  sum: {class: ApiSum}
connections:
  - {from: numbers.item, to: sum.input}
"""


def gate_spec(flow_id: str, gate: str) -> dict[str, Any]:
    """A one-routine flow whose job blocks until ``GATES[gate]`` is set."""
    return {"flow_id": flow_id, "routines": {"gate": {"class": "ApiGate", "config": {"gate": gate}}}}
