"""The kernel agent against the server's bridge, both in this process (see inprocess.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import wait_for
from inprocess import BridgeServer, KernelHalf, Sink, Source

from routilux import Flow
from routilux.errors import (
    InvalidStateError,
    NotFoundError,
    OwnerTimeoutError,
    OwnerUnavailableError,
    RoutiluxError,
)
from routilux.monitoring import MonitoringRegistry


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[BridgeServer]:
    server = BridgeServer(tmp_path, lost_grace=0.3, request_timeout=2.0)
    yield server
    server.stop()


@pytest.fixture
def kernel() -> Iterator[KernelHalf]:
    half = KernelHalf()
    yield half
    half.close()


def make_flow(flow_id: str, gate: threading.Event | None = None) -> Flow:
    flow = Flow(flow_id)
    flow.add_routine(Source(gate), "src")
    flow.add_routine(Sink(), "sink")
    flow.connect("src", "out", "sink", "inp")
    return flow


def connected(agent: Any, count: int = 1) -> bool:
    return agent.connected.is_set() and agent.connections >= count


def status(bridge: BridgeServer, job_id: str) -> str | None:
    """The job's status as the server's API reports it (``None`` while it is unknown there)."""
    try:
        return bridge.service.get_job(job_id)["status"]
    except NotFoundError:
        return None


def test_hello_routes_flows_jobs_events_and_history(bridge: BridgeServer,
                                                    kernel: KernelHalf) -> None:
    agent = kernel.agent(bridge.url, bridge.registry.secret)
    wait_for(lambda: connected(agent), 5, "the agent to connect")
    assert bridge.kernels()[0]["kernel_id"] == "k-test"

    make_flow("inproc")  # built after the connection: announced by a flows message
    service = bridge.service
    wait_for(lambda: any(f["flow_id"] == "inproc" for f in service.list_flows()["flows"]), 5,
             "the new flow to be listed")
    got: list[dict[str, Any]] = []
    done = threading.Event()
    sub = service.subscribe_flow("inproc", lambda: None, max_queue=10_000)

    job = service.start_job({"flow_id": "inproc", "entry_routine_id": "src",
                             "entry_params": {"n": 3}, "kernel_id": "k-test"})
    job_id = job["job_id"]

    def drained() -> bool:
        got.extend(sub.drain())
        if any(e.get("event_type") == "job_completed" for e in got):
            done.set()
        return done.is_set()

    wait_for(drained, 5, "job_completed on the server's event manager")
    sub.close()
    seqs = [e["seq"] for e in got if e.get("type") == "event"]
    assert seqs == list(range(1, len(seqs) + 1))  # every event, in order, no gap
    assert service.get_job(job_id)["status"] == "completed"
    assert service.get_job(job_id)["owner"]["kernel_id"] == "k-test"

    # The history holds the job, its metrics and its whole trace (the system of record).
    assert bridge.history.store.flush(5)
    record = bridge.history.get_job(job_id)
    assert record["status"] == "completed" and record["owner"]["kind"] == "kernel"
    assert bridge.history.get_metrics(job_id)["total_events"] == len(seqs)
    assert [e["seq"] for e in bridge.history.get_trace(job_id, None)] == seqs


def test_jobs_started_in_cells_are_registered_and_announced(bridge: BridgeServer,
                                                            kernel: KernelHalf) -> None:
    agent = kernel.agent(bridge.url, bridge.registry.secret)
    wait_for(lambda: connected(agent), 5, "the agent to connect")
    flow = make_flow("cellflow")
    job = flow.execute("src", {"n": 2})  # as a notebook cell would
    assert job.status == "completed"
    assert kernel.owner.has_job(job.job_id)
    wait_for(lambda: status(bridge, job.job_id) == "completed", 5,
             "the cell's job to reach the server")
    # A re-run cell replaces the flow of the same id.
    again = make_flow("cellflow")
    assert kernel.owner.flows.get("cellflow") is again


def test_wrong_secret_gets_403_and_no_registration(bridge: BridgeServer,
                                                  kernel: KernelHalf) -> None:
    agent = kernel.agent(bridge.url, "not-the-secret", backoff_initial=0.05, backoff_max=0.1)
    wait_for(lambda: agent.last_error and "403" in agent.last_error, 5, "the refusal")
    assert not agent.connected.is_set()
    assert bridge.kernels() == []


def test_reconnect_with_backoff_reannounces_without_losing_jobs(bridge: BridgeServer,
                                                                kernel: KernelHalf) -> None:
    gate = threading.Event()
    agent = kernel.agent(bridge.url, bridge.registry.secret, backoff_initial=0.05)
    wait_for(lambda: connected(agent), 5, "the agent to connect")
    job = make_flow("held", gate).start("src", {"n": 2})
    wait_for(lambda: bridge.service.owners()[-1].has_job(job.job_id), 5, "the job record")

    # The connection drops (server side) while the kernel process lives on.
    bridge.on_loop(lambda: bridge.registry.connections["k-test"].socket.close(1011, "test drop"))
    wait_for(lambda: connected(agent, 2), 5, "the agent to reconnect")
    assert status(bridge, job.job_id) == "running"
    # Past the lost grace period the job is still not lost: the same process came back.
    passed = threading.Event()
    bridge.on_loop(lambda: bridge.loop.call_later(0.5, passed.set))  # type: ignore[union-attr]
    assert passed.wait(5)
    assert bridge.history.store.flush(5)
    assert bridge.history.get_job(job.job_id)["status"] == "running"
    gate.set()
    wait_for(lambda: status(bridge, job.job_id) == "completed", 5,
             "the job to complete after the reconnect")


def test_disconnect_makes_flows_503_and_jobs_lost(bridge: BridgeServer,
                                                  kernel: KernelHalf) -> None:
    gate = threading.Event()
    agent = kernel.agent(bridge.url, bridge.registry.secret)
    wait_for(lambda: connected(agent), 5, "the agent to connect")
    job = make_flow("orphan", gate).start("src", {"n": 2})
    wait_for(lambda: bridge.service.owners()[-1].has_job(job.job_id), 5, "the job record")
    live = bridge.service.subscribe_job(job.job_id, lambda: None, max_queue=1000)

    agent.stop()  # as %unload_ext does; a dead kernel closes its socket the same way
    with pytest.raises(OwnerUnavailableError, match="k-test"):
        wait_for(lambda: bridge.service.get_flow("orphan") and False, 5, "a 503")
    listed = [f for f in bridge.service.list_flows()["flows"] if f["flow_id"] == "orphan"]
    assert listed and listed[0]["available"] is False
    wait_for(lambda: status(bridge, job.job_id) == "lost", 5, "lost")
    assert bridge.service.get_trace(job.job_id)["events"][-1]["event_type"] == "job_lost"
    published = [e for e in live.drain() if e.get("event_type") == "job_lost"]
    live.close()
    # one time format, even for what the server adds itself
    assert len(published) == 1 and published[0]["timestamp"].endswith("Z")
    with pytest.raises(InvalidStateError):
        bridge.service.resume_job(job.job_id)
    gate.set()


def test_restart_marks_the_old_process_jobs_lost(bridge: BridgeServer,
                                                  kernel: KernelHalf) -> None:
    gate = threading.Event()
    old_agent = kernel.agent(bridge.url, bridge.registry.secret)
    wait_for(lambda: connected(old_agent), 5, "the old process to connect")
    job = make_flow("restarted", gate).start("src", {"n": 2})
    wait_for(lambda: bridge.service.owners()[-1].has_job(job.job_id), 5, "the job record")

    # A new process of the same kernel id (new instance id) says hello.
    new_process = KernelHalf("k-test", monitoring=MonitoringRegistry())
    try:
        new_agent = new_process.agent(bridge.url, bridge.registry.secret)
        wait_for(lambda: connected(new_agent), 5, "the new process to connect")
        wait_for(lambda: status(bridge, job.job_id) == "lost", 5,
                 "the old process's job to be lost")
        # The replaced connection is told so and does not fight back.
        wait_for(lambda: not old_agent.running, 5, "the old agent to stop")
        assert "replaced" in (old_agent.last_error or "")
        assert [k["instance_id"] for k in bridge.kernels()] == [new_process.identity.instance_id]
    finally:
        gate.set()
        new_process.close()


def test_slow_kernel_times_out_and_listing_falls_back(bridge: BridgeServer,
                                                      kernel: KernelHalf) -> None:
    agent = kernel.agent(bridge.url, bridge.registry.secret)
    wait_for(lambda: connected(agent), 5, "the agent to connect")
    flow = make_flow("sluggish")
    service = bridge.service
    wait_for(lambda: any(f["flow_id"] == "sluggish" for f in service.list_flows()["flows"]), 5,
             "the flow")
    release = threading.Event()
    original = flow.describe
    flow.describe = lambda: (release.wait(10), original())[1]  # type: ignore[method-assign]
    owner = service.owners()[-1]
    owner.timeout = 0.3
    try:
        with pytest.raises(OwnerTimeoutError, match="did not answer"):
            service.get_flow("sluggish")
        listed = [f for f in service.list_flows()["flows"] if f["flow_id"] == "sluggish"]
        assert listed[0]["available"] is False and listed[0]["routines"]
    finally:
        release.set()
    with pytest.raises(RoutiluxError, match="does not know the operation"):
        owner.request("shutdown_kernel")


def test_agent_queue_overflow_becomes_gap_markers(bridge: BridgeServer,
                                                  kernel: KernelHalf) -> None:
    gate = threading.Event()
    agent = kernel.agent(bridge.url, bridge.registry.secret, queue_size=5)
    wait_for(lambda: connected(agent), 5, "the agent to connect")
    flow = make_flow("burst", gate)
    service = bridge.service
    wait_for(lambda: service.owners()[-1].has_flow("burst"), 5, "the flow")
    sub = service.subscribe_flow("burst", lambda: None, max_queue=100_000)
    job = flow.start("src", {"n": 300})
    gate.set()  # 300 items at full speed into a 5-event agent queue: most are dropped there
    assert job.wait(10)
    total = MonitoringRegistry.get_instance().monitor_collector.get_metrics(job.job_id)
    items: list[dict[str, Any]] = []

    def accounted() -> bool:
        items.extend(sub.drain())
        got = sum(1 for i in items if i.get("type") == "event")
        missed = sum(i["dropped"] for i in items if i.get("type") == "gap")
        return got + missed >= total.total_events

    wait_for(accounted, 10, "every event or a gap marker")
    sub.close()
    events = [i for i in items if i.get("type") == "event"]
    gaps = [i for i in items if i.get("type") == "gap"]
    assert gaps and agent.events_dropped > 0
    assert sum(1 for _ in events) + sum(g["dropped"] for g in gaps) == total.total_events
    assert events[-1]["event_type"] == "job_completed"  # the tail came from the kernel's ring
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))
