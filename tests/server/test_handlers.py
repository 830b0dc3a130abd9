"""REST routes through a real in-process Jupyter server (``jp_fetch``, base URL ``/a%40b/``)."""

from __future__ import annotations

import json
from typing import Any

import api_routines
from api_routines import SUM_SPEC, SUM_YAML, gate_spec
from server_helpers import wait_gate_entered, wait_job_done, wait_paused

from routilux_jupyter.server.base import dumps

# -- health and flows --------------------------------------------------------------------------


async def test_health_reports_the_server_owner_and_history(api):
    health = await api("GET", "health")
    assert health["status"] == "ok"
    assert health["history"] is True
    assert health["owners"] == [{"kind": "server", "kernel_id": None, "notebook_path": None}]


async def test_flow_lifecycle_create_list_get_delete(api):
    created = await api("POST", "flows", body={"spec": SUM_SPEC}, expect=201)
    assert created["flow_id"] == "sum_flow"
    assert set(created["routines"]) == {"numbers", "sum"}
    assert created["routines"]["sum"]["slots"] == ["input"]
    assert created["connections"][0]["source_routine"] == "numbers"
    assert created["connections"][0]["target_slot"] == "input"
    assert created["execution_strategy"] == "sequential"
    assert created["owner"] == {"kind": "server", "kernel_id": None, "notebook_path": None}

    from_yaml = await api(
        "POST", "flows", body={"dsl": SUM_YAML, "execution_strategy": "concurrent",
                               "max_workers": 3}, expect=201,
    )
    assert from_yaml["flow_id"] == "sum_yaml"
    assert (from_yaml["execution_strategy"], from_yaml["max_workers"]) == ("concurrent", 3)

    listing = await api("GET", "flows")
    assert listing["total"] == 2
    assert {f["flow_id"] for f in listing["flows"]} == {"sum_flow", "sum_yaml"}
    assert (await api("GET", "flows", "sum_flow"))["routines"]["numbers"]["events"] == ["item"]

    assert await api("DELETE", "flows", "sum_yaml", expect=204) is None
    await api("GET", "flows", "sum_yaml", expect=404)
    assert (await api("GET", "flows"))["total"] == 1


async def test_flow_id_in_body_overrides_the_spec_and_duplicates_conflict(api):
    await api("POST", "flows", body={"spec": SUM_SPEC, "flow_id": "renamed"}, expect=201)
    error = await api("POST", "flows", body={"spec": SUM_SPEC, "flow_id": "renamed"}, expect=409)
    assert "already exists" in error["message"]
    assert error["detail"] == {"flow_id": "renamed"}


async def test_flow_creation_rejects_bad_input_with_reasons(api):
    error = await api("POST", "flows", raw="{not json", expect=400)
    assert "not valid JSON" in error["message"]
    error = await api("POST", "flows", body=["a list"], expect=400)
    assert "JSON object" in error["message"]
    error = await api("POST", "flows", body={"flow_id": "x"}, expect=400)
    assert error["detail"]["field"] == "spec"
    error = await api("POST", "flows", body={"dsl": "routines: [unclosed", "flow_id": "y"},
                      expect=400)
    assert "YAML" in error["message"]
    unknown = {"routines": {"a": {"class": "NoSuchRoutine"}}}
    error = await api("POST", "flows", body={"spec": unknown}, expect=400)
    assert "NoSuchRoutine" in error["message"]
    error = await api("POST", "flows", body={"spec": {"routines": {"a": {"class": "os.system"}}}},
                      expect=400)
    assert "import path" in error["message"]
    error = await api("POST", "flows", body={"spec": SUM_SPEC, "max_workers": 0}, expect=400)
    assert error["detail"]["field"] == "max_workers"
    assert (await api("GET", "flows"))["total"] == 0


async def test_unknown_flow_is_404(api):
    error = await api("GET", "flows", "nope", expect=404)
    assert "nope" in error["message"] and error["detail"] == {"flow_id": "nope"}
    await api("DELETE", "flows", "nope", expect=404)


# -- jobs ----------------------------------------------------------------------------------------


