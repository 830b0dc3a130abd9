"""A real ``jupyter server`` subprocess that finds the extension only through the installed
auto-enable file: debug a job over HTTP and WebSocket, restart, read its history from SQLite."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket  # websocket-client
from api_routines import SUM_SPEC

from tests.support import JupyterProcess

HERE = Path(__file__).resolve().parent


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Any]:
    """``start_server()``: a ``jupyter server`` on the same root, token and history each time.

    No extension flag: the routilux extension must come from the installed auto-enable file in
    ``sys.prefix`` (JupyterProcess hides only the user's own config dir).
    """
    servers: list[JupyterProcess] = []
    token = secrets.token_hex(16)

    def start(*extra: str) -> JupyterProcess:
        server = JupyterProcess(
            tmp_path / f"state-{len(servers)}", "server", root_dir=tmp_path, token=token,
            pythonpath=[HERE], timeout=60,
            args=[f"--RoutiluxExtension.history_db={tmp_path / 'history.sqlite'}",
                  "--RoutiluxExtension.routine_modules=api_routines", *extra])
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


def receive_until(ws: websocket.WebSocket, event_type: str) -> list[dict[str, Any]]:
    """Events up to and including the first of ``event_type`` (the socket times out at 10 s)."""
    seen = []
    while True:
        message = json.loads(ws.recv())
        seen.append(message)
        if message.get("event_type") == event_type:
            return seen


def test_debug_a_job_on_a_real_server_then_read_its_history_after_a_restart(start_server):
    server = start_server()
    assert "routilux_jupyter" in server.log()  # enabled by the installed config file
    assert server.api("GET", "status")["started"]  # a core route, untouched

    server.api("POST", "flows", {"spec": SUM_SPEC}, expect=201)
    job = server.api("POST", "jobs", {
        "flow_id": "sum_flow", "entry_routine_id": "numbers", "entry_params": {"count": 4},
        "breakpoints": [{"type": "slot", "routine_id": "sum", "slot_name": "input",
                         "condition": "value == 2"}],
    }, expect=201)
    assert job["status"] == "running"
    job_id = job["job_id"]

    monitor = server.websocket(f"api/ws/jobs/{job_id}/monitor")
    hit = receive_until(monitor, "breakpoint_hit")[-1]
    assert hit["routine_id"] == "sum"
    receive_until(monitor, "job_paused")

    variables = server.api("GET", f"jobs/{job_id}/debug/variables")["variables"]
    assert variables["local"] == {"value": 2}
    assert variables["shared"] == {"total": 1}  # 0 + 1 before the breakpoint
    frames = server.api("GET", f"jobs/{job_id}/debug/call_stack")["frames"]
    assert [f["routine_id"] for f in frames[:2]] == ["sum", "numbers"]

    server.api("POST", f"jobs/{job_id}/debug/step_over")
    receive_until(monitor, "job_resumed")
    receive_until(monitor, "job_paused")  # stepped: paused before the next activation
    session = server.api("GET", f"jobs/{job_id}/debug/session")
    assert session["status"] == "paused" and session["paused_at"]["routine_id"] == "sum"
    server.api("POST", f"jobs/{job_id}/resume")
    receive_until(monitor, "job_completed")
    monitor.close()
    metrics_before = server.api("GET", f"jobs/{job_id}/metrics")
    trace_before = server.api("GET", f"jobs/{job_id}/trace")
    server.stop()

    restarted = start_server()
    assert restarted.port != server.port or restarted.proc.pid != server.proc.pid
    assert restarted.api("GET", "flows")["total"] == 0, restarted.log()  # old flows are gone
    stored = restarted.api("GET", f"jobs/{job_id}")
    assert stored["status"] == "completed" and stored["flow_id"] == "sum_flow"
    metrics = restarted.api("GET", f"jobs/{job_id}/metrics")
    assert metrics["status"] == "completed"
    assert metrics["routine_metrics"]["sum"]["execution_count"] == 4
    assert metrics["total_events"] == metrics_before["total_events"]
    trace = restarted.api("GET", f"jobs/{job_id}/trace")
    assert [e["seq"] for e in trace["events"]] == [e["seq"] for e in trace_before["events"]]
    assert trace["events"][-1]["event_type"] == "job_completed"
    assert [j["job_id"] for j in restarted.api("GET", "jobs")["jobs"]] == [job_id]
    error = restarted.api("POST", f"jobs/{job_id}/debug/step_over", expect=409)
    assert "history" in error["message"]


def test_history_retention_keeps_the_newest_jobs_and_every_pinned_one(start_server):
    keep = "--RoutiluxExtension.history_max_jobs=2"
    server = start_server(keep)
    server.api("POST", "flows", {"spec": SUM_SPEC}, expect=201)
    ids = []
    for count in range(5):
        job = server.api("POST", "jobs", {"flow_id": "sum_flow", "entry_routine_id": "numbers",
                                          "entry_params": {"count": count}}, expect=201)
        ids.append(job["job_id"])
        monitor = server.websocket(f"api/ws/jobs/{job['job_id']}/monitor")
        receive_until(monitor, "job_completed")
        monitor.close()
    pinned = server.api("PUT", f"jobs/{ids[0]}", {"label": "keep me", "pinned": True})
    assert pinned["pinned"] is True
    server.stop()

    # The restarted server applies the retention at start: the two newest jobs stay, and so
    # does the pinned one however old; the others are gone from the history.
    restarted = start_server(keep)
    listed = {j["job_id"] for j in restarted.api("GET", "jobs")["jobs"]}
    assert listed == {ids[0], ids[3], ids[4]}, restarted.log()
    assert restarted.api("GET", f"jobs/{ids[0]}")["label"] == "keep me"
    missing = restarted.api("GET", f"jobs/{ids[1]}", expect=404)
    assert ids[1] in missing["message"]
