"""BreakpointManager: creating, scoping, editing and matching breakpoints."""

from __future__ import annotations

import threading

import pytest

from routilux.errors import ConditionError, NotFoundError, ValidationError
from routilux.monitoring import Breakpoint, BreakpointManager


def test_type_is_inferred_from_what_is_given() -> None:
    bm = BreakpointManager()
    assert bm.set_breakpoint(job_id="j", routine_id="r").type == "routine"
    assert bm.set_breakpoint(job_id="j", routine_id="r", slot_name="s").type == "slot"
    assert bm.set_breakpoint(job_id="j", routine_id="r", event_name="e").type == "event"


def test_to_dict_has_the_api_shape() -> None:
    bp = BreakpointManager().set_breakpoint(flow_id="f", routine_id="r", slot_name="s",
                                            condition="x > 1")
    d = bp.to_dict()
    assert set(d) >= {"breakpoint_id", "job_id", "flow_id", "type", "routine_id", "slot_name",
                      "event_name", "condition", "enabled", "hit_count"}
    assert d["job_id"] is None and d["flow_id"] == "f" and d["hit_count"] == 0


@pytest.mark.parametrize("kwargs, match", [
    ({"routine_id": "r"}, "job_id"),
    ({"job_id": "j", "routine_id": ""}, "routine_id"),
    ({"job_id": "j", "routine_id": "r", "type": "line"}, "type"),
    ({"job_id": "j", "routine_id": "r", "type": "slot"}, "slot_name"),
    ({"job_id": "j", "routine_id": "r", "type": "event"}, "event_name"),
])
def test_bad_breakpoints_are_rejected_with_a_reason(kwargs: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        BreakpointManager().set_breakpoint(**kwargs)


def test_a_bad_condition_is_rejected_when_set() -> None:
    bm = BreakpointManager()
    with pytest.raises(ConditionError, match="attribute access") as rejected:
        bm.set_breakpoint(job_id="j", routine_id="r", condition="data.__class__")
    assert rejected.value.detail["field"] == "condition"
    assert rejected.value.detail["condition"] == "data.__class__"
    assert bm.get_breakpoints() == []


def test_scoping_job_and_flow() -> None:
    bm = BreakpointManager()
    own = bm.set_breakpoint(job_id="j1", routine_id="r")
    flow_wide = bm.set_breakpoint(flow_id="f", routine_id="r")
    other = bm.set_breakpoint(job_id="j2", routine_id="r")
    assert {b.breakpoint_id for b in bm.get_breakpoints(job_id="j1", flow_id="f")} == {
        own.breakpoint_id, flow_wide.breakpoint_id}
    assert bm.get_breakpoints(job_id="j2") == [other]
    assert bm.match_activation("j1", "f", "r", "s", {}, {}) is own
    assert bm.match_activation("j3", "f", "r", "s", {}, {}) is flow_wide  # any job of the flow
    assert bm.match_activation("j3", "g", "r", "s", {}, {}) is None
    assert bm.match_activation("j1", "f", "other", "s", {}, {}) is None


def test_slot_event_and_condition_matching_and_hit_counts() -> None:
    bm = BreakpointManager()
    slot_bp = bm.set_breakpoint(job_id="j", routine_id="r", slot_name="a", condition="v > 10")
    event_bp = bm.set_breakpoint(job_id="j", routine_id="r", event_name="out")
    assert bm.match_activation("j", None, "r", "b", {"v": 99}, {}) is None      # other slot
    assert bm.match_activation("j", None, "r", "a", {"v": 1}, {}) is None       # condition false
    assert bm.match_activation("j", None, "r", "a", {"v": 11}, {}) is slot_bp
    assert bm.match_emit("j", None, "r", "out", {}, {}) is event_bp
    assert bm.match_emit("j", None, "r", "other", {}, {}) is None
    assert slot_bp.hit_count == 1 and event_bp.hit_count == 1


def test_condition_sees_shared_data() -> None:
    bm = BreakpointManager()
    bp = bm.set_breakpoint(job_id="j", routine_id="r", condition="shared.get('n', 0) >= 3")
    assert bm.match_activation("j", None, "r", "s", {}, {"n": 2}) is None
    assert bm.match_activation("j", None, "r", "s", {}, {"n": 3}) is bp


def test_update_enable_and_condition() -> None:
    bm = BreakpointManager()
    bp = bm.set_breakpoint(job_id="j", routine_id="r", condition="v > 1")
    bm.update(bp.breakpoint_id, enabled=False)
    assert not bm.active and bm.match_activation("j", None, "r", "s", {"v": 5}, {}) is None
    bm.update(bp.breakpoint_id, enabled=True, condition="v > 100")
    assert bm.match_activation("j", None, "r", "s", {"v": 5}, {}) is None
    bm.update(bp.breakpoint_id, condition=None)
    assert bp.condition is None and bm.match_activation("j", None, "r", "s", {"v": 5}, {}) is bp
    with pytest.raises(ConditionError):
        bm.update(bp.breakpoint_id, condition="lambda: 1")
    assert bp.condition is None  # a rejected edit changes nothing
    with pytest.raises(NotFoundError):
        bm.update("missing", enabled=True)


def test_remove_and_clear() -> None:
    bm = BreakpointManager()
    a = bm.set_breakpoint(job_id="j1", routine_id="r")
    bm.set_breakpoint(job_id="j1", routine_id="q")
    bm.set_breakpoint(flow_id="f", routine_id="r")
    with pytest.raises(NotFoundError):
        bm.remove_breakpoint(a.breakpoint_id, job_id="j2")   # not that job's breakpoint
    assert bm.remove_breakpoint(a.breakpoint_id, job_id="j1") is a
    assert bm.clear_breakpoints(job_id="j1") == 1
    assert bm.clear_breakpoints(flow_id="f") == 1
    assert bm.get_breakpoints() == [] and not bm.active
    with pytest.raises(NotFoundError):
        bm.remove_breakpoint(a.breakpoint_id)


def test_add_breakpoint_accepts_a_built_breakpoint() -> None:
    bm = BreakpointManager()
    bp = Breakpoint(job_id="j", type="slot", routine_id="r", slot_name="s", condition="x == 1")
    assert bm.add_breakpoint(bp) is bp and bm.get_breakpoint(bp.breakpoint_id) is bp


def test_hit_counts_are_exact_under_threads() -> None:
    bm = BreakpointManager()
    bp = bm.set_breakpoint(flow_id="f", routine_id="r")

    def hammer() -> None:
        for _ in range(2000):
            bm.match_activation("j", "f", "r", "s", {}, {})

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bp.hit_count == 8000
