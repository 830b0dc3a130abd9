"""Bench section ``server``: the HTTP/WebSocket API through a real ``jupyter server`` process.

Measures (server-owned jobs; the kernel-agent hop of DESIGN §9 is not built yet):

* REST latency of ``GET /api/jobs/{id}/metrics`` (keep-alive connection, p50/p99);
* event -> WebSocket client latency at a paced 5k events/s (p50/p99): each event's own
  ``timestamp`` (taken on the engine thread when it was recorded) against the client's clock
  when the message is decoded, both on this machine;
* sustained events/s to one subscriber at a paced 20k/s and unpaced, and how many were lost
  (gap markers), per event and with ``?batch=1``.

The routine classes below are registered in the server process through
``--RoutiluxExtension.routine_modules=bench.server``; importing this module loads no Jupyter code.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from routilux.registry import register_routine
from routilux.routine import Routine

SECTION = "server"
ROOT = Path(__file__).resolve().parent.parent


@register_routine(name="BenchEmitter")
class BenchEmitter(Routine):
    """Emits ``count`` ``tick`` events, paced to ``rate`` per second (0 = as fast as it can)."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("tick", ["i"])

    def run(self, count: int = 1000, rate: float = 0.0, **_: Any) -> None:
        chunk = max(1, int(rate / 200)) if rate else count  # sleep ~every 5 ms when paced
        start = time.perf_counter()
        for i in range(count):
            self.emit("tick", i=i)
            if rate and (i + 1) % chunk == 0:
                ahead = (i + 1) / rate - (time.perf_counter() - start)
                if ahead > 0:
                    time.sleep(ahead)


