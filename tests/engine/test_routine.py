"""Routine definition API, config, error-handler shortcuts, execution context, built-ins."""

from __future__ import annotations

from typing import Any

import pytest

from routilux import ErrorStrategy, Flow, Routine, ValidationError


class Two(Routine):
    """Two slots; ``other`` emits through the Event object."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_slot("other", self.other)
        self.out = self.define_event("out", ["v"])

    def run(self, v: int) -> None:
        self.emit("out", v=v)

    def other(self, v: int) -> None:
        self.out.emit(v=v * 10)


class Keep(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)

    def run(self, v: int) -> None:
        ctx = self.get_execution_context()
        assert ctx is not None and ctx.routine_id == "keep" and ctx.job_state is self.job_state
        self.job_state.shared_data["v"] = v


def flow_two() -> Flow:
    flow = Flow()
    flow.add_routine(Two(), "two")
    flow.add_routine(Keep(), "keep")
    flow.connect("two", "out", "keep")
    return flow


def test_start_at_another_entry_slot_and_event_emit() -> None:
    flow = flow_two()
    js = flow.start("two", {"v": 4}, "other")
    assert js.wait(5) and js.shared_data == {"v": 40}
    with pytest.raises(ValidationError, match="its slots: \\['other', 'trigger'\\]"):
        flow.start("two", {}, "nope")
    with pytest.raises(ValidationError, match="routines: \\['keep', 'two'\\]"):
        flow.start("three")


def test_definition_errors_and_accessors() -> None:
    r = Two()
    with pytest.raises(ValidationError, match="already has a slot"):
        r.define_slot("trigger")
    with pytest.raises(ValidationError, match="already has an event"):
        r.define_event("out")
    assert r.get_slot("trigger").name == "trigger" and r.get_slot("x") is None
    assert r.get_event("out").output_params == ["v"] and r.get_event("x") is None
    r.set_config(a=1, b=2)
    assert r.get_config("a") == 1 and r.get_config("zz", 5) == 5 and r.config() == {"a": 1, "b": 2}
    r.set_as_optional()
    assert r.get_error_handler().strategy is ErrorStrategy.CONTINUE
    r.set_as_critical(max_retries=2)
    assert r.get_error_handler().strategy is ErrorStrategy.RETRY
    r.emit("out", v=1)  # outside a job: checked, nothing delivered

    class Forgot(Routine):
        def __init__(self) -> None:
            pass

    with pytest.raises(ValidationError, match="super\\(\\).__init__\\(\\)"):
        Flow().add_routine(Forgot())


def test_generated_ids_and_duplicates() -> None:
    flow = Flow()
    assert flow.add_routine(Keep()) == "keep"
    assert flow.add_routine(Keep()) == "keep_2"
    with pytest.raises(ValidationError, match="already has a routine 'keep'"):
        flow.add_routine(Keep(), "keep")


def test_a_handler_may_emit_for_another_routine_of_its_flow() -> None:
    helper = Two()

    class Delegate(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.run)

        def run(self, v: int) -> None:
            helper.emit("out", v=v + 1)

    flow = Flow()
    flow.add_routine(Delegate(), "delegate")
    flow.add_routine(helper, "two")
    flow.add_routine(Keep(), "keep")
    flow.connect("two", "out", "keep")
    js = flow.execute("delegate", {"v": 1}, timeout=5)
    assert js.status == "completed" and js.shared_data == {"v": 2}


def test_builtin_routines_via_the_dsl() -> None:
    flow = Flow.from_dict({
        "routines": {
            "split": {"class": "Splitter", "config": {"key": "rows"}},
            "rename": {"class": "Mapper", "config": {"mapping": {"row": "item"},
                                                     "keep_unmapped": True}},
            "pass": "PassThrough",
            "collect": {"class": "Collector", "config": {"key": "out"}},
        },
        "connections": [
            {"from": "split.item", "to": "rename.trigger"},
            {"from": "rename.output", "to": "pass.trigger"},
            {"from": "pass.output", "to": "collect.trigger"},
        ],
    })
    js = flow.execute("split", {"rows": ["a", "b"]}, timeout=5)
    assert js.status == "completed", js.error
    out: list[dict[str, Any]] = js.shared_data["out"]
    assert out == [{"row": "a", "index": 0}, {"row": "b", "index": 1}]


def test_describe_names_the_registered_class_so_a_spec_can_use_it() -> None:
    from routilux import register_routine
    from routilux.registry import unregister_routine

    @register_routine(name="RenamedForDsl")
    class Renamed(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger")

    try:
        flow = Flow("renamed")
        flow.add_routine(Renamed(), "r")
        described = flow.describe()["routines"]["r"]
        assert described["class_name"] == "RenamedForDsl"
        rebuilt = Flow.from_dict({"flow_id": "again", "routines": {
            "r": {"class": described["class_name"]}}, "connections": []})
        assert type(rebuilt.routines["r"]) is Renamed
    finally:
        unregister_routine("RenamedForDsl")
