"""A kernel's Dask job seen through the real server: the same WebSocket events as a thread job.

The routines are defined in the kernel's cells (so they reach the workers by value), the cluster
has worker processes, and both jobs are read back from ``/api/ws/jobs/{id}/monitor``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import websocket
from cells import LOAD
from harness import JupyterServer, Kernel

pytest.importorskip("distributed")

CELL = '''
import os, logging
from routilux import Flow, Routine
from routilux.executors import DaskExecutor
from distributed import Client, LocalCluster

class Split(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("part", ["i"])
    def run(self, n):
        for i in range(n):
            self.emit("part", i=i)

class Square(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.go)
        self.define_event("out", ["i", "sq", "pid"])
    def go(self, i):
        self.emit("out", i=i, sq=i * i, pid=os.getpid())

class Keep(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.keep)
    def keep(self, i, sq, pid):
        self.job_state.shared_data[f"pid{i}"] = pid

cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                       dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
client = Client(cluster)
dask = DaskExecutor(client)
flow = Flow("ws-parity")
flow.add_routine(Split(), "split")
flow.add_routine(Square(), "square")
flow.add_routine(Keep(), "keep")
flow.connect("split", "part", "square")
flow.connect("square", "out", "keep")
local = flow.execute("split", {"n": 5})
remote = flow.execute("split", {"n": 5}, executor=dask)
'''


def _events(server: JupyterServer, job_id: str) -> list[dict[str, Any]]:
    ws = server.websocket(f"api/ws/jobs/{job_id}/monitor")
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    try:
        while True:
            ws.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                item = json.loads(ws.recv())
            except websocket.WebSocketTimeoutException:
                raise AssertionError(f"no job_completed for {job_id}: {out[-3:]}") from None
            items = item if isinstance(item, list) else item.get("events", [item])
            for e in items:
                if e.get("type") == "event":
                    out.append(e)
            if any(e.get("event_type") == "job_completed" for e in out):
                return out
    finally:
        ws.close()


def _shape(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["event_type"], e["routine_id"], e.get("slot_name"), e.get("event_name"),
             json.dumps({k: v for k, v in (e.get("data") or {}).items() if k != "pid"},
                        sort_keys=True))
            for e in events]


def test_a_kernels_dask_job_streams_the_same_events_as_its_thread_job(
    server: JupyterServer, start_kernel: Any,
) -> None:
    kernel: Kernel = start_kernel("nb/dask.ipynb")
    kernel.run(LOAD)
    try:
        kernel.run(CELL, timeout=120)
        ids = kernel.value("[local.job_id, remote.job_id, local.status, remote.status]")
        assert ids[2:] == ["completed", "completed"]
        pids = kernel.value("sorted({remote.shared_data[f'pid{i}'] for i in range(5)})")
        assert kernel.value("os.getpid()") not in pids     # ran on the worker processes
        job = server.api("GET", f"jobs/{ids[1]}")
        assert job["executor"] == "dask"
        assert job["executor_info"]["dashboard_link"].startswith("http://127.0.0.1:")
        local, remote = _events(server, ids[0]), _events(server, ids[1])
        assert _shape(remote) == _shape(local)
    finally:
        kernel.run("client.close(); cluster.close()", timeout=60)
