"""DSL: specs through the registry only, round trips, clear errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import routilux
from routilux import Flow, Routine, UnknownRoutineClassError, ValidationError
from routilux.registry import unregister_routine

from .helpers import Ingest, Process, Validate


@pytest.fixture(autouse=True)
def registered() -> Any:
    routilux.register_routine(Ingest)
    routilux.register_routine(name="ProcessStep")(Process)
    routilux.register_routine("Check")(Validate)
    yield
    for name in ("Ingest", "ProcessStep", "Check"):
        unregister_routine(name)


SPEC_YAML = """
flow_id: dsl_flow
routines:
  ingest: {class: Ingest}
  process:
    class: ProcessStep
    config: {threshold: 3}
    error_handler: {strategy: continue}
  validate: {class: Check}
  echo: {class: PassThrough}
connections:
  - {from: ingest.output, to: echo.trigger}
  - {from: echo.output, to: process.trigger}
  - {from: process.output, to: validate.trigger, param_mapping: {total: sum}}
execution: {strategy: concurrent, max_workers: 3}
"""


def test_yaml_spec_builds_a_working_flow_and_round_trips(tmp_path: Path) -> None:
    flow = Flow.from_yaml(SPEC_YAML)
    assert (flow.flow_id, flow.execution_strategy, flow.max_workers) == ("dsl_flow", "concurrent", 3)
    assert flow.routines["process"].get_config("threshold") == 3
    assert flow.routines["process"].get_error_handler().strategy.value == "continue"
    js = flow.execute("ingest", {"data": [1, 2]}, timeout=5)
    assert js.status == "completed", js.error
    assert js.shared_data["validated"] == {"sum": 6, "count": 2}

    spec = flow.serialize()
    again = Flow.deserialize(spec)
    assert again.to_dict() == spec
    assert [c.to_dict() for c in again.connections] == [c.to_dict() for c in flow.connections]
    assert {rid: type(r) for rid, r in again.routines.items()} == {
        rid: type(r) for rid, r in flow.routines.items()}
    # In-place (0.10 style) deserialize fills an existing flow.
    target = Flow("other")
    target.deserialize(spec)
    assert target.describe()["connections"] == flow.describe()["connections"]
    path = tmp_path / "flow.yaml"
    import yaml

    path.write_text(yaml.safe_dump(spec))
    assert Flow.from_yaml(str(path)).to_dict() == spec


def test_unknown_class_lists_registered_names() -> None:
    with pytest.raises(UnknownRoutineClassError) as err:
        Flow.from_dict({"routines": {"a": {"class": "Nope"}}})
    assert isinstance(err.value, ValueError)
    for name in ("Ingest", "ProcessStep", "Check", "PassThrough", "Mapper"):
        assert name in str(err.value)
    assert "Ingest" in err.value.detail["registered"]


@pytest.mark.parametrize("name", ["os.system", "subprocess:Popen", "tests.engine.helpers.Ingest"])
def test_dotted_import_paths_are_refused_not_imported(name: str) -> None:
    before = set(sys.modules)
    with pytest.raises(UnknownRoutineClassError, match="never imports"):
        Flow.from_dict({"routines": {"a": {"class": name}}})
    assert set(sys.modules) == before


@pytest.mark.parametrize("spec, field", [
    ([], "spec"),
    ({"routines": {}}, "routines"),
    ({"routines": {"a": {"klass": "Ingest"}}}, "routines.a"),
    ({"routines": {"a": "Ingest"}, "connections": [{"from": "a", "to": "a.trigger"}]},
     "connections[0].from"),
    ({"routines": {"a": "Ingest"}, "connections": [{"from": "a.output", "to": "b.trigger"}]},
     "connections[0].to"),
    ({"routines": {"a": "Ingest"}, "execution": {"strategy": "parallel"}}, "execution.strategy"),
    ({"routines": {"a": "Ingest"}, "execution": {"max_workers": 0}}, "execution.max_workers"),
    ({"routines": {"a": "Ingest"}, "bogus": 1}, "spec"),
])
def test_bad_specs_name_the_field(spec: Any, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        Flow.from_dict(spec)
    assert str(err.value).startswith(field)


def test_bad_wiring_in_spec_names_alternatives() -> None:
    with pytest.raises(ValidationError, match="its events: \\['output'\\]"):
        Flow.from_dict({"routines": {"a": "Ingest", "b": "Check"},
                        "connections": [{"from": "a.nope", "to": "b.trigger"}]})


def test_yaml_uses_safe_load() -> None:
    with pytest.raises(ValidationError, match="does not parse"):
        Flow.from_yaml("routines: !!python/object/apply:os.system ['true']")


def test_registry_rules() -> None:
    with pytest.raises(ValidationError, match="not allowed"):
        routilux.register_routine(name="a.b")(Ingest)

    class Ingest2(Routine):
        pass

    with pytest.raises(ValidationError, match="already registered"):
        routilux.register_routine(name="Ingest")(Ingest2)
    # Re-running a notebook cell (same module and qualname) replaces the class.
    Rerun = type("Ingest", (Routine,), {"__module__": Ingest.__module__,
                                         "__qualname__": Ingest.__qualname__})
    routilux.register_routine(Rerun)
    assert routilux.get_routine_class("Ingest") is Rerun
    assert "PassThrough" in routilux.registered_routines()
    assert routilux.load_entry_point_routines() == []
