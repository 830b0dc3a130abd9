"""JobView driven through its comm: every control of the debugger panel, against a real engine."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from routilux import Flow
from routilux_jupyter.widgets import JobView

from .flows import chain, gated, source_sink
from .recording import command, wait_state


@pytest.fixture
def view_of(comms: Any, coalescer: Any, monitoring: Any):
    """Build JobViews on the test's coalescer; closes them afterwards."""
    views: list[JobView] = []

    def make(*args: Any, **kwargs: Any) -> JobView:
        view = JobView(*args, coalescer=coalescer, **kwargs)
        views.append(view)
        return view

    yield make
    for view in views:
        view.close()


def status_is(view: JobView, status: str):
    return lambda: view.job.get("status") == status


def test_finished_job_shows_graph_states_metrics_and_trace(view_of: Any) -> None:
    flow = source_sink()
    job = flow.execute("source", {"n": 4})
    assert job.status == "completed"

    view = view_of(job)

    assert {n["id"] for n in view.graph["nodes"]} == {"source", "sink"}
    assert view.graph["edges"] == [
        {"id": flow.connections[0].connection_id, "source": "source", "event": "out",
         "target": "sink", "slot": "inp"}
    ]
    assert view.job["status"] == "completed"
    assert view.job["executor"] == "thread"     # shown in the summary (a Dask job links its dashboard)
    assert view.routine_states == {"source": "completed", "sink": "completed"}
    assert view.routine_metrics["sink"]["execution_count"] == 4
    assert view.metrics["total_event_emits"] == 4
    assert list(view.edge_hits.values()) == [4]
    kinds = [e["event_type"] for e in view.trace]
    assert kinds[0] == "job_start" and kinds[-1] == "job_completed"
    assert view.trace_total == len(view.trace)
    # The first comm message already carries the whole state (one draw in the browser).
    opened = view.comm.open_args["data"]["state"]
    assert opened["routine_states"] == view.routine_states


def test_finished_job_shows_the_flow_it_ran_on_after_a_rerun_reuses_its_id(view_of: Any) -> None:
    # A re-run cell builds a new flow with the same id; an old job's view keeps its own graph.
    flow = source_sink()
    job = flow.execute("source", {"n": 1})
    assert job.status == "completed"
    newer = Flow(flow.flow_id)
    newer.add_routine(chain(2).routines["source"], "something_else")
    view = view_of(job)
    assert {n["id"] for n in view.graph["nodes"]} == {"source", "sink"}
    assert newer.routines  # (kept alive until here)


def test_breakpoint_condition_pause_variables_step_and_continue(view_of: Any) -> None:
    flow = source_sink()
    view = view_of(flow=flow)  # follows the flow's next job

    added = command(view, "add_breakpoint", type="slot", routine_id="sink", slot_name="inp",
                    condition="value == 1")
    assert added["ok"], added
    bp_id = added["data"]["breakpoint_id"]
    wait_state(view, lambda: [b["breakpoint_id"] for b in view.breakpoints] == [bp_id])

    job = flow.start("source", {"n": 3})
    wait_state(view, status_is(view, "paused"))
    assert view.job["job_id"] == job.job_id
    assert view.debug["paused_at"]["routine_id"] == "sink"
    assert view.debug["paused_at"]["reason"] == "breakpoint"
    assert view.debug["variables"]["local"] == {"value": 1}
    assert view.debug["variables"]["shared"] == {"seen": [0]}
    frames = view.debug["call_stack"]
    assert [f["routine_id"] for f in frames] == ["sink", "source"]
    assert view.breakpoints[0]["hit_count"] == 1

    assert command(view, "set_variable", name="value", value=21)["ok"]
    assert command(view, "set_variable", name="note", value="hi", scope="shared")["ok"]
    wait_state(view, lambda: view.debug["variables"]["local"] == {"value": 21})

    # step over: the edited activation runs, the job pauses before the next one.
    assert command(view, "step_over")["ok"]
    wait_state(view, lambda: (view.debug.get("paused_at") or {}).get("reason") == "step")
    assert job.shared_data["seen"] == [0, 42]

    assert command(view, "continue")["ok"]
    assert job.wait(5)
    wait_state(view, status_is(view, "completed"))
    assert job.shared_data == {"seen": [0, 42, 4], "note": "hi"}
    assert view.debug == {"paused_at": None, "variables": None, "call_stack": []}


