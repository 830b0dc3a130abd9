"""Connections: param_mapping renames keys, fan-out copies, validate() finds wiring problems."""

from __future__ import annotations

from typing import Any

from routilux import Connection, Flow, Routine


def test_param_mapping_renames_and_passes_the_rest() -> None:
    c = Connection("a", "out", "b", "in", {"result": "value", "n": "count"})
    assert c.apply({"result": 1, "n": 2, "extra": 3}) == {"value": 1, "count": 2, "extra": 3}
    assert c.apply({"value": "old", "result": "new"}) == {"value": "new"}
    assert c.connection_id == "a.out->b.in"
    assert Connection("a", "out", "b", "in").apply(d := {"x": 1}) is d


class Producer(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("out", ["result"])

    def run(self) -> None:
        self.emit("out", result=42)


class Consumer(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)

    def run(self, value: int) -> None:
        self.job_state.shared_data.setdefault("got", []).append(value)


def test_param_mapping_in_a_flow_and_fan_out_copies() -> None:
    class Mutating(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.run)

        def run(self, **payload: Any) -> None:
            payload["result"] = "changed"
            self.job_state.shared_data["mutated"] = True

    flow = Flow()
    flow.add_routine(Producer(), "p")
    flow.add_routine(Mutating(), "m")
    flow.add_routine(Consumer(), "c")
    flow.connect("p", "out", "m", "trigger")
    flow.connect("p", "out", "c", "trigger", param_mapping={"result": "value"})
    js = flow.execute("p", timeout=5)
    assert js.status == "completed", js.error
    assert js.shared_data == {"mutated": True, "got": [42]}


def test_validate_reports_wiring_problems() -> None:
    flow = Flow()
    flow.add_routine(Producer(), "p")
    flow.add_routine(Consumer(), "c")
    assert "c: unreachable" not in " ".join(flow.validate())
    flow.connect("p", "out", "c", "trigger", param_mapping={"results": "valu"})
    problems = flow.validate()
    assert any("'results' is not an output param" in p for p in problems)
    assert any("takes no parameter 'valu'" in p for p in problems)

    class Orphan(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("input", lambda: None)

    flow.add_routine(Orphan(), "o")
    assert any(p.startswith("o: unreachable") for p in flow.validate())

    good = Flow()
    good.add_routine(Producer(), "p")
    good.add_routine(Consumer(), "c")
    good.connect("p", "out", "c", "trigger", param_mapping={"result": "value"})
    assert good.validate() == []
