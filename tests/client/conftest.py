"""Fixtures of the client tests: one real ``jupyter server`` per module and a kernel that holds
the flows (kernel-owned jobs, as in a notebook), plus the ``routilux`` console script."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from routilux_jupyter.client import Client
from tests.client.cells import FLOW, LOAD, start_gated_job
from tests.kernel.harness import JupyterServer, Kernel, wait_for

ROUTILUX = Path(sys.executable).with_name("routilux")  # the console script pip installed


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    srv = JupyterServer(tmp_path_factory.mktemp("jupyter"), secrets.token_hex(16))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def kernel(server: JupyterServer) -> Iterator[Kernel]:
    """A kernel with routilux loaded, connected to the server, with ``make_flow`` defined."""
    kern = server.start_kernel("nb/client.ipynb")
    kern.run(LOAD)
    kern.run(FLOW)
    wait_for(lambda: any(o["kernel_id"] == kern.kernel_id
                         for o in server.api("GET", "health")["owners"]), 30, "the kernel agent")
    yield kern
    kern.close()
    server.call("DELETE", f"api/kernels/{kern.kernel_id}")


@pytest.fixture
def client(server: JupyterServer) -> Client:
    return Client(server.url, server.token)


@pytest.fixture
def gated_job(kernel: Kernel, server: JupyterServer, request: pytest.FixtureRequest) -> str:
    """A kernel-owned job of a fresh flow (named after the test), waiting at its gate."""
    flow_id = request.node.name.replace("[", "_").replace("]", "")[:40]
    job_id = kernel.run(start_gated_job(flow_id)).stdout.strip().splitlines()[-1]
    wait_for(lambda: server.call("GET", f"api/jobs/{job_id}")[0] == 200, 10,
             "the kernel's job to reach the server")
    return job_id


@dataclass
class Run:
    """What one ``routilux`` invocation did."""

    code: int
    out: str
    err: str


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
    """Run the installed ``routilux`` script with ``args``; ``env`` replaces the environment."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("ROUTILUX_SERVER_URL", "ROUTILUX_TOKEN", "JUPYTER_TOKEN")}
    proc = subprocess.run([str(ROUTILUX), *args], capture_output=True, text=True,
                          timeout=timeout, env=base if env is None else env)
    return Run(proc.returncode, proc.stdout, proc.stderr)