async def test_job_start_read_metrics_trace_and_listing(api, service):
    await api("POST", "flows", body={"spec": SUM_SPEC}, expect=201)
    started = await api(
        "POST", "jobs",
        body={"flow_id": "sum_flow", "entry_routine_id": "numbers", "entry_params": {"count": 4}},
        expect=201,
    )
    assert started["status"] == "running"
    assert started["flow_id"] == "sum_flow"
    job_id = started["job_id"]
    await wait_job_done(service, job_id)

    job = await api("GET", "jobs", job_id)
    assert job["status"] == "completed"
    assert job["created_at"].endswith("Z") and job["completed_at"]
    assert job["owner"]["kind"] == "server"
    assert job["error"] is None

    metrics = await api("GET", "jobs", job_id, "metrics")
    assert metrics["status"] == "completed"
    assert metrics["routine_metrics"]["sum"]["execution_count"] == 4
    assert metrics["total_slot_calls"] >= 5
    assert metrics["duration_ms"] >= 0

    trace = await api("GET", "jobs", job_id, "trace")
    types = [e["event_type"] for e in trace["events"]]
    assert types[0] == "job_start" and types[-1] == "job_completed"
    assert trace["total"] == len(trace["events"])
    last_two = await api("GET", "jobs", job_id, "trace", params={"limit": 2})
    assert [e["seq"] for e in last_two["events"]] == [e["seq"] for e in trace["events"][-2:]]

    second = await api("POST", "jobs", body={"flow_id": "sum_flow", "entry_routine_id": "numbers"},
                       expect=201)
    await wait_job_done(service, second["job_id"])
    listing = await api("GET", "jobs")
    assert listing["total"] == 2
    assert [j["job_id"] for j in listing["jobs"]] == [second["job_id"], job_id]  # newest first
    page = await api("GET", "jobs", params={"limit": 1, "offset": 1})
    assert [j["job_id"] for j in page["jobs"]] == [job_id] and page["total"] == 2
    assert (await api("GET", "jobs", params={"flow_id": "other"}))["total"] == 0
    assert (await api("GET", "jobs", params={"status": "failed"}))["jobs"] == []


async def test_job_start_rejects_bad_input_with_reasons(api):
    await api("POST", "flows", body={"spec": SUM_SPEC}, expect=201)
    error = await api("POST", "jobs", raw=b"\x00{", expect=400)
    assert "JSON" in error["message"]
    error = await api("POST", "jobs", body={"flow_id": "sum_flow"}, expect=400)
    assert error["detail"]["field"] == "entry_routine_id"
    error = await api("POST", "jobs", body={"entry_routine_id": "numbers"}, expect=400)
    assert error["detail"]["field"] == "flow_id"
    error = await api("POST", "jobs", body={"flow_id": "sum_flow", "entry_routine_id": "numbers",
                                            "entry_params": [1]}, expect=400)
    assert error["detail"]["field"] == "entry_params"
    error = await api("POST", "jobs", body={"flow_id": "sum_flow", "entry_routine_id": "sum"},
                      expect=400)
    assert "trigger" in error["message"]  # ``sum`` has no trigger slot
    error = await api("POST", "jobs", body={"flow_id": "sum_flow", "entry_routine_id": "ghost"},
                      expect=400)
    assert "ghost" in error["message"]
    bad_bp = {"flow_id": "sum_flow", "entry_routine_id": "numbers",
              "breakpoints": [{"routine_id": "sum", "condition": "value.__class__"}]}
    error = await api("POST", "jobs", body=bad_bp, expect=400)
    assert "__class__" in error["message"]
    assert error["detail"] == {"field": "breakpoints[0].condition", "condition": "value.__class__",
                               "reason": "attribute access (.__class__) is not allowed"}
    await api("POST", "jobs", body={"flow_id": "nope", "entry_routine_id": "numbers"}, expect=404)
    error = await api("GET", "jobs", params={"status": "weird"}, expect=400)
    assert error["detail"]["field"] == "status"
    error = await api("GET", "jobs", params={"limit": "ten"}, expect=400)
    assert error["detail"]["field"] == "limit"
    assert (await api("GET", "jobs"))["total"] == 0  # nothing was started


async def test_unknown_job_is_404_on_every_job_route(api):
    for path in ([], ["metrics"], ["trace"], ["breakpoints"], ["debug", "session"],
                 ["debug", "variables"], ["debug", "call_stack"]):
        error = await api("GET", "jobs", "nope", *path, expect=404)
        assert error["detail"] == {"job_id": "nope"}, path
    for path in (["pause"], ["resume"], ["cancel"], ["debug", "step_over"], ["breakpoints"]):
        await api("POST", "jobs", "nope", *path, body={"routine_id": "x"}, expect=404)
    await api("PUT", "jobs", "nope", "breakpoints", "b1", body={"enabled": False}, expect=404)
    await api("DELETE", "jobs", "nope", "breakpoints", "b1", expect=404)
    await api("PUT", "jobs", "nope", "debug", "variables", "x", body={"value": 1}, expect=404)


