"""The Python client drives a kernel-owned job through a real Jupyter server's routilux API."""

from __future__ import annotations

import asyncio

import pytest

from routilux.errors import InvalidStateError, NotFoundError
from routilux_jupyter.client import (
    Breakpoint,
    Client,
    Event,
    Flow,
    Job,
    Listing,
    Metrics,
    Trace,
)
from tests.client.cells import start_gated_job
from tests.kernel.harness import JupyterServer, Kernel, wait_for


def test_full_debug_session(client: Client, kernel: Kernel, gated_job: str) -> None:
    job_id = gated_job
    job = client.job(job_id)
    assert isinstance(job, Job) and job.status == "running"
    assert job.owner.kind == "kernel" and job.owner.kernel_id == kernel.kernel_id
    assert job["owner"]["notebook_path"] == "nb/client.ipynb"  # the raw dict stays reachable

    bp = client.add_breakpoint(job_id, "sink", slot_name="inp", condition="x == 2")
    assert isinstance(bp, Breakpoint) and bp.type == "slot" and bp.location == "sink.inp"
    assert [b.breakpoint_id for b in client.breakpoints(job_id)] == [bp.breakpoint_id]

    kernel.run("gate.set()")
    session = client.wait_paused(job_id, timeout=15)
    assert session.is_paused and session.paused_at is not None
    assert (session.paused_at.routine_id, session.paused_at.slot_name) == ("sink", "inp")
    assert client.job(job_id).status == "paused"

    variables = client.variables(job_id)
    assert variables.local == {"x": 2} and variables.shared == {"total": 0 + 1}
    frames = client.call_stack(job_id).frames
    assert frames[0].routine_id == "sink" and any(f.routine_id == "src" for f in frames[1:])

    change = client.set_variable(job_id, "x", 100)  # what the paused handler will receive
    assert (change.name, change.value, change.scope) == ("x", 100, "local")

    # step_over runs sink(x=100) and pauses before the job's next activation (x == 3).
    before = session.pause_count
    assert client.step_over(job_id).job_id == job_id
    after = client.wait_paused(job_id, after=before, timeout=15)
    assert after.pause_count > before
    assert client.variables(job_id).local == {"x": 3}
    assert client.variables(job_id).shared == {"total": 0 + 1 + 100}

    client.update_breakpoint(job_id, bp.breakpoint_id, enabled=False)
    assert client.breakpoints(job_id).items[0].enabled is False
    client.debug_resume(job_id)
    events = list(client.watch(job_id, timeout=15))
    assert events[-1].event_type == "job_completed"  # the iterator ended on its own
    assert client.job(job_id).status == "completed"
    metrics = client.metrics(job_id)
    assert isinstance(metrics, Metrics)
    assert metrics.routine_metrics["sink"].execution_count == 5
    # 0 + 1 + 100 (edited 2) + 3 + 4
    final = client.variables(job_id)
    assert final.shared == {"total": 108}


def test_pause_and_resume_a_running_job(client: Client, kernel: Kernel, gated_job: str) -> None:
    job_id = gated_job
    assert client.pause(job_id).status == "paused"
    kernel.run("gate.set()")  # the source's activation, already running, finishes first
    wait_for(lambda: any(e.event_type == "routine_complete" and e.routine_id == "src"
                         for e in client.trace(job_id).events), 15, "the source to finish")
    assert client.job(job_id).status == "paused"
    assert client.metrics(job_id).routine_metrics.get("sink") is None or \
        client.metrics(job_id).routine_metrics["sink"].execution_count == 0
    assert client.resume(job_id).status == "running"
    assert list(client.watch(job_id, timeout=15))[-1].event_type == "job_completed"
    assert client.variables(job_id).shared == {"total": 10}


def test_cancel_then_control_is_a_409_with_the_reason(client: Client, kernel: Kernel,
                                                       gated_job: str) -> None:
    assert client.cancel(gated_job).status == "cancelled"
    kernel.run("gate.set()")
    with pytest.raises(InvalidStateError, match="cancelled") as info:
        client.resume(gated_job)
    assert info.value.status == 409  # type: ignore[attr-defined]


def test_lists_flows_jobs_and_trace(client: Client, kernel: Kernel, gated_job: str,
                                    server: JupyterServer) -> None:
    kernel.run("gate.set()")
    assert list(client.watch(gated_job, timeout=15))[-1].is_terminal
    flows = client.flows()
    assert isinstance(flows, Listing) and flows.total == len(flows)
    mine = [f for f in flows if f.owner.kernel_id == kernel.kernel_id]
    assert mine and all(isinstance(f, Flow) for f in mine)
    flow = client.flow(mine[0].flow_id)
    assert sorted(flow.routines) == ["sink", "src"]
    assert flow.routines["src"].events == ["out"]
    assert [(c.source_routine, c.source_event, c.target_routine, c.target_slot)
            for c in flow.connections] == [("src", "out", "sink", "inp")]

    jobs = client.jobs(status="completed")
    assert gated_job in [j.job_id for j in jobs]
    assert all(j.status == "completed" for j in jobs)

    trace = client.trace(gated_job)
    assert isinstance(trace, Trace) and trace.total == len(trace.events)
    assert trace.events[0].event_type == "job_start"
    assert trace.events[-1].event_type == "job_completed"
    last_two = client.trace(gated_job, limit=2)
    assert [e.event_id for e in last_two.events] == [e.event_id for e in trace.events[-2:]]

    health = client.health()
    assert health.status == "ok" and any(o.kernel_id == kernel.kernel_id for o in health.owners)
    assert health.raw == server.api("GET", "health") | {"flows": health.flows,
                                                        "jobs": health.jobs}


