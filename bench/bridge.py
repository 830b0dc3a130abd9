"""Kernel-bridge section: event -> WebSocket latency through the kernel agent, and the latency of
control requests to a kernel whose shell is busy.

A real ``jupyter server`` subprocess and a real kernel (started through ``/api/sessions``, driven
over its channels WebSocket) run the workloads; the harness is the one the kernel-bridge tests use
(``tests/kernel/harness.py``).

* latency: a kernel job emits events at a fixed rate (5,000/s, in 1 ms slices); a client of
  ``/api/ws/flows/{id}/monitor`` takes ``receive time - event timestamp`` (one clock: one host).
  Path: engine hook -> agent thread -> bridge WebSocket -> server -> monitor WebSocket -> client.
* busy kernel: while a cell spins in pure Python (the shell thread holds the GIL as much as Python
  lets it), a job of that kernel is paused and resumed over HTTP; each request's round trip is
  timed. The same is measured with an idle shell for comparison.
* throughput: one job emitting as fast as it can; events/s reaching one monitor client, and how
  many were reported as gaps instead.
"""

from __future__ import annotations

import json
import secrets
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import ROOT, Row

sys.path.insert(0, str(ROOT))
from tests.kernel.harness import JupyterServer, Kernel, wait_for  # noqa: E402  (shared harness)
from tests.support import receive_all  # noqa: E402

SECTION = "bridge"

CELL = '''
%load_ext routilux
import time
from routilux import Flow, Routine

class Ticker(Routine):
    """Emits ``rate`` events/s for ``seconds`` (``rate=0``: as fast as possible)."""
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.go)
        self.define_event("tick", ["i"])

    def go(self, rate=5000, seconds=4.0, count=0, **_):
        if not rate:
            for i in range(count):
                self.emit("tick", i=i)
            return
        total, i, t0 = int(rate * seconds), 0, time.perf_counter()
        while i < total:
            due = min(total, int((time.perf_counter() - t0) * rate) + 1)
            while i < due:
                self.emit("tick", i=i)
                i += 1
            time.sleep(0.0005)

class Slow(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.go)
    def go(self, seconds=60.0, **_):
        end = time.time() + seconds
        while time.time() < end:
            time.sleep(0.005)

ticker = Flow("bench_ticker"); ticker.add_routine(Ticker(), "t")
slow = Flow("bench_slow"); slow.add_routine(Slow(), "s")

def spin(seconds):
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n
'''


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class _Monitor:
    """A flow monitor socket read on a thread that only timestamps and keeps raw messages (so
    the client's own parsing never delays the next receive); parsed after the run."""

    def __init__(self, server: JupyterServer, flow_id: str) -> None:
        self.ws = server.websocket(f"api/ws/flows/{flow_id}/monitor?batch=1", timeout=None)
        self.raw: list[tuple[float, str]] = []
        self.items = 0       # events of any type (counted cheaply while reading)
        self.dropped = 0
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for raw in receive_all(self.ws):
            self.raw.append((time.time(), raw))
            if '"gap"' in raw:
                for item in json.loads(raw).get("events", ()):
                    if item.get("type") == "gap":
                        self.dropped += item["dropped"]
                    else:
                        self.items += 1
            else:  # every event has exactly one "event_type" key (whatever the separators)
                self.items += raw.count('"event_type"')

    def close(self) -> None:
        self.ws.close()
        self._thread.join(5)

    def ticks(self) -> tuple[list[float], float, float]:
        """Latencies (ms) of the ``event_emit`` events, and the first/last receive times."""
        latencies, first, last = [], 0.0, 0.0
        for received, raw in self.raw:
            for item in json.loads(raw).get("events", ()):
                if item.get("event_type") == "event_emit":
                    sent = datetime.fromisoformat(item["timestamp"]).timestamp()
                    latencies.append((received - sent) * 1000.0)
                    first = first or received
                    last = received
        return latencies, first, last


def _start(server: JupyterServer, flow_id: str, rid: str, params: dict[str, Any]) -> str:
    return server.api("POST", "jobs", {"flow_id": flow_id, "entry_routine_id": rid,
                                       "entry_params": params}, expect=201)["job_id"]


