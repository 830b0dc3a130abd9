"""notebooks/03_api_access.ipynb runs in a kernel started by a real Jupyter server.

The notebook talks to "its" server's routilux API, so it must run the way it does in JupyterLab:
a ``jupyter server`` subprocess with the extension (enabled by the installed config file), a
session created through ``POST /api/sessions`` (so the kernel inherits the server's bridge
environment and knows its notebook path), and nbclient executing the cells in *that* kernel
through its connection file. The notebook finds the server itself (``list_running_servers`` in
the runtime directory it shares with the server), as it does when a user runs it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_process import ServerKernelManager
from nbclient import NotebookClient
from test_notebooks import NOTEBOOKS, problems

from tests.support import JupyterProcess

NAME = "03_api_access.ipynb"


@pytest.fixture
def server(tmp_path: Path) -> Any:
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOKS / NAME, root / NAME)
    with JupyterProcess(tmp_path / "state", "server", root_dir=root) as proc:
        yield proc


@pytest.mark.slow
def test_api_notebook_runs_in_a_server_kernel(server: JupyterProcess) -> None:
    status, session = server.call("POST", "api/sessions", {
        "path": NAME, "name": NAME, "type": "notebook", "kernel": {"name": "python3"}})
    assert status == 201, session
    kernel_id = session["kernel"]["id"]
    km = ServerKernelManager()
    km.load_connection_file(str(server.runtime_dir / f"kernel-{kernel_id}.json"))
    nb = nbformat.read(NOTEBOOKS / NAME, as_version=4)
    client = NotebookClient(nb, km=km, timeout=60, allow_errors=True)
    try:
        client.execute()
        # The flow built in the notebook is in the server's API, owned by that kernel.
        status, flows = server.call("GET", "api/flows")
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
        server.call("DELETE", f"api/sessions/{session['id']}")
    found = problems(nb)
    assert not found, "\n".join(found) + "\n--- server log ---\n" + server.log()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), "a cell did not run"
    assert status == 200, flows
    owners = [f["owner"] for f in flows["flows"] if f["flow_id"] == "payments"]
    assert owners == [{"kind": "kernel", "kernel_id": kernel_id, "notebook_path": NAME}]
