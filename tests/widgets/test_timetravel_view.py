"""JobView time travel through its comm: open an activation, re-run it edited, compare jobs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from routilux_jupyter.widgets import JobView

from tests.monitoring.timetravel_flow import BROKEN, CALLS, order_flow

from .recording import command, wait_state


@pytest.fixture
def broken_view(comms: Any, coalescer: Any, monitoring: Any):
    flow = order_flow("tt_view")
    job = flow.execute("load", BROKEN, timeout=10)
    views: list[JobView] = [JobView(job, coalescer=coalescer)]
    yield job, views[0]
    for fork in views[0].forks:
        fork.close()
    views[0].close()


def _price_seq(view: JobView) -> int:
    return next(e["seq"] for e in view.trace
                if e["event_type"] == "routine_start" and e["routine_id"] == "price")


def test_an_activation_row_opens_its_recorded_input_and_outputs(broken_view):
    _, view = broken_view
    clean_seq = next(e["seq"] for e in view.trace
                     if e["event_type"] == "routine_start" and e["routine_id"] == "clean")
    reply = command(view, "activation", seq=clean_seq)
    assert reply["ok"], reply
    act = reply["data"]
    assert act["routine_id"] == "clean" and act["input"]["items"][0]["name"] == " tea "
    assert act["emits"][0]["event_name"] == "out"
    assert act["emits"][0]["data"]["items"][0]["name"] == "tea"
    bad = command(view, "activation", seq=1)
    assert not bad["ok"] and "not an activation" in bad["error"]


def test_rerun_from_here_with_edited_json_opens_a_linked_fork_view(broken_view):
    job, view = broken_view
    seq = _price_seq(view)
    text = json.dumps(command(view, "activation", seq=seq)["data"]["input"])
    bad = command(view, "rerun", seq=seq, data=text[:-1])
    assert not bad["ok"] and "not valid JSON" in bad["error"] and "column" in bad["error"]
    edited = json.loads(text)
    edited["items"][2]["price"] = 4.0
    CALLS.clear()
    reply = command(view, "rerun", seq=seq, data=json.dumps(edited))
    assert reply["ok"], reply
    assert reply["data"]["parent_job_id"] == job.job_id
    (fork_view,) = view.forks
    assert reply["data"]["model_id"] == fork_view.model_id
    wait_state(fork_view, lambda: fork_view.job.get("status") == "completed")
    assert fork_view.job["parent_job_id"] == job.job_id
    assert fork_view.job["forked_from"] == {"job_id": job.job_id, "seq": seq}
    assert CALLS == {"price": 1, "total": 1, "report": 1}
    # The parent view's synced state names its fork (a widget reference).
    assert view.get_state()["forks"] == [f"IPY_MODEL_{fork_view.model_id}"]

    others = command(view, "flow_jobs")["data"]
    assert others[0]["job_id"] == fork_view.job["job_id"]       # newest first
    assert others[0]["parent_job_id"] == job.job_id
    assert job.job_id not in [o["job_id"] for o in others]
    diff = command(view, "compare", job_id=fork_view.job["job_id"])["data"]
    assert diff["origins"] == ["price"]
    assert diff["routines"][0]["first_difference"]["path"] == "items[2].price"
    assert not command(view, "compare", job_id="")["ok"]
