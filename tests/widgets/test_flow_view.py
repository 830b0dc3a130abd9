"""FlowView: the graph of a flow, coloured by its newest job, metrics per routine, no controls."""

from __future__ import annotations

from typing import Any

import pytest

from routilux_jupyter.widgets import FlowView

from .flows import chain, gated, source_sink
from .recording import command, wait_state


@pytest.fixture
def view_of(comms: Any, coalescer: Any, monitoring: Any):
    views: list[FlowView] = []

    def make(*args: Any, **kwargs: Any) -> FlowView:
        view = FlowView(*args, coalescer=coalescer, **kwargs)
        views.append(view)
        return view

    yield make
    for view in views:
        view.close()


def test_graph_has_a_node_per_routine_with_ports_and_an_edge_per_connection(view_of: Any) -> None:
    flow = chain(200)
    view = view_of(flow)
    nodes = {n["id"]: n for n in view.graph["nodes"]}
    assert len(nodes) == 200
    assert nodes["r1"] == {"id": "r1", "class_name": "Relay", "slots": ["inp"], "events": ["out"]}
    assert nodes["source"]["slots"] == ["trigger"]
    assert len(view.graph["edges"]) == 199
    assert view.job == {} and view.routine_states == {}


def test_follows_the_newest_job_and_colours_routines_live(view_of: Any) -> None:
    flow, gate = gated()
    view = view_of(flow)
    job = flow.start("gate", {"value": 2})
    assert gate.entered.wait(5)
    wait_state(view, lambda: view.job.get("job_id") == job.job_id and view.routine_states.get("gate") == "running")
    assert view.job["status"] == "running"
    gate.release.set()
    assert job.wait(5)
    wait_state(view, lambda: view.job.get("status") == "completed")
    assert view.routine_states == {"gate": "completed", "relay": "completed", "sink": "completed"}
    assert sorted(view.edge_hits.values()) == [1, 1]
    assert view.routine_metrics["relay"]["execution_count"] == 1

    second = flow.start("gate", {"value": 3})
    second_gate_released = gate.release.is_set()  # the gate stays open: the job runs through
    assert second_gate_released and second.wait(5)
    wait_state(view, lambda: view.job.get("job_id") == second.job_id and view.job.get("status") == "completed")


def test_a_view_of_a_flow_whose_job_already_ran_shows_that_job(view_of: Any) -> None:
    flow = source_sink()
    job = flow.execute("source", {"n": 2}, timeout=5)
    view = view_of(flow)
    assert view.job["job_id"] == job.job_id
    assert view.routine_metrics["sink"]["execution_count"] == 2
    assert list(view.edge_hits.values()) == [2]


def test_flow_view_pins_a_given_job(view_of: Any) -> None:
    flow = source_sink()
    first = flow.execute("source", {"n": 1}, timeout=5)
    view = view_of(flow, job=first)
    flow.execute("source", {"n": 3}, timeout=5)
    command(view, "refresh")
    assert view.job["job_id"] == first.job_id
    assert view.routine_metrics["sink"]["execution_count"] == 1


def test_flow_view_has_no_debugger_controls(view_of: Any) -> None:
    view = view_of(source_sink())
    assert set(view.trait_names(sync=True)) >= {"graph", "routine_states", "edge_hits", "routine_metrics"}
    assert not view.has_trait("trace")
    reply = command(view, "pause")
    assert reply["ok"] is False and "unknown action" in reply["error"]
    assert command(view, "refresh")["ok"]


def test_flow_view_needs_a_flow(comms: Any) -> None:
    with pytest.raises(TypeError, match="FlowView needs a flow"):
        FlowView()
