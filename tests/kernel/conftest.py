"""Fixtures of the kernel-bridge tests: one real jupyter server per module, kernels on demand."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import JupyterServer, Kernel  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    root = tmp_path_factory.mktemp("jupyter")
    srv = JupyterServer(root, secrets.token_hex(16))
    yield srv
    srv.stop()


@pytest.fixture
def start_kernel(server: JupyterServer) -> Iterator[Callable[[str], Kernel]]:
    """``start_kernel("nb/x.ipynb")``: a kernel of a new session; shut down after the test."""
    started: list[Kernel] = []

    def start(notebook: str) -> Kernel:
        kernel = server.start_kernel(notebook)
        started.append(kernel)
        return kernel

    yield start
    for kernel in started:
        kernel.close()
        server.call("DELETE", f"api/kernels/{kernel.kernel_id}")
