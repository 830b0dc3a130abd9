"""A 5-routine order flow whose third routine fails on an item without a price (time-travel tests)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from routilux import Flow, Routine

CALLS: Counter[str] = Counter()


class Load(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("out", ["items"])

    def run(self, items: list[dict[str, Any]], **_: Any) -> None:
        CALLS["load"] += 1
        self.emit("out", items=[dict(item) for item in items])


class Clean(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("inp", self.run)
        self.define_event("out", ["items"])

    def run(self, items: list[dict[str, Any]]) -> None:
        CALLS["clean"] += 1
        if self.job_state is not None:
            self.job_state.shared_data["cleaned"] = len(items)
        self.emit("out", items=[{**item, "name": item["name"].strip()} for item in items])


class Price(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("inp", self.run)
        self.define_event("out", ["lines"])

    def run(self, items: list[dict[str, Any]]) -> None:
        CALLS["price"] += 1
        lines = [{"name": i["name"], "amount": i["price"] * i["qty"]} for i in items]
        self.emit("out", lines=lines)


class Total(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("inp", self.run)
        self.define_event("out", ["total", "count"])

    def run(self, lines: list[dict[str, Any]]) -> None:
        CALLS["total"] += 1
        self.emit("out", total=round(sum(line["amount"] for line in lines), 2), count=len(lines))


class Report(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.reports: list[dict[str, Any]] = []
        self.define_slot("inp", self.run)

    def run(self, total: float, count: int) -> None:
        CALLS["report"] += 1
        cleaned = self.job_state.shared_data.get("cleaned") if self.job_state else None
        self.reports.append({"total": total, "count": count, "cleaned": cleaned})


def order_flow(flow_id: str = "orders") -> Flow:
    flow = Flow(flow_id)
    for rid, cls in (("load", Load), ("clean", Clean), ("price", Price), ("total", Total),
                     ("report", Report)):
        flow.add_routine(cls(), rid)
    flow.connect("load", "out", "clean", "inp")
    flow.connect("clean", "out", "price", "inp")
    flow.connect("price", "out", "total", "inp")
    flow.connect("total", "out", "report", "inp")
    return flow


BROKEN = {"items": [{"name": " tea ", "price": 2.5, "qty": 2},
                    {"name": "cake", "price": 3.0, "qty": 1},
                    {"name": " jam", "price": None, "qty": 1}]}