def test_start_job_with_breakpoints_through_the_client(client: Client, kernel: Kernel) -> None:
    """A job started over HTTP in the kernel, with a breakpoint armed from its first activation."""
    kernel.run("gate = threading.Event(); gate.set(); started = make_flow('client_started')")
    wait_for(lambda: any(f.flow_id == "client_started" for f in client.flows()), 15,
             "the flow to reach the server")
    job = client.start_job("client_started", "src", {"n": 3}, kernel_id=kernel.kernel_id,
                           breakpoints=[{"routine_id": "sink", "condition": "x == 1"}])
    assert job.status == "running" and job.flow_id == "client_started"
    session = client.wait_paused(job.job_id, timeout=15)
    assert client.variables(job.job_id).local == {"x": 1}
    assert session.paused_at is not None and session.paused_at.routine_id == "sink"
    client.resume(job.job_id)
    assert list(client.watch(job.job_id, timeout=15))[-1].event_type == "job_completed"


def test_watch_timeout_and_early_close(client: Client, kernel: Kernel, gated_job: str) -> None:
    events = client.watch(gated_job, timeout=0.5)
    assert next(events).event_type == "job_start"  # the history so far
    with pytest.raises(TimeoutError, match="No event from job"):
        list(events)  # then nothing: the job waits at its gate
    with client.watch(gated_job, timeout=15) as stream:
        first = next(stream)
    assert first.event_type == "job_start" and stream.done
    assert list(stream) == []  # closed: the iterator is over
    kernel.run("gate.set()")


def test_watch_of_an_ended_job_replays_its_trace(client: Client, kernel: Kernel,
                                                 gated_job: str) -> None:
    kernel.run("gate.set()")
    live = list(client.watch(gated_job, timeout=15))
    wait_for(lambda: client.job(gated_job).is_terminal, 15, "the job to end")
    trace = [e.event_id for e in client.trace(gated_job).events]
    again = client.watch(gated_job, timeout=0.5)
    assert [e["event_id"] for e in again] == trace == [e["event_id"] for e in live]

    async def follow() -> list[str]:
        return [e.event_type async for e in client.awatch(gated_job, timeout=0.5)]

    assert asyncio.run(follow())[-1] == "job_completed"


def test_long_jobs_list_and_replay_whole_events(client: Client, kernel: Kernel,
                                                server: JupyterServer) -> None:
    """More events than the server puts in one JSON list (it cuts at 200 with a marker)."""
    job_id = kernel.run(start_gated_job("long_job", n=150)).stdout.split()[-1]
    wait_for(lambda: server.call("GET", f"api/jobs/{job_id}")[0] == 200, 10, "the job")
    with client.watch(job_id, timeout=15) as events:  # subscribed while it waits at the gate
        live = [next(events)]
        kernel.run("gate.set()")
        live += list(events)
    assert live[-1].event_type == "job_completed" and len(live) > 200
    trace = client.trace(job_id)
    assert all(isinstance(e, Event) for e in trace.events) and trace.total >= len(live)
    replayed = list(client.watch(job_id, timeout=5))  # ended: read from the trace
    assert replayed[-1].event_type == "job_completed"
    assert [e["event_id"] for e in replayed] == [e["event_id"] for e in live[-len(replayed):]]


def test_watch_of_an_unknown_job_fails_at_once(client: Client) -> None:
    with pytest.raises(NotFoundError, match="Job 'nope' does not exist"):
        client.watch("nope")

    async def follow() -> None:
        async for _ in client.awatch("nope"):
            pass

    with pytest.raises(NotFoundError, match="Job 'nope' does not exist"):
        asyncio.run(follow())


def test_async_watch_streams_until_the_terminal_event(client: Client, kernel: Kernel,
                                                      gated_job: str) -> None:
    async def collect() -> list[Event]:
        seen = []
        async with client.awatch(gated_job, timeout=15) as events:
            kernel.run("gate.set()")  # after subscribing: the live part of the stream
            async for item in events:
                assert isinstance(item, Event)
                seen.append(item)
        return seen

    seen = asyncio.run(collect())
    kinds = [e.event_type for e in seen]
    assert kinds[0] == "job_start" and kinds[-1] == "job_completed"
    assert kinds.count("routine_complete") == 1 + 5
    seqs = [e.seq or 0 for e in seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and seqs[0] >= 1  # in order