def test_bad_condition_is_refused_with_the_reason(view_of: Any) -> None:
    flow = source_sink()
    view = view_of(flow=flow)

    reply = command(view, "add_breakpoint", type="routine", routine_id="sink",
                    condition="().__class__.__bases__")
    assert reply["ok"] is False
    assert "not allowed" in reply["error"]
    syntax = command(view, "add_breakpoint", type="routine", routine_id="sink", condition="value >")
    assert syntax["ok"] is False and syntax["error"]
    unknown = command(view, "add_breakpoint", type="slot", routine_id="sink", slot_name="nope")
    assert unknown["ok"] is False and "no slot 'nope'" in unknown["error"]
    assert view.breakpoints == []

    good = command(view, "add_breakpoint", type="routine", routine_id="sink")
    assert good["ok"]
    bad_update = command(view, "update_breakpoint", breakpoint_id=good["data"]["breakpoint_id"],
                         condition="__import__('os')")
    assert bad_update["ok"] is False and bad_update["error"]


def test_toggle_update_and_remove_breakpoints(view_of: Any) -> None:
    flow = source_sink()
    view = view_of(flow=flow)
    bp_id = command(view, "add_breakpoint", type="event", routine_id="source", event_name="out")["data"]["breakpoint_id"]

    assert command(view, "toggle_breakpoint", breakpoint_id=bp_id, enabled=False)["ok"]
    wait_state(view, lambda: view.breakpoints and view.breakpoints[0]["enabled"] is False)
    job = flow.execute("source", {"n": 2}, timeout=5)
    assert job.status == "completed"  # a disabled breakpoint does not stop the job

    assert command(view, "toggle_breakpoint", breakpoint_id=bp_id)["ok"]  # flips back on
    assert command(view, "update_breakpoint", breakpoint_id=bp_id, condition="value >= 1")["ok"]
    wait_state(view, lambda: view.breakpoints[0]["condition"] == "value >= 1" and view.breakpoints[0]["enabled"])
    job = flow.start("source", {"n": 2})
    wait_state(view, lambda: view.job.get("job_id") == job.job_id and view.job.get("status") == "paused")
    assert view.debug["paused_at"]["event_name"] == "out"
    assert view.debug["variables"]["local"] == {"value": 1}  # paused at the second emit

    assert command(view, "remove_breakpoint", breakpoint_id=bp_id)["ok"]
    wait_state(view, lambda: view.breakpoints == [])
    assert command(view, "resume")["ok"]
    assert job.wait(5) and job.status == "completed"
    missing = command(view, "remove_breakpoint", breakpoint_id=bp_id)
    assert missing["ok"] is False and bp_id in missing["error"]


def test_pause_resume_and_cancel(view_of: Any) -> None:
    flow, gate = gated()
    job = flow.start("gate", {"value": 5})
    view = view_of(job)
    assert gate.entered.wait(5)

    assert command(view, "pause")["ok"]
    gate.release.set()
    wait_state(view, status_is(view, "paused"))
    assert "seen" not in job.shared_data  # workers stopped before the next activation
    assert view.debug["paused_at"] is not None

    # A manual pause can be stepped too: the first step stops at the next activation...
    at = lambda: (view.debug.get("paused_at") or {}).get("routine_id")  # noqa: E731
    assert command(view, "step_over")["ok"]
    wait_state(view, lambda: at() == "relay")
    # ...the next runs it and stops before the one after.
    assert command(view, "step_over")["ok"]
    wait_state(view, lambda: at() == "sink" and view.routine_states.get("relay") == "completed")
    assert "seen" not in job.shared_data

    assert command(view, "resume")["ok"]
    assert job.wait(5) and job.status == "completed"
    assert job.shared_data["seen"] == [10]

    flow2, gate2 = gated()
    job2 = flow2.start("gate")
    view2 = view_of(job2)
    assert gate2.entered.wait(5)
    assert command(view2, "cancel")["ok"]
    gate2.release.set()
    assert job2.wait(5) and job2.status == "cancelled"
    wait_state(view2, status_is(view2, "cancelled"))
    refused = command(view2, "resume")
    assert refused["ok"] is False and "cancelled" in refused["error"]


