"""Registration of the kernel's flows and jobs (no server needed)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from inprocess import KernelHalf, Sink, Source

from routilux import Flow
from routilux.service.requests import FlowCreate
from routilux_jupyter.kernel.registration import KernelLocalOwner


class RecordingStore:
    """A history store that keeps what it was given (stands for a user's own store)."""

    def __init__(self) -> None:
        self.jobs: list[dict[str, Any]] = []
        self.flushed = False

    def record_job(self, job: Any) -> None:
        self.jobs.append(job() if callable(job) else dict(job))

    def record_metrics(self, job_id: str, metrics: Any) -> None:
        pass

    def record_events(self, job_id: str, events: Any) -> None:
        pass

    def flush(self, timeout: float | None = None) -> bool:
        self.flushed = True
        return True


class Sink_(RecordingStore):
    """Also a RegistrationSink: what the agent would be told."""

    def __init__(self) -> None:
        super().__init__()
        self.flow_changes = 0
        self.recorded: list[tuple[str, bool]] = []
        self.forgotten: list[str] = []

    def flows_changed(self) -> None:
        self.flow_changes += 1

    def job_recorded(self, job: dict[str, Any], ended: bool) -> None:
        self.recorded.append((job["job_id"], ended))

    def job_forgotten(self, job_id: str) -> None:
        self.forgotten.append(job_id)


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


def test_flows_register_when_built_and_a_rerun_replaces_them(kernel: KernelHalf) -> None:
    sink = Sink_()
    kernel.owner.sink = sink
    first = make_flow("cell")
    assert kernel.owner.flows.get("cell") is first
    second = make_flow("cell")  # the same cell run again
    assert kernel.owner.flows.get("cell") is second
    assert len([f for f in kernel.owner.flows.list_all() if f.flow_id == "cell"]) == 1
    assert sink.flow_changes >= 2
    kernel.registration.uninstall()
    make_flow("after-unload")
    assert "after-unload" not in kernel.owner.flows


def test_jobs_from_cells_are_adopted_and_reported(kernel: KernelHalf) -> None:
    sink = Sink_()
    kernel.owner.sink = sink
    job = make_flow("adopt").execute("src", {"n": 2})
    assert kernel.owner.get_job(job.job_id)["status"] == "completed"
    assert sink.recorded == [(job.job_id, False), (job.job_id, True)]


def test_a_job_of_a_replaced_flow_is_still_controlled(kernel: KernelHalf) -> None:
    gate = threading.Event()
    job = make_flow("swap", gate).start("src", {"n": 2})
    make_flow("swap")  # the cell is re-run while the old flow's job still runs
    assert kernel.owner.control_job(job.job_id, "pause")["status"] == "paused"
    assert kernel.owner.control_job(job.job_id, "resume")["status"] == "running"
    gate.set()
    assert job.wait(5) and job.status == "completed"


def test_create_flow_through_the_api_does_not_collide_with_the_listener() -> None:
    from routilux.monitoring import MonitoringRegistry
    from routilux.registry import register_routine

    register_routine(Source, name="BridgeTestSource")
    half = KernelHalf()
    try:
        created = half.owner.create_flow(FlowCreate(
            spec={"routines": {"s": {"class": "BridgeTestSource"}}, "connections": []},
            flow_id="from-api",
        ))
        assert created["flow_id"] == "from-api" and "from-api" in half.owner.flows
        assert MonitoringRegistry.is_enabled()
    finally:
        half.close()


def test_relay_forwards_to_a_previous_history_store() -> None:
    from routilux.monitoring import MonitoringRegistry

    registry = MonitoringRegistry.get_instance()
    was_enabled = MonitoringRegistry.is_enabled()
    MonitoringRegistry.enable()
    previous = registry.history_store
    own = RecordingStore()
    registry.attach_history_store(own)
    half = KernelHalf()
    try:
        job = make_flow("chained").execute("src", {"n": 1})
        assert [j["status"] for j in own.jobs if j["job_id"] == job.job_id] == [
            "running", "completed"]
        assert registry.history_store.flush() and own.flushed  # other methods pass through
    finally:
        half.close()
        assert registry.history_store is own  # uninstall restored the previous store
        registry.attach_history_store(previous)
        if not was_enabled:
            MonitoringRegistry.disable()


def test_finished_jobs_beyond_the_limit_are_forgotten_and_reported() -> None:
    from routilux.monitoring import MonitoringRegistry
    from routilux.service.owner import OwnerInfo

    owner = KernelLocalOwner(MonitoringRegistry.get_instance(), info=OwnerInfo("kernel", "k"),
                             max_finished_jobs=2)
    sink = Sink_()
    owner.sink = sink
    flow = make_flow("bounded")
    jobs = [flow.execute("src", {"n": 1}) for _ in range(4)]
    for job in jobs:
        owner.adopt_job(job)  # already finished: its done callback runs at once
    assert [j.job_id for j in owner.jobs.list_all()] == [j.job_id for j in jobs[2:]]
    assert sink.forgotten == [j.job_id for j in jobs[:2]]
