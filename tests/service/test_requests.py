"""Request parsing: every mistake is a ValidationError naming the field and the fix."""

from __future__ import annotations

import pytest

from routilux.errors import ValidationError
from routilux.service.requests import (
    normalize_step,
    parse_breakpoint,
    parse_breakpoint_patch,
    parse_flow_create,
    parse_job_query,
    parse_job_start,
    parse_trace_limit,
    parse_variable_edit,
)


def field_of(call, *args):
    with pytest.raises(ValidationError) as caught:
        call(*args)
    assert caught.value.message
    return caught.value.detail["field"]


def test_flow_create_needs_exactly_one_spec_form():
    assert parse_flow_create({"spec": {"routines": {}}}).spec == {"routines": {}}
    assert parse_flow_create({"dsl": "routines: {}"}).dsl == "routines: {}"
    assert field_of(parse_flow_create, {}) == "spec"
    assert field_of(parse_flow_create, {"spec": {}, "dsl": "x: 1"}) == "dsl"
    assert field_of(parse_flow_create, {"dsl": 3}) == "dsl"
    assert field_of(parse_flow_create, {"spec": [1]}) == "spec"
    assert field_of(parse_flow_create, None) is None
    assert field_of(parse_flow_create, {"spec": {}, "max_workers": True}) == "max_workers"
    assert field_of(parse_flow_create, {"spec": {}, "execution_strategy": "fast"}) == (
        "execution_strategy"
    )
    assert field_of(parse_flow_create, {"spec": {}, "flow_id": ""}) == "flow_id"
    parsed = parse_flow_create({"spec": {}, "max_workers": 4, "kernel_id": "k"})
    assert (parsed.max_workers, parsed.kernel_id) == (4, "k")


def test_job_start_defaults_and_nested_breakpoint_fields():
    job = parse_job_start({"flow_id": "f", "entry_routine_id": "r"})
    assert (job.entry_slot, job.entry_params, job.breakpoints) == ("trigger", {}, ())
    assert field_of(parse_job_start, {"flow_id": "f"}) == "entry_routine_id"
    assert field_of(parse_job_start, {"flow_id": "f", "entry_routine_id": "r",
                                      "breakpoints": {}}) == "breakpoints"
    bad = {"flow_id": "f", "entry_routine_id": "r", "breakpoints": [{"routine_id": "a"}, {}]}
    assert field_of(parse_job_start, bad) == "breakpoints[1].routine_id"
    good = parse_job_start({"flow_id": "f", "entry_routine_id": "r",
                            "breakpoints": [{"routine_id": "a", "event_name": "out"}]})
    assert good.breakpoints[0].type == "event"


def test_breakpoint_type_follows_what_is_given():
    assert parse_breakpoint({"routine_id": "a"}).type == "routine"
    assert parse_breakpoint({"routine_id": "a", "slot_name": "s"}).type == "slot"
    assert parse_breakpoint({"routine_id": "a", "enabled": False}).enabled is False
    assert field_of(parse_breakpoint, {"routine_id": "a", "type": "event"}) == "event_name"
    assert field_of(parse_breakpoint, {"routine_id": "a", "enabled": "yes"}) == "enabled"


def test_breakpoint_patch_distinguishes_clearing_from_leaving_the_condition():
    cleared = parse_breakpoint_patch({"condition": None})
    assert cleared.set_condition and cleared.condition is None and cleared.enabled is None
    untouched = parse_breakpoint_patch({"enabled": False})
    assert not untouched.set_condition and untouched.enabled is False
    assert field_of(parse_breakpoint_patch, {}) == "enabled"


def test_job_query_reads_strings_and_checks_ranges():
    query = parse_job_query({"limit": "5", "offset": "10", "status": "paused"})
    assert (query.limit, query.offset, query.status) == (5, 10, "paused")
    assert parse_job_query({}).limit == 100
    assert field_of(parse_job_query, {"limit": "0"}) == "limit"
    assert field_of(parse_job_query, {"offset": "-1"}) == "offset"
    assert field_of(parse_job_query, {"status": "asleep"}) == "status"
    assert parse_trace_limit("7") == 7 and parse_trace_limit(None) is None
    assert field_of(parse_trace_limit, "x") == "limit"


def test_debug_names_accept_both_spellings():
    assert normalize_step("step-over") == "step_over"
    assert normalize_step("step_into") == "step_into"
    assert normalize_step("continue") == "resume"
    assert field_of(normalize_step, "jump") == "command"


def test_variable_edits_need_an_identifier_and_a_value():
    edit = parse_variable_edit("total", {"value": [1, 2], "scope": "shared"})
    assert (edit.name, edit.value, edit.scope) == ("total", [1, 2], "shared")
    assert parse_variable_edit("x", {"value": None}).scope == "local"
    assert field_of(parse_variable_edit, "x", {}) == "value"
    assert field_of(parse_variable_edit, "not a name", {"value": 1}) == "name"
    assert field_of(parse_variable_edit, "x", {"value": 1, "scope": "global"}) == "scope"