def test_step_into_and_out_of_a_handler(view_of: Any) -> None:
    flow = source_sink()
    view = view_of(flow=flow)
    assert command(view, "add_breakpoint", type="routine", routine_id="sink", condition="value == 0")["ok"]
    job = flow.start("source", {"n": 2})
    wait_state(view, status_is(view, "paused"))

    assert command(view, "step_into")["ok"]
    wait_state(view, lambda: (view.debug.get("paused_at") or {}).get("line") is not None)
    frames = view.debug["call_stack"]
    assert frames[0]["function"] == "run" and frames[0]["file"].endswith("flows.py")
    assert "value" in view.debug["variables"]["local"]

    assert command(view, "step_over")["ok"]  # next line inside the handler
    wait_state(view, lambda: "doubled" in ((view.debug.get("variables") or {}).get("local") or {}))
    assert command(view, "set_variable", name="doubled", value=100)["ok"]

    assert command(view, "step_out")["ok"]  # finish the handler, stop before the next activation
    wait_state(view, lambda: ((view.debug.get("variables") or {}).get("local")) == {"value": 1})
    assert view.debug["paused_at"]["line"] is None
    assert job.shared_data["seen"] == [100]
    assert command(view, "continue")["ok"]
    assert job.wait(5) and job.shared_data["seen"] == [100, 2]


def test_controls_refuse_the_wrong_state_and_unknown_actions(view_of: Any) -> None:
    flow = source_sink()
    view = view_of(flow=flow)
    early = command(view, "pause")
    assert early["ok"] is False and "no job" in early["error"]
    job = flow.execute("source", {"n": 1}, timeout=5)
    wait_state(view, lambda: view.job.get("job_id") == job.job_id)

    for action in ("step_over", "step_into", "step_out", "continue", "pause", "cancel"):
        reply = command(view, action)
        assert reply["ok"] is False and "completed" in reply["error"], (action, reply)
    assert command(view, "set_variable", name="x", value=1)["ok"] is False
    assert command(view, "explode")["ok"] is False
    assert "unknown action" in command(view, "explode")["error"]


def test_trace_is_bounded_and_older_events_page_in(view_of: Any) -> None:
    flow = source_sink()
    job = flow.execute("source", {"n": 150}, timeout=10)  # ~600 events
    view = view_of(job)
    assert len(view.trace) == 200
    assert view.trace_total > 500
    seqs = [e["seq"] for e in view.trace]
    assert seqs == sorted(seqs)

    page = command(view, "page_trace", before=view.trace[0]["event_id"], limit=150)
    assert page["ok"]
    older = page["data"]["events"]
    assert len(older) == 150 and page["data"]["has_more"] is True
    assert [e["seq"] for e in older] == list(range(seqs[0] - 150, seqs[0]))
    first = command(view, "page_trace", before=older[0]["event_id"], limit=1000)["data"]
    assert first["has_more"] is False and first["events"][0]["event_type"] == "job_start"


def test_updates_from_a_busy_job_are_coalesced(view_of: Any, coalescer: Any) -> None:
    flow = source_sink()
    view = view_of(flow=flow)
    before = len(view.comm.updates())
    coalescer_flushes = coalescer.flushes
    job = flow.start("source", {"n": 5000})  # ~20,000 events
    assert job.wait(30)
    wait_state(view, lambda: view.job.get("status") == "completed" and view.routine_metrics.get("sink", {}).get("execution_count") == 5000, timeout=10)
    elapsed = job.completed_at.timestamp() - job.started_at.timestamp()
    updates = len(view.comm.updates()) - before
    flushes = coalescer.flushes - coalescer_flushes
    # At most 10 per second of running (+2 for the first and last flush).
    assert flushes <= 10 * elapsed + 3, (flushes, elapsed)
    assert updates <= flushes + 1
    assert len(view.trace) == 200
    assert list(view.edge_hits.values())[0] > 0


def test_continue_releases_a_thread_blocked_in_execute(view_of: Any) -> None:
    """The notebook case: the cell's thread blocks in flow.execute(); the comm runs elsewhere."""
    flow = source_sink()
    view = view_of(flow=flow)
    assert command(view, "add_breakpoint", type="routine", routine_id="sink")["ok"]
    result: dict[str, Any] = {}
    done = threading.Event()

    def cell() -> None:
        result["job"] = flow.execute("source", {"n": 2}, timeout=20)
        done.set()

    threading.Thread(target=cell, name="blocked-cell", daemon=True).start()
    wait_state(view, status_is(view, "paused"))
    assert not done.is_set()
    assert command(view, "remove_breakpoint", breakpoint_id=view.breakpoints[0]["breakpoint_id"])["ok"]
    assert command(view, "continue")["ok"]
    assert done.wait(5), "execute() was not released by the view's Continue"
    assert result["job"].status == "completed"


def test_jobview_needs_a_job_or_a_flow(comms: Any) -> None:
    with pytest.raises(TypeError, match="JobView needs a job or a flow"):
        JobView()
    assert isinstance(Flow, type)
