"""DaskExecutor on a real LocalCluster with worker processes: the same jobs as on threads."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from routilux import ErrorHandler, ErrorStrategy
from routilux.monitoring import MonitoringRegistry

from .dask_routines import Broken, Burn, Flaky, Sleep, Stepped, cpu_flow

distributed = pytest.importorskip("distributed")

from routilux.executors import DaskExecutor, WorkerLostError  # noqa: E402


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    # Two threads per worker: a cancelled task keeps its thread until it returns (Dask cannot
    # interrupt it), and later tests must not wait for that.
    cl = distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                                  dashboard_address="127.0.0.1:0", silence_logs=40)
    yield cl
    cl.close()


@pytest.fixture(scope="module")
def client(cluster: Any) -> Iterator[Any]:
    c = distributed.Client(cluster, set_as_default=False)
    yield c
    c.close()


@pytest.fixture
def dask(client: Any) -> DaskExecutor:
    return DaskExecutor(client)




def _shape(trace: list[Any]) -> list[tuple[Any, ...]]:
    """A trace without times and ids: what happened, where, with which data."""
    return [(e["event_type"], e["routine_id"], e["slot_name"], e["event_name"],
             repr(sorted((k, v) for k, v in e["data"].items() if k != "pid"))
             if isinstance(e["data"], dict) else None)
            for e in trace]


def test_handlers_run_on_the_workers_and_results_come_back(dask: DaskExecutor) -> None:
    flow = cpu_flow()
    js = flow.execute("fan", {"n": 8}, executor=dask, timeout=60)
    assert js.status == "completed", js.error
    pids = {js.shared_data[f"pid{i}"] for i in range(8)}
    assert os.getpid() not in pids       # shared-data writes made on the workers came back
    assert all(js.shared_data[f"seen{i}"] for i in range(8))
    assert js.executor == "dask"
    info = js.to_dict()
    assert info["executor"] == "dask"
    assert info["executor_info"]["dashboard_link"].startswith("http://127.0.0.1:")


def test_a_dask_run_traces_like_a_thread_run_event_for_event(
    dask: DaskExecutor, registry: MonitoringRegistry,
) -> None:
    collector = registry.monitor_collector
    events = registry.event_manager
    flow = cpu_flow(strategy="sequential", flow_id="same-trace")
    streams: dict[str, list[Any]] = {}

    def run(**kw: Any) -> Any:
        js = flow.start("fan", {"n": 6}, **kw)
        sub = events.subscribe(js.job_id)
        assert js.wait(60) and js.status == "completed", js.error
        got = []
        while True:
            item = sub.get(timeout=2)
            if item is None:
                break
            got.append(item)
            if item.get("event_type") == "job_completed":
                break
        sub.close()
        streams[js.job_id] = got
        return js

    local = run()
    remote = run(executor=dask)
    t_local = collector.get_execution_trace(local.job_id)
    t_remote = collector.get_execution_trace(remote.job_id)
    assert _shape(t_remote) == _shape(t_local)        # event for event, in order
    m_local, m_remote = collector.get_metrics(local.job_id), collector.get_metrics(remote.job_id)
    for key in ("total_routines", "completed_routines", "failed_routines", "total_events",
                "total_slot_calls", "total_event_emits"):
        assert m_remote[key] == m_local[key], key
    assert {r: m["execution_count"] for r, m in m_remote["routine_metrics"].items()} == \
        {r: m["execution_count"] for r, m in m_local["routine_metrics"].items()}
    ws_local = [e for e in streams[local.job_id] if e.get("type") == "event"]
    ws_remote = [e for e in streams[remote.job_id] if e.get("type") == "event"]
    assert _shape(ws_remote) == _shape(ws_local)      # what WebSocket subscribers receive


def test_concurrent_dask_run_matches_counts_and_per_activation_order(
    dask: DaskExecutor, registry: MonitoringRegistry,
) -> None:
    flow = cpu_flow(Burn(20_000), max_workers=4)
    local = flow.execute("fan", {"n": 16}, timeout=60)
    remote = flow.execute("fan", {"n": 16}, executor=dask, timeout=60)
    assert local.status == remote.status == "completed"
    collector = registry.monitor_collector
    t_local = collector.get_execution_trace(local.job_id)
    t_remote = collector.get_execution_trace(remote.job_id)
    assert Counter((e["event_type"], e["routine_id"]) for e in t_remote) == \
        Counter((e["event_type"], e["routine_id"]) for e in t_local)

    def per_activation(trace: list[Any]) -> Counter:
        acts: dict[Any, list[str]] = {}
        for e in trace:
            if e["activation_id"] is not None and e["event_type"] in (
                    "routine_start", "event_emit", "routine_complete"):
                acts.setdefault(e["activation_id"], []).append(e["event_type"])
        return Counter(tuple(v) for v in acts.values())

    assert per_activation(t_remote) == per_activation(t_local)


def test_remote_exceptions_keep_their_traceback(dask: DaskExecutor) -> None:
    flow = cpu_flow(Broken(), flow_id="broken")
    js = flow.execute("fan", {"n": 1}, executor=dask, timeout=60)
    assert js.status == "failed"
    assert "work.trigger: KeyError" in js.error and "no record 0" in js.error
    tb = js.errors[0]["traceback"]
    assert "inner_helper_that_raises" in tb and "dask_routines.py" in tb
    assert "Remote traceback" in tb


def test_retry_resubmits_to_dask(dask: DaskExecutor) -> None:
    flaky = Flaky(failures=2)
    flaky.set_error_handler(ErrorHandler(ErrorStrategy.RETRY, max_retries=3, retry_delay=0.05))
    flow = cpu_flow(flaky, flow_id="flaky")
    js = flow.execute("fan", {"n": 1}, executor=dask, timeout=60)
    assert js.status == "completed", js.error
    assert js.shared_data["attempts"] == 3
    assert js.shared_data["seen0"] is True
    assert [r["status"] for r in js.execution_history if r["routine_id"] == "work"] == [
        "retrying", "retrying", "completed"]


def test_cancel_cancels_the_remote_tasks(dask: DaskExecutor) -> None:
    flow = cpu_flow(Sleep(), flow_id="cancel-me", max_workers=2)
    js = flow.start("fan", {"n": 2}, executor=dask)
    rt = js.runtime
    deadline = time.monotonic() + 30
    while len([h for h in list(rt._handles.values()) if hasattr(h, "status")]) < 2:
        assert time.monotonic() < deadline, "tasks never dispatched"
        time.sleep(0.01)
    futures = [h for h in list(rt._handles.values()) if hasattr(h, "status")]
    t0 = time.monotonic()
    flow.cancel(js)
    assert js.wait(5) and js.status == "cancelled"
    assert time.monotonic() - t0 < 5          # not the 30 s the tasks would take
    deadline = time.monotonic() + 10
    while any(f.status != "cancelled" for f in futures):
        assert time.monotonic() < deadline, [f.status for f in futures]
        time.sleep(0.02)


def test_a_breakpoint_pauses_before_dispatch_and_step_into_runs_that_activation_here(
    dask: DaskExecutor, registry: MonitoringRegistry,
) -> None:
    flow = cpu_flow(Stepped(), strategy="sequential", flow_id="step-dask")
    registry.breakpoint_manager.set_breakpoint(
        job_id="sd-1", routine_id="work", slot_name="trigger", condition="i == 1")
    session = registry.debug_session_store.get_or_create("sd-1")
    js = flow.start("fan", {"n": 3}, job_id="sd-1", executor=dask)
    assert session.wait_until_paused(30)
    assert session.paused_at["routine_id"] == "work"
    assert session.variables()["local"] == {"i": 1}
    session.step_into()
    assert session.wait_until_paused(30)
    first_line = Stepped.go.__code__.co_firstlineno + 1
    assert session.paused_at["line"] == first_line
    assert session.paused_at["function"] == "go"
    session.resume()
    assert js.wait(60) and js.status == "completed", js.error
    # The stepped activation ran in this process; the others ran on the workers.
    trace = registry.monitor_collector.get_execution_trace("sd-1")
    pids = [e["data"]["pid"] for e in trace
            if e["event_type"] == "event_emit" and e["routine_id"] == "work"]
    assert pids.count(os.getpid()) == 1 and len(pids) == 3


def test_killing_a_worker_mid_job_ends_the_job_within_30s() -> None:
    # A cluster of its own: this test kills one of its worker processes (SIGKILL, no goodbye).
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address="127.0.0.1:0", silence_logs=50) as cl, \
            distributed.Client(cl, set_as_default=False) as c:
        ex = DaskExecutor(c)
        flow = cpu_flow(Sleep(4.0), flow_id="kill", max_workers=2)
        js = flow.start("fan", {"n": 2}, executor=ex)
        deadline = time.monotonic() + 30
        while not any(k for k in c.processing().values()
                      if any("work" in str(x) for x in k)):
            assert time.monotonic() < deadline, "the tasks never started"
            time.sleep(0.05)
        busy = next(addr for addr, keys in c.processing().items()
                    if any("work" in str(x) for x in keys))
        pid = c.run(os.getpid, workers=[busy])[busy]
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        # The job must end within 30 s: Dask retries the task on a live worker and the job
        # completes, or the job fails with an error that says a worker died.
        if not js.wait(30):
            pytest.fail(f"job still {js.status} 30 s after a worker died")
        assert time.monotonic() - t0 <= 31
        if js.status == "failed":
            assert "worker" in js.error.lower(), js.error
        else:
            assert js.status == "completed"
            assert js.shared_data["seen0"] and js.shared_data["seen1"]


def test_worker_lost_error_says_what_to_do() -> None:
    err = WorkerLostError("work.trigger: the Dask worker running it died")
    assert isinstance(err, RuntimeError)


def test_the_history_keeps_a_dask_jobs_executor(dask: DaskExecutor, tmp_path: Any) -> None:
    from routilux.service.sqlite_history import SqliteHistoryStore

    store = SqliteHistoryStore(str(tmp_path / "history.sqlite"))
    reg = MonitoringRegistry(history_store=store)
    reg.install()
    try:
        js = cpu_flow(flow_id="hist").execute("fan", {"n": 2}, executor=dask, timeout=60)
    finally:
        reg.uninstall()
    assert js.status == "completed"
    # Read back from a second store on the same file, as a restarted server would.
    saved = {j["job_id"]: j for j in SqliteHistoryStore(str(tmp_path / "history.sqlite"))
             .list_jobs()}[js.job_id]
    assert saved["executor"] == "dask"
    assert saved["executor_info"]["dashboard_link"] == dask.dashboard_link


def test_a_routine_is_shipped_once_per_worker_not_once_per_task(client: Any) -> None:
    from .dask_routines import Counted, unpickled_here

    ex = DaskExecutor(client)
    flow = cpu_flow(Counted(1000), max_workers=4, flow_id="shipped-once")
    for _ in range(3):
        js = flow.execute("fan", {"n": 20}, executor=ex, timeout=60)
        assert js.status == "completed", js.error
    counts = client.run(unpickled_here)
    # 60 activations of the routine. Shipped per task, each worker would unpickle it about 30
    # times; shipped once (scatter, broadcast) it is 1, occasionally 2 when Dask's broadcast
    # replication hands a worker a second copy.
    assert counts and all(1 <= n <= 2 for n in counts.values()), counts


@pytest.mark.parametrize("bad,reason", [
    (42, "got int"),
    ("bogus", "Unknown executor 'bogus'"),
    ("threads", "Unknown executor 'threads'"),
])
def test_a_bad_executor_is_refused_with_the_choices(bad: Any, reason: str) -> None:
    from routilux import ValidationError
    from routilux.executors import resolve_executor

    with pytest.raises(ValidationError, match=reason) as refused:
        resolve_executor(bad)
    assert refused.value.detail["field"] == "executor"
    assert isinstance(refused.value, ValueError)
    flow = cpu_flow(flow_id="bad-executor")
    with pytest.raises(ValidationError):
        flow.start("fan", {"n": 1}, executor=bad)
    assert flow.live_jobs() == []                 # nothing started


def test_dask_executor_refuses_a_wrong_client_and_an_unreachable_scheduler() -> None:
    from routilux import RoutiluxError, ValidationError

    with pytest.raises(ValidationError, match="takes a distributed.Client"):
        DaskExecutor(client=123)
    with pytest.raises(RoutiluxError, match="could not connect to tcp://127.0.0.1:9") as refused:
        DaskExecutor("tcp://127.0.0.1:9", timeout=2)
    assert "scheduler runs" in str(refused.value)
