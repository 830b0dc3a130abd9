"""Routine classes for the time-travel API tests: a 5-routine order flow whose ``TtPrice`` fails
on an item without a price. Registered on import (the in-process server shares the registry)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from routilux.registry import register_routine
from routilux.routine import Routine

CALLS: Counter[str] = Counter()


class _Step(Routine):
    name = ""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger" if self.name == "load" else "inp", self.run)
        self.define_event("out", ["items"])


@register_routine(name="TtLoad")
class TtLoad(_Step):
    name = "load"

    def run(self, items: list[dict[str, Any]], **_: Any) -> None:
        CALLS["load"] += 1
        self.emit("out", items=items)


@register_routine(name="TtClean")
class TtClean(_Step):
    name = "clean"

    def run(self, items: list[dict[str, Any]]) -> None:
        CALLS["clean"] += 1
        self.emit("out", items=[{**i, "name": i["name"].strip()} for i in items])


@register_routine(name="TtPrice")
class TtPrice(_Step):
    name = "price"

    def run(self, items: list[dict[str, Any]]) -> None:
        CALLS["price"] += 1
        self.emit("out", items=[{**i, "amount": i["price"] * i["qty"]} for i in items])


@register_routine(name="TtTotal")
class TtTotal(_Step):
    name = "total"

    def run(self, items: list[dict[str, Any]]) -> None:
        CALLS["total"] += 1
        self.emit("out", items=[{"total": sum(i["amount"] for i in items)}])


@register_routine(name="TtReport")
class TtReport(_Step):
    name = "report"

    def run(self, items: list[dict[str, Any]]) -> None:
        CALLS["report"] += 1


ORDER_SPEC = {
    "routines": {rid: {"class": cls} for rid, cls in (
        ("load", "TtLoad"), ("clean", "TtClean"), ("price", "TtPrice"), ("total", "TtTotal"),
        ("report", "TtReport"))},
    "connections": [{"from": f"{a}.out", "to": f"{b}.inp"} for a, b in (
        ("load", "clean"), ("clean", "price"), ("price", "total"), ("total", "report"))],
}
BROKEN = {"items": [{"name": " tea ", "price": 2.5, "qty": 2},
                    {"name": "cake", "price": 3.0, "qty": 1},
                    {"name": " jam", "price": None, "qty": 1}]}