def _run_ticker(server: JupyterServer, params: dict[str, Any], timeout: float) -> _Monitor:
    """Run one ticker job with a monitor open; return once every event is accounted for."""
    monitor = _Monitor(server, "bench_ticker")
    try:
        job_id = _start(server, "bench_ticker", "t", params)
        wait_for(lambda: server.api("GET", f"jobs/{job_id}")["status"] == "completed", timeout,
                 "the ticker job to end")
        total = server.api("GET", f"jobs/{job_id}/metrics")["total_events"]
        # Its last events may reach this client as a gap marker: wait until all are accounted.
        wait_for(lambda: monitor.items + monitor.dropped >= total, 60,
                 "every event or a gap marker")
    finally:
        monitor.close()
    return monitor


def _latency(server: JupyterServer, rate: int, seconds: float) -> dict[str, float]:
    monitor = _run_ticker(server, {"rate": rate, "seconds": seconds}, seconds + 60)
    latencies, _, _ = monitor.ticks()
    warm = latencies[int(rate * 0.5):]  # skip the first half second (warm-up)
    return {"p50": _pct(warm, 0.5), "p99": _pct(warm, 0.99), "max": max(warm),
            "events": len(latencies), "dropped": monitor.dropped}


def _throughput(server: JupyterServer, count: int) -> dict[str, float]:
    monitor = _run_ticker(server, {"rate": 0, "count": count}, 120)
    latencies, first, last = monitor.ticks()
    span = last - first
    return {"per_s": len(latencies) / span if span > 0 else 0.0, "events": len(latencies),
            "dropped": monitor.dropped}


def _control(server: JupyterServer, kernel: Kernel, rounds: int, busy: bool) -> list[float]:
    job_id = _start(server, "bench_slow", "s", {"seconds": 120.0})
    wait_for(lambda: server.call("GET", f"api/jobs/{job_id}")[0] == 200, 10, "the slow job")
    cell = kernel.submit(f"spin({rounds * 0.1 + 30})") if busy else None
    times = []
    try:
        for _ in range(rounds):
            for action in ("pause", "resume"):
                t0 = time.perf_counter()
                server.api("POST", f"jobs/{job_id}/{action}")
                times.append((time.perf_counter() - t0) * 1000.0)
        if cell is not None:
            assert not cell.reply.is_set(), "the shell was not busy during the measurement"
    finally:
        server.api("POST", f"jobs/{job_id}/cancel")
        if cell is not None:
            kernel.server.api("POST", f"kernels/{kernel.kernel_id}/interrupt", expect=204)
            kernel.wait(cell, 60)
    return times


def run() -> list[Row]:
    """Start a server and a kernel, run the three workloads, return the rows."""
    with tempfile.TemporaryDirectory(prefix="routilux-bench-bridge-") as tmp:
        server = JupyterServer(Path(tmp), secrets.token_hex(16))
        try:
            kernel = server.start_kernel("bench/bridge.ipynb")
            kernel.run(CELL)
            wait_for(lambda: server.call("GET", "api/flows/bench_slow")[0] == 200, 10,
                     "the bench flows")
            _latency(server, 5000, 1.0)  # warm-up (first frames, imports, caches), not measured
            lat = _latency(server, 5000, 5.0)
            idle = _control(server, kernel, 50, busy=False)
            busy = _control(server, kernel, 50, busy=True)
            burst = _throughput(server, 100_000)
            kernel.close()
        finally:
            server.stop()
    note = (f"{lat['events']} events at 5k/s over 5 s, {lat['dropped']} reported as gaps, "
            f"max {lat['max']:.1f} ms")
    return [
        Row(SECTION, "event -> WS latency via kernel agent @5k ev/s, p50", "ms", lat["p50"],
            target="<= 5 ms", notes=note),
        Row(SECTION, "event -> WS latency via kernel agent @5k ev/s, p99", "ms", lat["p99"],
            target="<= 25 ms"),
        Row(SECTION, "control request (pause/resume) to an idle kernel, p50", "ms",
            statistics.median(idle), notes=f"p99 {_pct(idle, 0.99):.1f} ms over {len(idle)}"),
        Row(SECTION, "control request to a kernel whose shell spins, p50", "ms",
            statistics.median(busy), notes=f"p99 {_pct(busy, 0.99):.1f} ms over {len(busy)}"),
        Row(SECTION, "control request to a kernel whose shell spins, p99", "ms",
            _pct(busy, 0.99)),
        Row(SECTION, "kernel burst -> one monitor client", "events/s", burst["per_s"],
            higher_is_better=True,
            notes=f"{burst['events']} delivered + {burst['dropped']} reported as gaps "
                  "(of 100,000 emits)"),
    ]


if __name__ == "__main__":
    from bench.__main__ import render

    print(render(run()))
