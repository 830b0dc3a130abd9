"""Flows and jobs of real kernels, seen and steered through a real Jupyter server's routilux API.

One ``jupyter server --port=0`` subprocess per module; kernels start through ``/api/sessions``
and run cells over their channels WebSocket, exactly as a notebook front end would.
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import websocket
from cells import LOAD, flow_with_breakpoint, plain_flow
from harness import JupyterServer, Kernel, wait_for


def next_event(ws: websocket.WebSocket, event_type: str, timeout: float = 10) -> dict[str, Any]:
    """Read the monitor socket until an event of ``event_type`` arrives."""
    deadline = time.monotonic() + timeout
    while True:
        ws.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            item = json.loads(ws.recv())
        except websocket.WebSocketTimeoutException:
            raise AssertionError(f"no {event_type!r} event within {timeout} s") from None
        if item.get("event_type") == event_type:
            return item


def paused_at(server: JupyterServer, job_id: str) -> dict[str, Any] | None:
    session = server.api("GET", f"jobs/{job_id}/debug/session")
    return session["paused_at"] if session["status"] == "paused" else None


def test_bridge_url_uses_the_bound_port_and_needs_the_secret(
    server: JupyterServer, start_kernel: Any
) -> None:
    # --port=0: the URL kernels inherit names the port the server really bound.
    assert server.bridge_port == server.port
    url = f"ws://127.0.0.1:{server.port}/routilux/bridge"
    kernel: Kernel = start_kernel("nb/secret.ipynb")
    env = kernel.value("{k: v for k, v in __import__('os').environ.items() "
                       "if k.startswith('ROUTILUX_BRIDGE')}")
    assert env["ROUTILUX_BRIDGE_URL"] == url and len(env["ROUTILUX_BRIDGE_SECRET"]) >= 32
    kernel.run(LOAD)
    # Taken out of the kernel's environment: processes started from cells do not inherit it.
    assert kernel.value("'ROUTILUX_BRIDGE_SECRET' in __import__('os').environ") is False
    wait_for(lambda: any(o["kernel_id"] == kernel.kernel_id
                         for o in server.api("GET", "health")["owners"]), 5, "the kernel")
    # The right secret works, in a header only; anything else is refused before the upgrade.
    ok = websocket.create_connection(
        url, header=[f"X-Routilux-Bridge-Secret: {env['ROUTILUX_BRIDGE_SECRET']}"], timeout=5)
    ok.close()
    for headers in ([], ["X-Routilux-Bridge-Secret: wrong"],
                    [f"Authorization: token {server.token}"]):
        try:
            websocket.create_connection(url, header=headers, timeout=5).close()
        except websocket.WebSocketBadStatusException as exc:
            assert exc.status_code == 403
        else:
            raise AssertionError(f"bridge accepted a connection with headers {headers}")
    assert env["ROUTILUX_BRIDGE_SECRET"] not in server.log()


def test_kernel_flow_is_listed_started_and_debugged_over_http(
    server: JupyterServer, start_kernel: Any
) -> None:
    kernel: Kernel = start_kernel("nb/debug.ipynb")
    kernel.run(LOAD)
    kernel.run(flow_with_breakpoint("debug_demo"))

    flows = wait_for(lambda: [f for f in server.api("GET", "flows")["flows"]
                              if f["flow_id"] == "debug_demo"], 5, "the kernel's flow")
    assert flows[0]["owner"] == {"kind": "kernel", "kernel_id": kernel.kernel_id,
                                 "notebook_path": "nb/debug.ipynb"}
    assert sorted(flows[0]["routines"]) == ["sink", "src"]

    job = server.api("POST", "jobs", {"flow_id": "debug_demo", "entry_routine_id": "src",
                                      "entry_params": {"n": 5}}, expect=201)
    job_id = job["job_id"]
    assert job["owner"]["kernel_id"] == kernel.kernel_id
    ws = server.websocket(f"api/ws/jobs/{job_id}/monitor")
    try:
        hit = next_event(ws, "breakpoint_hit")
        assert hit["routine_id"] == "sink" and hit["slot_name"] == "inp"
        assert server.api("GET", f"jobs/{job_id}")["status"] == "paused"

        variables = server.api("GET", f"jobs/{job_id}/debug/variables")["variables"]
        assert variables["local"]["x"] == 2
        frames = server.api("GET", f"jobs/{job_id}/debug/call_stack")["frames"]
        assert frames[0]["routine_id"] == "sink"
        assert any(f["routine_id"] == "src" for f in frames[1:])
        # The notebook sees the same pause (and shows the job's debugger view).
        shown = kernel.run(f"%routilux debug {job_id[:8]}")
        assert "paused at sink.inp" in shown.stdout and "x=2" in shown.stdout
        assert any("JobView" in text for text in shown.results), shown.results

        # step_over runs x == 2 and pauses before the job's next activation (x == 3).
        assert server.api("POST", f"jobs/{job_id}/debug/step_over")["status"] == "running"
        wait_for(lambda: paused_at(server, job_id), 5, "the pause after step_over")
        variables = server.api("GET", f"jobs/{job_id}/debug/variables")["variables"]
        assert variables["local"]["x"] == 3

        server.api("POST", f"jobs/{job_id}/debug/resume")
        done = next_event(ws, "job_completed")
        assert done["job_id"] == job_id
    finally:
        ws.close()
    final = server.api("GET", f"jobs/{job_id}")
    assert final["status"] == "completed"
    metrics = server.api("GET", f"jobs/{job_id}/metrics")
    assert metrics["routine_metrics"]["sink"]["execution_count"] == 5
    # The magic sees the same job in the kernel.
    out = kernel.run("%routilux jobs").stdout
    assert job_id in out and "completed" in out


def test_a_cell_blocked_at_a_breakpoint_is_released_over_http(
    server: JupyterServer, start_kernel: Any
) -> None:
    kernel: Kernel = start_kernel("nb/busy.ipynb")
    kernel.run(LOAD)
    kernel.run(flow_with_breakpoint("busy_demo"))
    cell = kernel.submit('js = flow.execute("src", {"n": 4})\nprint("ended", js.status)')

    def paused_job() -> str | None:
        jobs = server.api("GET", "jobs?flow_id=busy_demo&status=paused")["jobs"]
        return jobs[0]["job_id"] if jobs else None

    job_id = wait_for(paused_job, 10, "the cell's job to pause at the breakpoint")
    assert not cell.reply.is_set()  # the shell is busy in flow.execute()
    # The API answers while the shell is blocked...
    assert server.api("GET", f"jobs/{job_id}/debug/variables")["variables"]["local"]["x"] == 2
    assert server.api("GET", f"jobs/{job_id}/debug/call_stack")["frames"]
    # ...and releases it.
    assert server.api("POST", f"jobs/{job_id}/resume")["status"] == "running"
    kernel.wait(cell, timeout=10)
    assert cell.error is None
    assert "ended completed" in cell.stdout
    assert server.api("GET", f"jobs/{job_id}")["status"] == "completed"


def test_same_flow_id_in_two_kernels_needs_kernel_id(
    server: JupyterServer, start_kernel: Any
) -> None:
    one: Kernel = start_kernel("nb/one.ipynb")
    two: Kernel = start_kernel("nb/two.ipynb")
    for kernel in (one, two):
        kernel.run(LOAD)
        kernel.run(plain_flow("twin"))
    wait_for(lambda: len([f for f in server.api("GET", "flows")["flows"]
                          if f["flow_id"] == "twin"]) == 2, 5, "both kernels' flows")

    body = {"flow_id": "twin", "entry_routine_id": "src", "entry_params": {"n": 2}}
    conflict = server.api("POST", "jobs", body, expect=409)
    candidates = {c["kernel_id"] for c in conflict["detail"]["candidates"]}
    assert candidates == {one.kernel_id, two.kernel_id}
    assert "kernel_id" in conflict["message"]
    server.api("GET", "flows/twin", expect=409)

    job = server.api("POST", "jobs", {**body, "kernel_id": two.kernel_id}, expect=201)
    assert job["owner"]["kernel_id"] == two.kernel_id
    assert job["owner"]["notebook_path"] == "nb/two.ipynb"
    flow = server.api("GET", f"flows/twin?kernel_id={one.kernel_id}")
    assert flow["owner"]["kernel_id"] == one.kernel_id
    wait_for(lambda: server.api("GET", f"jobs/{job['job_id']}")["status"] == "completed", 5,
             "the job in the chosen kernel")
    # Only kernel two ran it.
    assert two.value("len(flow.live_jobs()) + len([1])") >= 1
    assert job["job_id"] in two.run("%routilux jobs").stdout
    assert job["job_id"] not in one.run("%routilux jobs").stdout


def test_killed_kernel_marks_its_job_lost_and_others_keep_working(
    server: JupyterServer, start_kernel: Any
) -> None:
    doomed: Kernel = start_kernel("nb/doomed.ipynb")
    healthy: Kernel = start_kernel("nb/healthy.ipynb")
    doomed.run(LOAD)
    doomed.run(plain_flow("doomed_flow"))
    healthy.run(LOAD)
    healthy.run(flow_with_breakpoint("healthy_flow"))
    for flow_id in ("doomed_flow", "healthy_flow"):
        wait_for(lambda: server.call("GET", f"api/flows/{flow_id}")[0] == 200, 5, flow_id)

    slow = server.api("POST", "jobs", {"flow_id": "doomed_flow", "entry_routine_id": "src",
                                       "entry_params": {"n": 10_000, "delay": 0.01}},
                      expect=201)["job_id"]
    other = server.api("POST", "jobs", {"flow_id": "healthy_flow", "entry_routine_id": "src",
                                        "entry_params": {"n": 4}}, expect=201)["job_id"]
    wait_for(lambda: paused_at(server, other), 10, "the healthy kernel's job to pause")
    wait_for(lambda: len(server.api("GET", f"jobs/{slow}/trace")["events"]) >= 10, 10,
             "the doomed job to record some events")

    pid = doomed.value("__import__('os').getpid()")
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()

    def status() -> str | None:
        # A request in flight when the kernel died gets 503 (its owner is gone): not yet lost.
        code, job = server.call("GET", f"api/jobs/{slow}")
        assert code in (200, 503), (code, job)
        return job["status"] if code == 200 else None

    wait_for(lambda: status() == "lost", 5, "the killed kernel's job to become lost")
    assert time.monotonic() - killed < 5

    job = server.api("GET", f"jobs/{slow}")
    assert job["owner"]["kernel_id"] == doomed.kernel_id and "went away" in job["error"]
    trace = server.api("GET", f"jobs/{slow}/trace")["events"]
    types = [e["event_type"] for e in trace]
    assert types[0] == "job_start" and types[-1] == "job_lost" and "event_emit" in types
    unavailable = server.api("GET", "flows/doomed_flow", expect=503)
    assert doomed.kernel_id in unavailable["message"]
    server.api("POST", "jobs", {"flow_id": "doomed_flow", "entry_routine_id": "src"},
               expect=503)
    server.api("POST", f"jobs/{slow}/cancel", expect=409)  # ended: only in the history now

    # The other kernel's paused job is untouched and still under control.
    assert server.api("GET", f"jobs/{other}")["status"] == "paused"
    server.api("POST", f"jobs/{other}/resume")
    wait_for(lambda: server.api("GET", f"jobs/{other}")["status"] == "completed", 5,
             "the healthy kernel's job to complete")
    assert server.api("GET", "health")["status"] == "ok"


def test_load_twice_unload_reload_and_restart(server: JupyterServer, start_kernel: Any) -> None:
    kernel: Kernel = start_kernel("nb/reload.ipynb")
    kernel.run(LOAD)
    kernel.run(LOAD)
    kernel.run("import routilux; routilux.load_ipython_extension(get_ipython())")
    kernel.run(plain_flow("reload_flow"))
    wait_for(lambda: server.call("GET", "api/flows/reload_flow")[0] == 200, 5, "the flow")
    owners = [o for o in server.api("GET", "health")["owners"]
              if o["kernel_id"] == kernel.kernel_id]
    assert len(owners) == 1  # loading three times made one connection
    status = kernel.run("%routilux status").stdout
    assert f"connected to ws://127.0.0.1:{server.port}/routilux/bridge" in status
    assert "notebook:      nb/reload.ipynb" in status and "connections 1" in status

    kernel.run("%unload_ext routilux")  # stops the agent: the server sees the kernel go
    wait_for(lambda: server.call("GET", "api/flows/reload_flow")[0] == 503, 5, "503")
    kernel.run(LOAD)  # same process, same flows: available again
    wait_for(lambda: server.call("GET", "api/flows/reload_flow")[0] == 200, 5, "the flow back")

    job_id = server.api("POST", "jobs", {"flow_id": "reload_flow", "entry_routine_id": "src",
                                         "entry_params": {"n": 10_000, "delay": 0.01}},
                        expect=201)["job_id"]
    server.api("POST", f"kernels/{kernel.kernel_id}/restart")
    restarted = time.monotonic()
    wait_for(lambda: server.call("GET", f"api/jobs/{job_id}")[1].get("status") == "lost", 5,
             "the restarted kernel's job to be lost")
    assert time.monotonic() - restarted < 5
    kernel.run(LOAD)  # the new process announces itself: it has none of the old flows
    wait_for(lambda: server.call("GET", "api/flows/reload_flow")[0] == 404, 5,
             "the old process's flow to be gone")
