"""The service's time-travel operations on a real local service with a SQLite history."""

from __future__ import annotations

import copy

import pytest

from routilux.errors import InvalidStateError, NotFoundError, ValidationError
from routilux.service import create_local_service
from routilux.service.timetravel import JobPatch, JobRerun, parse_job_patch, parse_rerun

from tests.monitoring.timetravel_flow import BROKEN, CALLS, order_flow


@pytest.mark.parametrize("body,field", [
    (None, None), ([], None), ({}, "seq"), ({"seq": 0}, "seq"), ({"seq": True}, "seq"),
    ({"seq": 1.5}, "seq"), ({"seq": 3, "data": "x"}, "data"), ({"seq": 3, "other": 1}, "other"),
])
def test_bad_rerun_bodies_name_the_field(body, field):
    with pytest.raises(ValidationError) as info:
        parse_rerun(body)
    assert info.value.detail["field"] == field


def test_rerun_and_patch_bodies():
    assert parse_rerun({"seq": 7}) == JobRerun(7, None)
    assert parse_rerun({"seq": 7, "data": {"a": 1}}) == JobRerun(7, {"a": 1})
    assert parse_job_patch({"label": None}) == JobPatch(label=None, set_label=True)
    assert parse_job_patch({"pinned": True}) == JobPatch(pinned=True)
    for body in ({}, {"label": 3}, {"label": "x" * 201}, {"pinned": 1}, {"x": 1}):
        with pytest.raises(ValidationError):
            parse_job_patch(body)


def test_rerun_pin_and_diff_live_then_from_the_history(bundle, history_db):
    flow = order_flow("svc-orders")
    bundle.owner.add_flow(flow)
    service = bundle.service
    job = service.start_job({"flow_id": "svc-orders", "entry_routine_id": "load",
                             "entry_params": copy.deepcopy(BROKEN)})
    bundle.owner.jobs.get(job["job_id"]).wait(10)
    acts = service.get_activations(job["job_id"])["activations"]
    price = acts[2]
    data = copy.deepcopy(price["input"])
    data["items"][2]["price"] = 4.0
    CALLS.clear()
    fork = service.rerun_job(job["job_id"], {"seq": price["seq"], "data": data})
    assert bundle.owner.jobs.get(fork["job_id"]).wait(10)
    assert CALLS == {"price": 1, "total": 1, "report": 1}
    assert service.get_job(fork["job_id"])["forked_from"] == {"job_id": job["job_id"],
                                                               "seq": price["seq"]}
    live = service.diff_jobs(job["job_id"], fork["job_id"])
    assert live["origins"] == ["price"]
    assert service.annotate_job(job["job_id"], {"label": "bug", "pinned": True})["pinned"]

    # Gone from memory (as after a restart): the history still answers, read-only.
    for job_id in (job["job_id"], fork["job_id"]):
        bundle.owner.forget_job(job_id)
    bundle.history.store.flush()
    stored = service.diff_jobs(job["job_id"], fork["job_id"])
    assert stored["differing_routines"] == live["differing_routines"]
    assert stored["origins"] == ["price"]
    assert stored["routines"][0]["first_difference"] == live["routines"][0]["first_difference"]
    assert service.get_job(job["job_id"])["label"] == "bug"
    with pytest.raises(InvalidStateError, match="read-only"):
        service.rerun_job(job["job_id"], {"seq": price["seq"]})
    with pytest.raises(InvalidStateError, match="read-only"):
        service.replay_job(job["job_id"])
    with pytest.raises(NotFoundError):
        service.get_activations(job["job_id"], seq=999)
    with pytest.raises(NotFoundError):
        service.rerun_job("nope", {"seq": 3})

    # A restarted service over the same file keeps the pin through retention.
    bundle.close()
    again = create_local_service(history_db=str(history_db), load_entry_points=False)
    try:
        again.history.store.prune(max_jobs=0)
        again.history.store.flush()
        kept = again.service.get_job(job["job_id"])
        assert kept["pinned"] is True and kept["label"] == "bug"
        with pytest.raises(NotFoundError):
            again.service.get_job(fork["job_id"])       # not pinned: pruned
    finally:
        again.close()