@register_routine(name="BenchStep")
class BenchStep(Routine):
    """Passes its payload on (gives the metrics request a few routines to aggregate)."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("output")

    def run(self, **data: Any) -> None:
        self.emit("output", **data)


class _Server:
    """``jupyter-server`` with the routilux extension (auto-enabled), plus one keep-alive HTTP
    connection so the timed requests measure the server, not TCP set-up."""

    def __init__(self, workdir: Path) -> None:
        from tests.support import JupyterProcess  # not at import: this module loads in the server

        prefix = os.environ.get("ROUTILUX_BENCH_SERVER_PREFIX", "").split()  # e.g. a profiler
        self.jupyter = JupyterProcess(
            workdir / "state", root_dir=workdir, pythonpath=[ROOT], timeout=60,
            command=[*prefix, str(Path(sys.executable).with_name("jupyter-server"))],
            args=["--ServerApp.log_level=WARN", "--RoutiluxExtension.log_level=WARN",
                  f"--RoutiluxExtension.history_db={workdir / 'history.sqlite'}",
                  "--RoutiluxExtension.routine_modules=bench.server"],
        ).start()
        self.token = self.jupyter.token
        self.port = self.jupyter.port
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body)
        self.conn.request(method, f"/api/{path}", body=data,
                          headers={"Authorization": f"token {self.token}"})
        response = self.conn.getresponse()
        raw = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path} -> {response.status}: {raw[:300]!r}")
        return json.loads(raw) if raw else None

    def websocket(self, path: str) -> Any:
        # Its pure-Python UTF-8 check would be the bottleneck.
        return self.jupyter.websocket(f"api/{path}", timeout=30, skip_utf8_validation=True)

    def stop(self) -> None:
        self.conn.close()
        self.jupyter.stop()


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _epoch(iso_text: str) -> float:
    return datetime.fromisoformat(iso_text.replace("Z", "+00:00")).timestamp()


def _metrics_latency(server: _Server, requests: int = 1000) -> tuple[float, float, float]:
    server.call("POST", "flows", {"spec": {
        "flow_id": "chain",
        "routines": {f"r{i}": {"class": "BenchStep"} for i in range(10)},
        "connections": [{"from": f"r{i}.output", "to": f"r{i + 1}.trigger"} for i in range(9)],
    }})
    job_id = server.call("POST", "jobs", {"flow_id": "chain", "entry_routine_id": "r0"})["job_id"]
    while server.call("GET", f"jobs/{job_id}")["status"] == "running":
        time.sleep(0.01)
    def timed(path: str) -> list[float]:
        for _ in range(50):  # warm up
            server.call("GET", path)
        times = []
        for _ in range(requests):
            t0 = time.perf_counter()
            server.call("GET", path)
            times.append((time.perf_counter() - t0) * 1000)
        return times

    ours = timed(f"jobs/{job_id}/metrics")
    core = timed("status")  # Jupyter's own cheapest API route, same server: the floor
    return _pct(ours, 50), _pct(ours, 99), _pct(core, 50)


def _stream(server: _Server, count: int, rate: float, batch: bool) -> dict[str, float]:
    """Run one emitter job and read its monitor socket until ``job_completed``."""
    flow_id = f"emit-{secrets.token_hex(3)}"
    server.call("POST", "flows", {"spec": {
        "flow_id": flow_id, "routines": {"emit": {"class": "BenchEmitter"}}}})
    # Pause at the entry routine so the socket is subscribed before the first tick.
    job_id = server.call("POST", "jobs", {
        "flow_id": flow_id, "entry_routine_id": "emit",
        "entry_params": {"count": count, "rate": rate},
        "breakpoints": [{"routine_id": "emit"}],
    })["job_id"]
    import websocket  # websocket-client (a test dependency)

    ws = server.websocket(f"ws/jobs/{job_id}/monitor" + ("?batch=1" if batch else ""))
    while server.call("GET", f"jobs/{job_id}/debug/session")["status"] != "paused":
        time.sleep(0.005)
    server.call("POST", f"jobs/{job_id}/debug/resume")
    latencies: list[float] = []
    ticks = lost = 0
    first = last = 0.0
    done = False
    ws.settimeout(2)
    while not done:
        try:
            message = json.loads(ws.recv())
        except websocket.WebSocketTimeoutException:
            # Quiet for 2 s: a subscriber that fell behind may have lost job_completed itself.
            if server.call("GET", f"jobs/{job_id}")["status"] not in ("running", "paused"):
                break
            continue
        now = time.time()
        items = message["events"] if message.get("type") == "batch" else [message]
        for item in items:
            if item.get("type") == "gap":
                lost += item["dropped"]
                continue
            kind = item.get("event_type")
            if kind == "event_emit":
                ticks += 1
                if not first:
                    first = now
                last = now
                latencies.append((now - _epoch(item["timestamp"])) * 1000)
            elif kind == "job_completed":
                done = True
    ws.close()
    span = max(last - first, 1e-9)
    return {"rate": ticks / span, "lost": float(lost), "received": float(ticks),
            "p50": _pct(latencies, 50) if latencies else float("nan"),
            "p99": _pct(latencies, 99) if latencies else float("nan")}


def run() -> list[Any]:
    from bench.common import Row

    with tempfile.TemporaryDirectory(prefix="routilux-bench-") as tmp:
        server = _Server(Path(tmp))
        try:
            m50, m99, core50 = _metrics_latency(server)
            paced = _stream(server, count=10_000, rate=5_000, batch=False)
            paced20 = _stream(server, count=40_000, rate=20_000, batch=False)
            paced20b = _stream(server, count=40_000, rate=20_000, batch=True)
            flat = _stream(server, count=100_000, rate=0, batch=False)
            flatb = _stream(server, count=100_000, rate=0, batch=True)
        finally:
            server.stop()

    def lost_note(result: dict[str, float]) -> str:
        return f"{int(result['received']):,} received, {int(result['lost']):,} lost (gap markers)"

    return [
        Row(SECTION, "GET /api/jobs/{id}/metrics latency, p50", "ms", m50, {}, "-",
            notes=f"Jupyter's GET /api/status on the same server: p50 {core50:.2f} ms; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"),
        Row(SECTION, "GET /api/jobs/{id}/metrics latency, p99", "ms", m99, {}, "-"),
        Row(SECTION, "event -> WS client latency at 5k ev/s, p50", "ms", paced["p50"], {},
            "<= 5 (via kernel)", notes="server-owned job; " + lost_note(paced)),
        Row(SECTION, "event -> WS client latency at 5k ev/s, p99", "ms", paced["p99"], {},
            "<= 25 (via kernel)"),
        Row(SECTION, "events/s to one WS subscriber, paced 20k/s", "ev/s", paced20["rate"], {},
            ">= 20k, none lost", higher_is_better=True, notes=lost_note(paced20)),
        Row(SECTION, "events/s to one WS subscriber, paced 20k/s, ?batch=1", "ev/s",
            paced20b["rate"], {}, ">= 20k, none lost", higher_is_better=True,
            notes=lost_note(paced20b)),
        Row(SECTION, "events/s to one WS subscriber, unpaced", "ev/s", flat["rate"], {},
            "-", higher_is_better=True, notes=lost_note(flat)),
        Row(SECTION, "events/s to one WS subscriber, unpaced, ?batch=1", "ev/s", flatb["rate"],
            {}, "-", higher_is_better=True, notes=lost_note(flatb)),
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row.measure}: {row.value:,.3f} {row.unit}  {row.notes}")
