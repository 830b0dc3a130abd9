"""Kernel-owned flows and jobs answer in the shapes the OpenAPI document declares.

Their answers come from the kernel over the bridge (another code path than the server's own
flows), and a kernel that dies turns them into 503s: both are held against the document here,
with a real server and a real kernel.
"""

from __future__ import annotations

import os
import signal
import urllib.error
import urllib.request
from typing import Any

from cells import LOAD, flow_with_breakpoint
from harness import JupyterServer, Kernel, wait_for

from tests.support.openapi_check import OpenAPIChecker


class Checked:
    """``METHOD /path`` against the server, its answer checked against the document."""

    def __init__(self, server: JupyterServer) -> None:
        self.server = server
        self.checker = OpenAPIChecker(server.api("GET", "routilux/openapi.json"))

    def __call__(self, method: str, path: str, body: bytes | None = None,
                 expect: int = 200) -> Any:
        if body is None and method in ("POST", "PUT"):
            body = b""
        request = urllib.request.Request(
            self.server.base + path, data=body, method=method,
            headers={"Authorization": f"token {self.server.token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, headers, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, headers, raw = error.code, error.headers, error.read()
        text = raw.decode()
        assert status == expect, (method, path, status, text)
        return self.checker.check(method, path, status, headers.get("Content-Type"), text)


def test_kernel_owned_answers_and_a_dead_kernels_503s_match_the_document(
    server: JupyterServer, start_kernel: Any
) -> None:
    kernel: Kernel = start_kernel("nb/openapi.ipynb")
    kernel.run(LOAD)
    kernel.run(flow_with_breakpoint("k_flow", "x == 2"))
    wait_for(lambda: server.call("GET", "api/flows/k_flow")[0] == 200, 10, "the kernel's flow")
    call = Checked(server)

    flow = call("GET", "/api/flows/k_flow")
    assert flow["owner"] == {"kind": "kernel", "kernel_id": kernel.kernel_id,
                             "notebook_path": flow["owner"]["notebook_path"]}
    call("GET", "/api/flows")
    job = call("POST", "/api/jobs", b'{"flow_id": "k_flow", "entry_routine_id": "src", '
                                    b'"entry_params": {"n": 4}}', expect=201)
    job_id = job["job_id"]
    wait_for(lambda: server.api("GET", f"jobs/{job_id}/debug/session")["status"] == "paused",
             10, "the kernel's job to pause at its breakpoint")

    assert call("GET", f"/api/jobs/{job_id}")["owner"]["kind"] == "kernel"
    call("GET", "/api/jobs")
    call("GET", f"/api/jobs/{job_id}/metrics")
    call("GET", f"/api/jobs/{job_id}/trace")
    call("GET", f"/api/jobs/{job_id}/trace?format=csv")
    call("GET", f"/api/jobs/{job_id}/activations")
    call("GET", f"/api/jobs/{job_id}/debug/session")
    assert call("GET", f"/api/jobs/{job_id}/debug/variables")["variables"]["local"] == {"x": 2}
    call("GET", f"/api/jobs/{job_id}/debug/call_stack")
    call("PUT", f"/api/jobs/{job_id}/debug/variables/x", b'{"value": 20}')
    listed = call("GET", f"/api/jobs/{job_id}/breakpoints")
    bp = call("POST", f"/api/jobs/{job_id}/breakpoints",
              b'{"routine_id": "sink", "condition": "x > 100"}', expect=201)
    call("PUT", f"/api/jobs/{job_id}/breakpoints/{bp['breakpoint_id']}", b'{"enabled": false}')
    call("DELETE", f"/api/jobs/{job_id}/breakpoints/{bp['breakpoint_id']}", expect=204)
    call("POST", f"/api/jobs/{job_id}/breakpoints", b'{"routine_id": "sink", '
                                                    b'"condition": "().__class__"}', expect=400)
    call("PUT", f"/api/jobs/{job_id}", b'{"label": "kernel run"}')
    assert listed["total"] >= 1

    # The kernel dies: its flow and any control of its job are 503 with the error body.
    pid = kernel.value("__import__('os').getpid()")
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: server.call("GET", "api/flows/k_flow")[0] == 503, 10, "503 for the flow")
    call("GET", "/api/flows/k_flow", expect=503)
    call("POST", "/api/jobs", b'{"flow_id": "k_flow", "entry_routine_id": "src"}', expect=503)
    wait_for(lambda: server.api("GET", f"jobs/{job_id}")["status"] == "lost", 10, "lost")
    assert call("GET", f"/api/jobs/{job_id}")["status"] == "lost"
    call("GET", f"/api/jobs/{job_id}/trace")
