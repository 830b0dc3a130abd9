"""Slot handler dispatch rules and merge strategies (per job)."""

from __future__ import annotations

from typing import Any

import pytest

from routilux import Flow, Routine, ValidationError
from routilux.slot import Slot


def deliver(handler: Any, payload: dict[str, Any], merge: Any = "override") -> list[Any]:
    """Run ``handler`` as the entry slot of a one-routine flow; return what it recorded."""
    got: list[Any] = []

    class Direct(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler_bound(handler, got), merge)

    flow = Flow()
    flow.add_routine(Direct(), "r")
    js = flow.execute("r", payload, timeout=5)
    assert js.status == "completed", js.error
    return got


def handler_bound(handler: Any, got: list[Any]) -> Any:
    # functools.partial keeps the signature minus the bound leading ``got`` parameter.
    import functools

    return functools.partial(handler, got)


def test_kwargs_handler_gets_the_payload_as_keywords() -> None:
    def h(got: list[Any], **kw: Any) -> None:
        got.append(kw)

    assert deliver(h, {"a": 1, "b": 2}) == [{"a": 1, "b": 2}]


def test_single_data_parameter_gets_the_whole_payload() -> None:
    def h(got: list[Any], data: Any) -> None:
        got.append(data)

    assert deliver(h, {"a": 1, "data": 2}) == [{"a": 1, "data": 2}]


def test_single_other_parameter_gets_its_key_or_the_dict() -> None:
    def h(got: list[Any], value: Any) -> None:
        got.append(value)

    assert deliver(h, {"value": 5, "x": 1}) == [5]
    assert deliver(h, {"x": 1}) == [{"x": 1}]


def test_several_parameters_get_matching_keys() -> None:
    def h(got: list[Any], a: int, b: int = 0, c: int = 0) -> None:
        got.append((a, b, c))

    assert deliver(h, {"a": 1, "c": 3, "zzz": 9}) == [(1, 0, 3)]


def test_parameters_absent_from_the_payload_keep_their_defaults() -> None:
    def several(got: list[Any], rate: int = 10, seconds: float = 1.0) -> None:
        got.append((rate, seconds))

    def lone(got: list[Any], rate: int = 10) -> None:
        got.append(rate)

    assert deliver(several, {}) == [(10, 1.0)]
    assert deliver(several, {"other": 1}) == [(10, 1.0)]
    assert deliver(lone, {"other": 1}) == [10]
    assert deliver(lone, {"rate": 3}) == [3]


def test_no_parameter_handler_and_no_handler() -> None:
    def h(got: list[Any]) -> None:
        got.append("called")

    assert deliver(h, {"a": 1}) == ["called"]
    flow = Flow()

    class Quiet(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger")

    flow.add_routine(Quiet(), "q")
    assert flow.execute("q", {"a": 1}, timeout=5).status == "completed"


def test_dispatch_is_decided_once_at_define_time() -> None:
    slot = Slot("s", handler=lambda x, y: None)
    assert slot.params == ("x", "y")
    assert Slot("s", handler=lambda **kw: None).accepts("anything")
    with pytest.raises(ValidationError, match="callable"):
        Slot("s", handler=42)  # type: ignore[arg-type]


class Emit(Routine):
    """Emits each element of ``items`` as ``value`` (plus fixed keys)."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("out")

    def run(self, items: list[Any]) -> None:
        for i, x in enumerate(items):
            self.emit("out", value=x, index=i)


class Keep(Routine):
    """Stores the last merged payload in shared data."""

    def __init__(self, merge: Any) -> None:
        super().__init__()
        self.define_slot("trigger", self.run, merge_strategy=merge)

    def run(self, data: dict[str, Any]) -> None:
        self.job_state.shared_data.setdefault("seen", []).append(data)


def merged(merge: Any, items: list[Any]) -> list[dict[str, Any]]:
    flow = Flow()
    flow.add_routine(Emit(), "emit")
    flow.add_routine(Keep(merge), "keep")
    flow.connect("emit", "out", "keep", "trigger")
    js = flow.execute("emit", {"items": items}, timeout=5)
    assert js.status == "completed", js.error
    return js.shared_data["seen"]


def test_override_hands_each_delivery_as_is() -> None:
    assert merged("override", ["a", "b"]) == [{"value": "a", "index": 0},
                                             {"value": "b", "index": 1}]


def test_append_accumulates_per_job_and_hands_snapshots() -> None:
    seen = merged("append", ["a", "b", "c"])
    assert seen[0] == {"value": ["a"], "index": [0]}
    assert seen[2] == {"value": ["a", "b", "c"], "index": [0, 1, 2]}
    # A second job starts from an empty buffer.
    assert merged("append", ["z"]) == [{"value": ["z"], "index": [0]}]


def test_callable_merge_gets_old_and_new() -> None:
    def total(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        return {"sum": old.get("sum", 0) + new["value"]}

    assert [d["sum"] for d in merged(total, [1, 2, 3])] == [1, 3, 6]


def test_unknown_merge_strategy_is_refused() -> None:
    with pytest.raises(ValidationError, match="'override', 'append' or a callable"):
        Slot("s", handler=None, merge_strategy="concat")


def test_merge_callable_returning_non_dict_fails_the_job() -> None:
    flow = Flow()
    flow.add_routine(Emit(), "emit")
    flow.add_routine(Keep(lambda old, new: [new]), "keep")
    flow.connect("emit", "out", "keep", "trigger")
    js = flow.execute("emit", {"items": [1]}, timeout=5)
    assert js.status == "failed" and "must return a dict" in js.error
