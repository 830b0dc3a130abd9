"""Time-travel routes against a real in-process server: rerun, replay, diff, pin/label."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import tt_routines
from server_helpers import wait_job_done
from tt_routines import BROKEN, CALLS, ORDER_SPEC

from routilux.monitoring import SqliteHistoryStore


async def _broken_job(api: Any, service: Any, flow_id: str = "tt-orders") -> tuple[str, dict]:
    await api("POST", "flows", body={"flow_id": flow_id, "spec": ORDER_SPEC}, expect=201)
    job = await api("POST", "jobs", body={"flow_id": flow_id, "entry_routine_id": "load",
                                          "entry_params": copy.deepcopy(BROKEN)}, expect=201)
    await wait_job_done(service, job["job_id"])
    acts = await api("GET", "jobs", job["job_id"], "activations")
    price = next(a for a in acts["activations"] if a["routine_id"] == "price")
    return job["job_id"], price


async def test_rerun_from_an_activation_with_an_edited_input(api, service):
    job_id, price = await _broken_job(api, service)
    assert (await api("GET", "jobs", job_id))["status"] == "failed"
    assert price["status"] == "failed" and price["input"]["items"][2]["name"] == "jam"
    data = copy.deepcopy(price["input"])
    data["items"][2]["price"] = 4.0
    CALLS.clear()
    fork = await api("POST", "jobs", job_id, "rerun", body={"seq": price["seq"], "data": data},
                     expect=201)
    await wait_job_done(service, fork["job_id"])
    got = await api("GET", "jobs", fork["job_id"])
    assert got["status"] == "completed"
    assert dict(CALLS) == {"price": 1, "total": 1, "report": 1}   # load, clean not again
    assert got["parent_job_id"] == job_id
    assert got["forked_from"] == {"job_id": job_id, "seq": price["seq"]}
    start = (await api("GET", "jobs", fork["job_id"], "trace"))["events"][0]
    assert start["event_type"] == "job_start" and start["parent_job_id"] == job_id
    diff = await api("GET", "jobs", job_id, "diff", fork["job_id"])
    assert diff["origins"] == ["price"]
    assert diff["routines"][0]["first_difference"]["path"] == "items[2].price"
    assert diff["status"] == {"a": "failed", "b": "completed", "changed": True}


async def test_replay_and_identical_runs_do_not_differ(api, service):
    job_id, _ = await _broken_job(api, service)
    again = await api("POST", "jobs", job_id, "replay", expect=201)
    await wait_job_done(service, again["job_id"])
    assert (await api("GET", "jobs", again["job_id"]))["replay_of"] == job_id
    diff = await api("GET", "jobs", job_id, "diff", again["job_id"])
    assert diff["same"] is True and diff["differing_routines"] == []


async def test_pinned_jobs_survive_the_job_limits_and_a_restart(api, service, history_db):
    owner = service.default_owner
    collector = owner._monitoring.monitor_collector
    limit = 4
    # The collector is process-wide: restore its limit for the tests that follow.
    restore = collector.max_jobs
    collector.set_max_jobs(limit)
    owner._max_finished = limit
    try:
        await _pin_and_flood(api, service, collector, owner, limit, history_db)
    finally:
        collector.set_max_jobs(restore)


async def _pin_and_flood(api: Any, service: Any, collector: Any, owner: Any, limit: int,
                         history_db: Any) -> None:
    job_id, _ = await _broken_job(api, service)
    pinned = await api("PUT", "jobs", job_id, body={"label": "broken", "pinned": True})
    assert pinned["pinned"] is True and pinned["label"] == "broken"
    for _ in range(2 * limit):
        job = await api("POST", "jobs", body={"flow_id": "tt-orders", "entry_routine_id": "load",
                                              "entry_params": copy.deepcopy(BROKEN)}, expect=201)
        await wait_job_done(service, job["job_id"])
    assert job_id in collector.list_jobs() and owner.has_job(job_id)
    assert len(await api("GET", "jobs", job_id, "activations")) > 0
    # What a restarted server reads: the same SQLite file, retention applied.
    service.history.store.flush()
    store = SqliteHistoryStore(str(history_db))
    store.prune(max_jobs=1)
    assert store.flush()
    kept = store.get_job(job_id)
    assert kept is not None and kept["pinned"] is True and kept["label"] == "broken"
    assert store.get_inputs(job_id)[0]["routine_id"] == "load"
    store.close()


@pytest.mark.parametrize("method,path,body,status,field", [
    ("POST", "rerun", {"seq": 1}, 400, "seq"),             # job_start, not an activation
    ("POST", "rerun", {"seq": 9999}, 400, "seq"),
    ("POST", "rerun", {"seq": "x"}, 400, "seq"),
    ("POST", "rerun", {}, 400, "seq"),
    ("POST", "rerun", [1], 400, None),
    ("POST", "rerun", {"seq": "PRICE", "data": [1]}, 400, "data"),
    ("POST", "rerun", {"seq": "PRICE", "data": {"things": 1}}, 400, "data"),   # not the slot's
    ("POST", "rerun", {"seq": "PRICE", "bogus": 1}, 400, "bogus"),
    ("PUT", "", {"pinned": "yes"}, 400, "pinned"),
    ("PUT", "", {"label": 5}, 400, "label"),
    ("PUT", "", {}, 400, None),
    ("PUT", "", {"colour": "red"}, 400, "colour"),
])
async def test_bad_input_gets_a_4xx_json_reason(api, service, method, path, body, status, field):
    job_id, price = await _broken_job(api, service)
    if isinstance(body, dict) and body.get("seq") == "PRICE":
        body = {**body, "seq": price["seq"]}
    parts = ("jobs", job_id, path) if path else ("jobs", job_id)
    err = await api(method, *parts, body=body, expect=status)
    assert err["message"] and err["detail"]["field"] == field


async def test_unknown_jobs_and_bad_json(api, service):
    job_id, _ = await _broken_job(api, service)
    for method, parts in (("POST", ("jobs", "nope", "rerun")), ("POST", ("jobs", "nope", "replay")),
                          ("PUT", ("jobs", "nope")), ("GET", ("jobs", "nope", "diff", job_id)),
                          ("GET", ("jobs", job_id, "diff", "nope")),
                          ("GET", ("jobs", "nope", "activations"))):
        body = {"seq": 3} if parts[-1] == "rerun" else {"pinned": True} if method == "PUT" else None
        err = await api(method, *parts, body=body, expect=404)
        assert err["message"]
    err = await api("POST", "jobs", job_id, "rerun", raw="{not json", expect=400)
    assert err["message"]
    err = await api("GET", "jobs", job_id, "activations", params={"seq": "x"}, expect=400)
    assert err["detail"]["field"] == "seq"


async def test_diff_of_different_flows_is_400(api, service):
    a, _ = await _broken_job(api, service, "tt-one")
    b, _ = await _broken_job(api, service, "tt-two")
    err = await api("GET", "jobs", a, "diff", b, expect=400)
    assert "different flows" in err["message"]


async def test_history_only_jobs_cannot_be_rerun_but_can_be_pinned(api, service):
    job_id, price = await _broken_job(api, service)
    service.default_owner.forget_job(job_id)        # as after a restart: only in the history
    service.history.store.flush()
    err = await api("POST", "jobs", job_id, "rerun", body={"seq": price["seq"]}, expect=409)
    assert "read-only" in err["message"]
    assert (await api("PUT", "jobs", job_id, body={"pinned": True}))["pinned"] is True
    acts = await api("GET", "jobs", job_id, "activations", params={"seq": str(price["seq"])})
    assert acts["activations"][0]["input"]["items"][2]["price"] is None
    assert tt_routines.CALLS is CALLS
