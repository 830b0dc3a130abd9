"""LocalOwner: flows and jobs of this process in the API's JSON shapes."""

from __future__ import annotations

import threading

import pytest
import svc_routines
from svc_routines import HOLD_SPEC, SPEC

from routilux.errors import InvalidStateError, NotFoundError, ValidationError
from routilux.flow import Flow
from routilux.service import LocalOwner
from routilux.service.requests import (
    BreakpointSpec,
    FlowCreate,
    JobStart,
    VariableEdit,
)


@pytest.fixture
def owner(bundle) -> LocalOwner:
    return bundle.owner


def test_dsl_text_is_never_read_as_a_file_path(owner, tmp_path):
    spec_file = tmp_path / "flow.yaml"
    spec_file.write_text("routines: {numbers: {class: SvcNumbers}}\n")
    with pytest.raises(ValidationError) as refused:
        owner.create_flow(FlowCreate(dsl=str(spec_file)))
    assert refused.value.detail["field"] == "dsl"
    assert owner.list_flows() == []


def test_created_flows_carry_validation_warnings_and_a_generated_id(owner):
    flow = owner.create_flow(FlowCreate(spec={"routines": {"sum": {"class": "SvcSum"}}}))
    assert flow["flow_id"].startswith("flow-")
    assert any("trigger" in w for w in flow["warnings"])


def test_a_flow_with_unfinished_jobs_cannot_be_deleted(owner):
    owner.create_flow(FlowCreate(spec=HOLD_SPEC))
    job_id = owner.start_job(JobStart("hold", "hold"))["job_id"]
    with pytest.raises(InvalidStateError) as busy:
        owner.delete_flow("hold")
    assert busy.value.detail["jobs"] == [job_id]
    owner.control_job(job_id, "cancel")
    svc_routines.RELEASE.set()
    assert owner.jobs.get(job_id).wait(5)
    owner.delete_flow("hold")
    assert not owner.has_flow("hold")
    with pytest.raises(InvalidStateError):  # the job outlives its flow, control does not
        owner.control_job(job_id, "pause")


def test_only_the_newest_finished_jobs_stay_in_memory(bundle):
    owner = LocalOwner(bundle.monitoring, max_finished_jobs=2)
    owner.create_flow(FlowCreate(spec=SPEC))
    ids = []
    for _ in range(4):
        job_id = owner.start_job(JobStart("numbers", "numbers"))["job_id"]
        pruned = threading.Event()  # done callbacks run in order: the owner's, then this one
        owner.jobs.get(job_id).add_done_callback(lambda _job: pruned.set())
        assert pruned.wait(5)
        ids.append(job_id)
    assert [owner.has_job(i) for i in ids] == [False, False, True, True]
    assert bundle.monitoring.monitor_collector.get_metrics(ids[0]) is None


def test_variables_and_edits_outside_and_inside_a_pause(owner, bundle):
    owner.create_flow(FlowCreate(spec=SPEC))
    job_id = owner.start_job(JobStart("numbers", "numbers", entry_params={"count": 3}, breakpoints=(
        BreakpointSpec(type="slot", routine_id="sum", slot_name="input", condition="value == 2"),
    )))["job_id"]
    session = bundle.monitoring.debug_session_store.get_or_create(job_id)
    assert session.wait_until_paused(5)
    assert owner.get_variables(job_id)["variables"] == {"local": {"value": 2},
                                                        "shared": {"total": 1}}
    owner.set_variable(job_id, VariableEdit("value", 40))
    owner.debug_step(job_id, "resume")
    assert owner.jobs.get(job_id).wait(5)
    assert owner.get_variables(job_id)["variables"]["shared"] == {"total": 41}
    with pytest.raises(InvalidStateError):
        owner.set_variable(job_id, VariableEdit("value", 1))


def test_pause_and_resume_a_running_job(owner):
    owner.create_flow(FlowCreate(spec=HOLD_SPEC))
    job_id = owner.start_job(JobStart("hold", "hold"))["job_id"]
    assert owner.control_job(job_id, "pause")["status"] == "paused"
    assert owner.control_job(job_id, "pause")["status"] == "paused"  # idempotent
    assert owner.control_job(job_id, "resume")["status"] == "running"
    with pytest.raises(InvalidStateError):
        owner.control_job(job_id, "resume")
    svc_routines.RELEASE.set()
    assert owner.jobs.get(job_id).wait(5)
    assert owner.get_job(job_id)["status"] == "completed"


def test_breakpoints_must_name_real_places(owner):
    owner.create_flow(FlowCreate(spec=SPEC))
    job_id = owner.start_job(JobStart("numbers", "numbers"))["job_id"]
    owner.jobs.get(job_id).wait(5)
    with pytest.raises(ValidationError) as wrong:
        owner.add_breakpoint(job_id, BreakpointSpec(type="event", routine_id="numbers",
                                                    event_name="nope"))
    assert wrong.value.detail["events"] == ["item"]
    with pytest.raises(NotFoundError):
        owner.remove_breakpoint(job_id, "missing")


def test_cancel_all_ends_every_live_job(owner):
    owner.create_flow(FlowCreate(spec=HOLD_SPEC))
    ids = [owner.start_job(JobStart("hold", "hold"))["job_id"] for _ in range(2)]
    owner.cancel_all()
    svc_routines.RELEASE.set()
    for job_id in ids:
        assert owner.jobs.get(job_id).wait(5)
        assert owner.get_job(job_id)["status"] == "cancelled"


def test_flows_built_in_code_can_be_added(owner):
    flow = Flow("built")
    assert owner.add_flow(flow)["flow_id"] == "built"
    with pytest.raises(InvalidStateError):
        owner.add_flow(Flow("built"))
    owner.add_flow(Flow("built"), replace=True)


def test_trace_returns_every_buffered_event_not_the_first_200(owner):
    owner.create_flow(FlowCreate(spec=SPEC))
    started = owner.start_job(JobStart(flow_id="numbers", entry_routine_id="numbers",
                                       entry_params={"count": 150}))
    job_id = started["job_id"]
    assert owner.jobs.get(job_id).wait(10)
    trace = owner.get_trace(job_id, None)
    # job_start + entry (slot_call, start, 150 emits, complete) + 150 x (slot_call, start,
    # complete) + job_completed: far more than 200, and every one an event dict.
    assert trace["total"] == len(trace["events"]) > 600
    assert all(isinstance(e, dict) and e["type"] == "event" for e in trace["events"])
    assert [e["seq"] for e in trace["events"]] == list(range(1, trace["total"] + 1))
