"""RoutiluxService: owner routing, merged listings, history fallback, subscriptions."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
import svc_routines
from svc_routines import HOLD_SPEC, SPEC

from routilux.errors import AmbiguousError, InvalidStateError, NotFoundError, ValidationError
from routilux.service import LocalOwner, OwnerInfo, RoutiluxService, create_local_service


def finish(bundle, job_id: str) -> None:
    job = bundle.owner.jobs.get(job_id)
    assert job.wait(5), f"job {job_id} did not finish"
    assert bundle.history.store.flush(5)


def run_job(bundle, count: int = 3) -> str:
    job_id = bundle.service.start_job(
        {"flow_id": "numbers", "entry_routine_id": "numbers", "entry_params": {"count": count}}
    )["job_id"]
    finish(bundle, job_id)
    return job_id


@pytest.fixture
def kernel_owner(bundle) -> LocalOwner:
    """A second owner standing in for a kernel (same owner code, kernel identity)."""
    owner = LocalOwner(bundle.monitoring, info=OwnerInfo("kernel", "k1", "analysis.ipynb"))
    bundle.service.add_owner(owner)
    return owner


def test_import_routilux_service_loads_no_jupyter_stack():
    code = (
        "import sys, routilux, routilux.monitoring, routilux.service\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in {'tornado', 'jupyter_server',"
        " 'jupyter_core', 'jupyter_client', 'IPython', 'ipywidgets', 'anywidget', 'traitlets',"
        " 'ipykernel', 'routilux_jupyter'}]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_flows_go_to_the_default_owner_or_the_named_kernel(bundle, kernel_owner):
    service = bundle.service
    server_flow = service.create_flow({"spec": SPEC})
    assert server_flow["owner"]["kind"] == "server"
    kernel_flow = service.create_flow({"spec": SPEC, "kernel_id": "k1"})
    assert kernel_flow["owner"] == {"kind": "kernel", "kernel_id": "k1",
                                    "notebook_path": "analysis.ipynb"}
    listing = service.list_flows()
    assert listing["total"] == 2

    with pytest.raises(AmbiguousError) as ambiguous:
        service.get_flow("numbers")
    assert {c["kind"] for c in ambiguous.value.detail["candidates"]} == {"server", "kernel"}
    assert service.get_flow("numbers", "k1")["owner"]["kernel_id"] == "k1"
    with pytest.raises(AmbiguousError):
        service.start_job({"flow_id": "numbers", "entry_routine_id": "numbers"})
    job = service.start_job({"flow_id": "numbers", "entry_routine_id": "numbers",
                             "kernel_id": "k1"})
    assert kernel_owner.has_job(job["job_id"]) and not bundle.owner.has_job(job["job_id"])
    assert service.get_job(job["job_id"])["owner"]["kernel_id"] == "k1"
    with pytest.raises(NotFoundError):
        service.create_flow({"spec": SPEC, "kernel_id": "k2"})
    with pytest.raises(InvalidStateError):
        service.remove_owner(bundle.owner)
    kernel_owner.jobs.get(job["job_id"]).wait(5)
    service.remove_owner(kernel_owner)
    assert service.get_flow("numbers")["owner"]["kind"] == "server"


def test_breakpoints_in_the_start_request_stop_the_very_first_activation(bundle):
    service = bundle.service
    service.create_flow({"spec": SPEC})
    job_id = service.start_job({
        "flow_id": "numbers", "entry_routine_id": "numbers", "entry_params": {"count": 2},
        "breakpoints": [{"routine_id": "numbers"}],
    })["job_id"]
    session = bundle.monitoring.debug_session_store.get_or_create(job_id)
    assert session.wait_until_paused(5)
    metrics = service.get_metrics(job_id)
    assert "numbers" not in metrics["routine_metrics"] or (
        metrics["routine_metrics"]["numbers"]["execution_count"] == 0
    )
    assert service.list_breakpoints(job_id)["breakpoints"][0]["hit_count"] == 1
    service.debug_step(job_id, "continue")
    finish(bundle, job_id)
    assert service.get_job(job_id)["status"] == "completed"


def test_a_bad_breakpoint_in_the_start_request_starts_nothing(bundle):
    service = bundle.service
    service.create_flow({"spec": SPEC})
    with pytest.raises(ValidationError):
        service.start_job({"flow_id": "numbers", "entry_routine_id": "numbers", "breakpoints": [
            {"routine_id": "sum"}, {"routine_id": "sum", "condition": "open('x')"}]})
    assert service.list_jobs()["total"] == 0
    assert bundle.monitoring.breakpoint_manager.get_breakpoints(flow_id="numbers") == []


def test_finished_jobs_answer_from_the_history_once_forgotten(bundle):
    service = bundle.service
    service.create_flow({"spec": SPEC})
    job_id = run_job(bundle, count=5)
    live = (service.get_job(job_id), service.get_metrics(job_id), service.get_trace(job_id))
    bundle.owner.forget_job(job_id)
    assert not bundle.owner.has_job(job_id)

    job = service.get_job(job_id)
    assert (job["status"], job["owner"]["kind"]) == ("completed", "server")
    assert service.get_metrics(job_id)["routine_metrics"]["sum"]["execution_count"] == 5
    trace = service.get_trace(job_id)
    assert [e["seq"] for e in trace["events"]] == [e["seq"] for e in live[2]["events"]]
    assert len(service.get_trace(job_id, "2")["events"]) == 2
    assert service.debug_session(job_id) == {"job_id": job_id, "status": "completed",
                                             "paused_at": None}
    with pytest.raises(InvalidStateError) as gone:
        service.pause_job(job_id)
    assert "history" in gone.value.message
    with pytest.raises(InvalidStateError):
        service.add_breakpoint(job_id, {"routine_id": "sum"})


def test_job_listing_merges_live_and_history_without_double_counting(bundle):
    service = bundle.service
    service.create_flow({"spec": SPEC})
    ids = [run_job(bundle) for _ in range(4)]
    bundle.owner.forget_job(ids[0])  # only in the history now
    bundle.owner.forget_job(ids[1])
    listing = service.list_jobs()
    assert listing["total"] == 4
    assert [j["job_id"] for j in listing["jobs"]] == ids[::-1]
    page = service.list_jobs({"limit": "2", "offset": "1"})
    assert [j["job_id"] for j in page["jobs"]] == [ids[2], ids[1]]
    assert service.list_jobs({"status": "completed", "flow_id": "numbers"})["total"] == 4
    assert service.list_jobs({"flow_id": "elsewhere"}) == {"jobs": [], "total": 0}


def test_unknown_ids_are_not_found_everywhere(bundle):
    service = bundle.service
    for call in (
        lambda: service.get_job("x"), lambda: service.get_metrics("x"),
        lambda: service.get_trace("x"), lambda: service.pause_job("x"),
        lambda: service.list_breakpoints("x"), lambda: service.debug_session("x"),
        lambda: service.debug_step("x", "step_over"), lambda: service.get_variables("x"),
        lambda: service.get_call_stack("x"), lambda: service.get_flow("x"),
        lambda: service.delete_flow("x"), lambda: service.subscribe_job("x", lambda: None),
        lambda: service.subscribe_flow("x", lambda: None),
    ):
        with pytest.raises(NotFoundError):
            call()
    with pytest.raises(ValidationError):
        service.control_job("x", "explode")


def test_subscriptions_get_history_then_live_events_and_notify_once_per_burst(bundle):
    service = bundle.service
    service.create_flow({"spec": HOLD_SPEC})
    job_id = service.start_job({"flow_id": "hold", "entry_routine_id": "hold"})["job_id"]
    notified = threading.Event()
    sub = service.subscribe_job(job_id, notified.set)
    assert notified.wait(5)  # the history (job_start, ...) is already queued
    first = sub.get(5)
    assert first["event_type"] == "job_start"
    svc_routines.RELEASE.set()
    finish(bundle, job_id)
    rest = []
    while True:
        item = sub.get(5)
        assert item is not None
        rest.append(item)
        if item.get("event_type") == "job_completed":
            break
    assert [e["seq"] for e in [first, *rest]] == sorted(e["seq"] for e in [first, *rest])
    sub.close()


def test_health_counts_flows_and_jobs(bundle):
    bundle.service.create_flow({"spec": SPEC})
    run_job(bundle)
    health = bundle.service.health()
    assert (health["status"], health["flows"], health["jobs"], health["history"]) == (
        "ok", 1, 1, True
    )


def test_a_service_needs_an_owner():
    with pytest.raises(ValueError):
        RoutiluxService([])


def test_a_restart_marks_jobs_of_the_old_process_lost(history_db):
    first = create_local_service(history_db=str(history_db), load_entry_points=False)
    first.service.create_flow({"spec": HOLD_SPEC})
    job_id = first.service.start_job({"flow_id": "hold", "entry_routine_id": "hold"})["job_id"]
    assert first.history.store.flush(5)
    # The process "dies": the history still says running; nothing cancels the job.
    first.monitoring.attach_history_store(None)
    first.history.close()
    second = create_local_service(history_db=str(history_db), load_entry_points=False)
    try:
        assert not second.owner.has_job(job_id)
        record = second.history.get_job(job_id)
        assert record["status"] == "lost" and "restart" in record["error"]
    finally:
        svc_routines.RELEASE.set()
        first.owner.jobs.get(job_id).wait(5)
        second.close()


def _times(shape, path=""):
    """Every (path, value) of a time field in a JSON shape (``*_at``, ``*_time``, timestamps)."""
    if isinstance(shape, dict):
        for key, value in shape.items():
            where = f"{path}.{key}"
            if isinstance(value, str) and (key.endswith(("_at", "_time")) or key in (
                    "timestamp", "last_execution")):
                yield where, value
            else:
                yield from _times(value, where)
    elif isinstance(shape, list):
        for i, value in enumerate(shape):
            yield from _times(value, f"{path}[{i}]")


def test_every_time_is_iso_8601_utc_ending_in_z(bundle):
    # One format everywhere (DESIGN §6): job fields, metrics, routine metrics, errors, trace
    # events, live and read back from the history.
    from datetime import datetime

    service = bundle.service
    service.create_flow({"spec": SPEC})
    job_id = run_job(bundle, count=3)
    shapes = {"job": service.get_job(job_id), "metrics": service.get_metrics(job_id),
              "trace": service.get_trace(job_id)}
    bundle.owner.forget_job(job_id)
    shapes.update({"history job": service.get_job(job_id),
                   "history metrics": service.get_metrics(job_id),
                   "history trace": service.get_trace(job_id)})
    for name, shape in shapes.items():
        times = list(_times(shape))
        assert times, name
        for where, value in times:
            assert value.endswith("Z") and "+" not in value, f"{name}{where} = {value!r}"
            assert datetime.fromisoformat(value.replace("Z", "+00:00")).utcoffset().total_seconds() == 0
    assert any(w.endswith(".last_execution") for w, _ in _times(shapes["metrics"]))
    assert any(w.endswith(".timestamp") for w, _ in _times(shapes["trace"]))
