"""Routine classes for the service tests (registered under ``Svc*`` names)."""

from __future__ import annotations

import threading
from typing import Any

from routilux.registry import register_routine
from routilux.routine import Routine

RELEASE = threading.Event()  # SvcHold handlers wait on it (tests set it in teardown)


@register_routine(name="SvcNumbers")
class SvcNumbers(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("item", ["value"])

    def run(self, count: int = 3, **_: Any) -> None:
        for i in range(count):
            self.emit("item", value=i)


@register_routine(name="SvcSum")
class SvcSum(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", self.run)

    def run(self, value: int) -> None:
        shared = self.job_state.shared_data
        shared["total"] = shared.get("total", 0) + value


@register_routine(name="SvcHold")
class SvcHold(Routine):
    """Holds its worker until ``RELEASE`` is set (at most 10 s)."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)

    def run(self, **_: Any) -> None:
        RELEASE.wait(10)


SPEC: dict[str, Any] = {
    "flow_id": "numbers",
    "routines": {"numbers": {"class": "SvcNumbers"}, "sum": {"class": "SvcSum"}},
    "connections": [{"from": "numbers.item", "to": "sum.input"}],
}
HOLD_SPEC: dict[str, Any] = {"flow_id": "hold", "routines": {"hold": {"class": "SvcHold"}}}