async def test_pause_resume_cancel_and_wrong_states(api, service):
    await api("POST", "flows", body={"spec": gate_spec("gated", "g1")}, expect=201)
    job_id = (await api("POST", "jobs", body={"flow_id": "gated", "entry_routine_id": "gate"},
                        expect=201))["job_id"]
    await wait_gate_entered("g1")
    error = await api("POST", "jobs", job_id, "resume", expect=409)
    assert error["detail"]["status"] == "running"
    assert await api("POST", "jobs", job_id, "pause") == {"job_id": job_id, "status": "paused"}
    assert (await api("GET", "jobs", job_id))["status"] == "paused"
    assert await api("POST", "jobs", job_id, "resume") == {"job_id": job_id, "status": "running"}
    cancelled = await api("POST", "jobs", job_id, "cancel")
    assert cancelled["status"] == "cancelled"
    api_routines.GATES["g1"].set()
    await wait_job_done(service, job_id)
    error = await api("POST", "jobs", job_id, "pause", expect=409)
    assert "cancelled" in error["message"]
    await api("POST", "jobs", job_id, "cancel", expect=409)
    error = await api("POST", "jobs", job_id, "bogus", expect=404)  # not a route
    assert "No routilux route" in error["message"]


# -- breakpoints -----------------------------------------------------------------------------


async def test_breakpoint_crud_on_a_job(api, service):
    await api("POST", "flows", body={"spec": gate_spec("gated", "g2")}, expect=201)
    job_id = (await api("POST", "jobs", body={"flow_id": "gated", "entry_routine_id": "gate"},
                        expect=201))["job_id"]
    bp = await api("POST", "jobs", job_id, "breakpoints",
                   body={"type": "slot", "routine_id": "gate", "slot_name": "trigger",
                         "condition": "len(data) > 2"}, expect=201)
    assert bp["job_id"] == job_id and bp["flow_id"] == "gated"
    assert (bp["type"], bp["routine_id"], bp["slot_name"]) == ("slot", "gate", "trigger")
    assert bp["condition"] == "len(data) > 2" and bp["enabled"] is True and bp["hit_count"] == 0
    listing = await api("GET", "jobs", job_id, "breakpoints")
    assert listing["total"] == 1 and listing["breakpoints"][0]["breakpoint_id"] == bp["breakpoint_id"]

    updated = await api("PUT", "jobs", job_id, "breakpoints", bp["breakpoint_id"],
                        body={"enabled": False, "condition": None})
    assert updated["enabled"] is False and updated["condition"] is None
    error = await api("PUT", "jobs", job_id, "breakpoints", bp["breakpoint_id"],
                      body={"condition": "().__class__"}, expect=400)
    assert "__class__" in error["message"]
    assert error["detail"] == {"field": "condition", "condition": "().__class__",
                               "reason": "attribute access (.__class__) is not allowed"}
    await api("PUT", "jobs", job_id, "breakpoints", bp["breakpoint_id"], body={}, expect=400)
    await api("PUT", "jobs", job_id, "breakpoints", "ghost", body={"enabled": True}, expect=404)

    for bad, field in (
        ({"routine_id": "gate", "condition": "__import__('os')"}, "condition"),
        ({"routine_id": "nowhere"}, "routine_id"),
        ({"type": "slot", "routine_id": "gate"}, "slot_name"),
        ({"type": "slot", "routine_id": "gate", "slot_name": "nope"}, "slot_name"),
        ({"type": "sideways", "routine_id": "gate"}, "type"),
        ({"slot_name": "trigger"}, "routine_id"),
    ):
        error = await api("POST", "jobs", job_id, "breakpoints", body=bad, expect=400)
        assert error["message"], bad
        if field:
            assert error["detail"]["field"] == field, (bad, error)

    assert await api("DELETE", "jobs", job_id, "breakpoints", bp["breakpoint_id"], expect=204) is None
    await api("DELETE", "jobs", job_id, "breakpoints", bp["breakpoint_id"], expect=404)
    assert (await api("GET", "jobs", job_id, "breakpoints"))["total"] == 0
    api_routines.GATES["g2"].set()
    await wait_job_done(service, job_id)


# -- debugging --------------------------------------------------------------------------------


