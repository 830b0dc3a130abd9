"""A real ``jupyter server`` subprocess that finds the extension only through the installed
auto-enable file: debug a job over HTTP and WebSocket, restart, read its history from SQLite."""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket  # websocket-client
from api_routines import SUM_SPEC

HERE = Path(__file__).resolve().parent
JUPYTER = Path(sys.executable).with_name("jupyter")
_URL = re.compile(r"http://127\.0\.0\.1:(\d+)/")


class JupyterServer:
    """One ``jupyter server --port=0`` process; its port is read from its log."""

    def __init__(self, home: Path, history_db: Path, token: str) -> None:
        self.token = token
        env = dict(os.environ)
        # Private user dirs; the sys.prefix config path (with the auto-enable file) stays visible.
        env.update(
            HOME=str(home),
            JUPYTER_CONFIG_DIR=str(home / "config"),
            JUPYTER_DATA_DIR=str(home / "data"),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
            PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")])),
        )
        env.pop("JUPYTER_CONFIG_PATH", None)
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        self.proc = subprocess.Popen(
            [
                str(JUPYTER), "server", "--port=0", "--allow-root", "--no-browser",
                f"--ServerApp.root_dir={home}",
                f"--IdentityProvider.token={token}",
                f"--RoutiluxExtension.history_db={history_db}",
                "--RoutiluxExtension.routine_modules=api_routines",
            ],
            env=env, cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        self.port = self._wait_for_port(timeout=60)
        self.base = f"http://127.0.0.1:{self.port}"
        self._wait_listening(timeout=30)

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)
            self.lines.put(line)

    def _wait_for_port(self, timeout: float) -> int:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError("jupyter server never printed its URL:\n" + "".join(self.log))
            match = _URL.search(line)
            if match:
                return int(match.group(1))

    def _wait_listening(self, timeout: float) -> None:
        # The URL is logged before the loop binds the port (jupyter_server binds in a callback).
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert self.proc.poll() is None, "jupyter server exited:\n" + "".join(self.log)
                assert time.monotonic() < deadline, "port never opened:\n" + "".join(self.log)
                time.sleep(0.05)

    def request(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        data = None if body is None else json.dumps(body).encode()
        if data is None and method in ("POST", "PUT"):
            data = b""
        req = urllib.request.Request(
            f"{self.base}/api/{path}", data=data, method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        payload = json.loads(raw) if raw else None
        assert status == expect, (method, path, status, payload)
        return payload

    def websocket(self, path: str) -> websocket.WebSocket:
        return websocket.create_connection(
            f"ws://127.0.0.1:{self.port}/api/{path}",
            header=[f"Authorization: token {self.token}"], timeout=10,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Any]:
    servers: list[JupyterServer] = []
    token = secrets.token_hex(16)

    def start() -> JupyterServer:
        server = JupyterServer(tmp_path, tmp_path / "history.sqlite", token)
        servers.append(server)
        return server

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
    assert "routilux_jupyter" in "".join(server.log)  # enabled by the installed config file
    assert server.request("GET", "status")["started"]  # a core route, untouched

    server.request("POST", "flows", {"spec": SUM_SPEC}, expect=201)
    job = server.request("POST", "jobs", {
        "flow_id": "sum_flow", "entry_routine_id": "numbers", "entry_params": {"count": 4},
        "breakpoints": [{"type": "slot", "routine_id": "sum", "slot_name": "input",
                         "condition": "value == 2"}],
    }, expect=201)
    assert job["status"] == "running"
    job_id = job["job_id"]

    monitor = server.websocket(f"ws/jobs/{job_id}/monitor")
    hit = receive_until(monitor, "breakpoint_hit")[-1]
    assert hit["routine_id"] == "sum"
    receive_until(monitor, "job_paused")

    variables = server.request("GET", f"jobs/{job_id}/debug/variables")["variables"]
    assert variables["local"] == {"value": 2}
    assert variables["shared"] == {"total": 1}  # 0 + 1 before the breakpoint
    frames = server.request("GET", f"jobs/{job_id}/debug/call_stack")["frames"]
    assert [f["routine_id"] for f in frames[:2]] == ["sum", "numbers"]

    server.request("POST", f"jobs/{job_id}/debug/step_over")
    receive_until(monitor, "job_resumed")
    receive_until(monitor, "job_paused")  # stepped: paused before the next activation
    session = server.request("GET", f"jobs/{job_id}/debug/session")
    assert session["status"] == "paused" and session["paused_at"]["routine_id"] == "sum"
    server.request("POST", f"jobs/{job_id}/resume")
    receive_until(monitor, "job_completed")
    monitor.close()
    metrics_before = server.request("GET", f"jobs/{job_id}/metrics")
    trace_before = server.request("GET", f"jobs/{job_id}/trace")
    server.stop()

    restarted = start_server()
    assert restarted.port != server.port or restarted.proc.pid != server.proc.pid
    assert restarted.request("GET", "flows")["total"] == 0, "".join(restarted.log)  # old flows are gone
    stored = restarted.request("GET", f"jobs/{job_id}")
    assert stored["status"] == "completed" and stored["flow_id"] == "sum_flow"
    metrics = restarted.request("GET", f"jobs/{job_id}/metrics")
    assert metrics["status"] == "completed"
    assert metrics["routine_metrics"]["sum"]["execution_count"] == 4
    assert metrics["total_events"] == metrics_before["total_events"]
    trace = restarted.request("GET", f"jobs/{job_id}/trace")
    assert [e["seq"] for e in trace["events"]] == [e["seq"] for e in trace_before["events"]]
    assert trace["events"][-1]["event_type"] == "job_completed"
    assert [j["job_id"] for j in restarted.request("GET", "jobs")["jobs"]] == [job_id]
    error = restarted.request("POST", f"jobs/{job_id}/debug/step_over", expect=409)
    assert "history" in error["message"]