async def test_debugging_through_rest_with_both_spellings(api, service):
    await api("POST", "flows", body={"spec": SUM_SPEC}, expect=201)
    started = await api("POST", "jobs", expect=201, body={
        "flow_id": "sum_flow", "entry_routine_id": "numbers", "entry_params": {"count": 3},
        "breakpoints": [{"type": "slot", "routine_id": "sum", "slot_name": "input",
                         "condition": "value == 1"}],
    })
    job_id = started["job_id"]
    await wait_paused(job_id)

    session = await api("GET", "jobs", job_id, "debug", "session")
    assert session["status"] == "paused"
    assert session["paused_at"]["routine_id"] == "sum"
    assert session["paused_at"]["slot_name"] == "input"
    variables = (await api("GET", "jobs", job_id, "debug", "variables"))["variables"]
    assert variables["local"] == {"value": 1}
    assert variables["shared"] == {"total": 0}
    stack = await api("GET", "jobs", job_id, "debug", "call_stack")
    assert [f["routine_id"] for f in stack["frames"]][:2] == ["sum", "numbers"]
    assert (await api("GET", "jobs", job_id, "debug", "call-stack")) == stack

    edited = await api("PUT", "jobs", job_id, "debug", "variables", "value", body={"value": 10})
    assert edited["name"] == "value" and edited["scope"] == "local"
    await api("PUT", "jobs", job_id, "debug", "variables", "total",
              body={"value": 100, "scope": "shared"})
    await api("PUT", "jobs", job_id, "debug", "variables", "x", body={"scope": "local"},
              expect=400)
    await api("PUT", "jobs", job_id, "debug", "variables", "x", body={"value": 1, "scope": "far"},
              expect=400)

    assert (await api("POST", "jobs", job_id, "debug", "step-over"))["job_id"] == job_id
    await wait_paused(job_id)  # before the job's next activation
    after = await api("GET", "jobs", job_id, "debug", "session")
    assert after["status"] == "paused"
    assert (await api("GET", "jobs", job_id, "debug", "variables"))["variables"]["shared"][
        "total"] == 110
    await api("POST", "jobs", job_id, "debug", "resume")
    await wait_job_done(service, job_id)
    assert (await api("GET", "jobs", job_id, "metrics"))["status"] == "completed"
    error = await api("POST", "jobs", job_id, "debug", "step_over", expect=409)
    assert "not paused" in error["message"]
    for step in ("step_into", "step-into", "step_out", "step-out", "continue"):
        await api("POST", "jobs", job_id, "debug", step, expect=409)
    await api("PUT", "jobs", job_id, "debug", "variables", "x", body={"value": 1}, expect=409)


async def test_stepping_a_running_job_is_409(api, service):
    await api("POST", "flows", body={"spec": gate_spec("gated", "g3")}, expect=201)
    job_id = (await api("POST", "jobs", body={"flow_id": "gated", "entry_routine_id": "gate"},
                        expect=201))["job_id"]
    await wait_gate_entered("g3")
    error = await api("POST", "jobs", job_id, "debug", "step_over", expect=409)
    assert error["detail"]["status"] == "running"
    await api("POST", "jobs", job_id, "debug", "step_into", expect=409)
    session = await api("GET", "jobs", job_id, "debug", "session")
    assert session == {"job_id": job_id, "status": "running", "paused_at": None}
    assert (await api("GET", "jobs", job_id, "debug", "call_stack")) == {"frames": []}
    api_routines.GATES["g3"].set()
    await wait_job_done(service, job_id)


async def test_deeply_nested_json_is_a_400_not_a_500(api):
    # Regression (fuzz): json.loads raised RecursionError, which answered 500.
    for raw in (b"[" * 50_000, b'{"a":' * 50_000):
        error = await api("POST", "flows", raw=raw, expect=400)
        assert "nested too deeply" in error["message"]
        assert error["detail"] == {"field": None}


def _strict_json(text: str) -> Any:
    """JSON as browsers parse it: NaN and Infinity are not JSON."""
    def reject(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=reject)


async def test_error_details_holding_non_finite_numbers_are_still_json(jp_fetch):
    # Regression (fuzz): the 400 for an error_handler of NaN/-Infinity echoed them in
    # 'detail', and json.dumps wrote the bare NaN / -Infinity that JSON.parse rejects.
    raw = (b'{"spec": {"flow_id": "nan", "routines": {"a": {"class": "PassThrough", '
           b'"error_handler": {"strategy": "retry", "max_retries": 1, '
           b'"retry_delay": -Infinity}}}}}')
    response = await jp_fetch("api", "flows", method="POST", body=raw, raise_error=False)
    assert response.code == 400
    error = _strict_json(response.body.decode())
    assert "retry_delay" in error["message"]


def test_answers_turn_non_finite_numbers_into_strings():
    # Whatever a service answer or error detail holds, the body stays JSON.
    text = dumps({"a": [float("nan"), 1.5, {"b": float("-inf")}], "c": (float("inf"),)})
    assert _strict_json(text) == {"a": ["nan", 1.5, {"b": "-inf"}], "c": ["inf"]}


async def test_non_finite_error_handler_settings_are_a_400_naming_the_field(api):
    # Regression (fuzz): Infinity/NaN reached int() in ErrorHandler and answered 500.
    for value in (b"NaN", b"Infinity"):
        raw = (b'{"spec": {"routines": {"a": {"class": "PassThrough", "error_handler": '
               b'{"strategy": "retry", "max_retries": ' + value + b'}}}}}')
        error = await api("POST", "flows", raw=raw, expect=400)
        assert "max_retries" in error["message"], error
