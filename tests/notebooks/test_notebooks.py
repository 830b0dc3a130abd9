"""Every notebook in notebooks/ runs top to bottom, unattended, with a real kernel.

Each notebook is executed with nbclient in an ipykernel running this test's Python (a kernelspec
written to a temporary JUPYTER_PATH, so no other installed "python3" kernel is picked up). A
notebook fails on any error output, and on a traceback printed to stderr (an exception in a job or
widget thread would otherwise go unnoticed). The API notebook runs in a kernel started by a real
``jupyter server`` with the routilux extension: see ``test_api_notebook.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
LOCAL = ["01_quickstart.ipynb", "02_debugging.ipynb", "04_errors_and_persistence.ipynb",
         "06_time_travel.ipynb"]
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def kernel_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec for this interpreter (the .venv's), found first through JUPYTER_PATH."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "routilux-test"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "routilux tests", "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    return "routilux-test"


def problems(nb: Any) -> list[str]:
    """Error outputs and stderr tracebacks of an executed notebook, with their cell."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"cell {i}: {out.get('ename')}: {out.get('evalue')}")
            elif out.get("output_type") == "stream" and out.get("name") == "stderr":
                if "Traceback" in out.get("text", "") or "Error" in out.get("text", ""):
                    found.append(f"cell {i} stderr: {out['text'][:2000]}")
    return found


def execute(path: Path, kernel_name: str, cwd: Path, timeout: int = 60) -> Any:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name, allow_errors=True,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


@pytest.mark.parametrize("name", LOCAL)
def test_notebook_runs_without_errors(name: str, kernel_name: str, tmp_path: Path) -> None:
    nb = execute(NOTEBOOKS / name, kernel_name, tmp_path)
    assert not problems(nb), f"{name}:\n" + "\n".join(problems(nb))
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), f"{name}: a cell did not run"


def test_quickstart_shows_live_widgets(kernel_name: str, tmp_path: Path) -> None:
    nb = execute(NOTEBOOKS / "01_quickstart.ipynb", kernel_name, tmp_path)
    views = [o for c in nb.cells for o in c.get("outputs", [])
             if WIDGET_MIME in o.get("data", {})]
    assert len(views) >= 3, "the flow, the finished job and the live job should show as widgets"
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    models = state.get("state", {})
    job_views = [m for m in models.values() if m.get("state", {}).get("job")]
    assert any(m["state"]["job"].get("status") == "completed" for m in job_views)


def test_scaling_notebook_runs_a_notebook_defined_routine_on_dask_workers(
    kernel_name: str, tmp_path: Path,
) -> None:
    nb = execute(NOTEBOOKS / "05_scaling.ipynb", kernel_name, tmp_path, timeout=120)
    assert not problems(nb), "\n".join(problems(nb))
    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code")
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", [])
                      if o.get("output_type") == "stream")
    # The cell asserts it too; the printed line is what a reader sees.
    assert "Crunch (a class defined in this notebook) ran in worker processes" in printed
    assert "dask: completed" in printed and "1000 pages" in printed


def test_problem_detection_sees_errors_and_thread_tracebacks() -> None:
    nb = nbformat.v4.new_notebook()
    bad = nbformat.v4.new_code_cell("1/0")
    bad.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="x",
                                          traceback=[])]
    noisy = nbformat.v4.new_code_cell("t.start()")
    noisy.outputs = [nbformat.v4.new_output("stream", name="stderr",
                                            text="Exception in thread X:\nTraceback ...")]
    fine = nbformat.v4.new_code_cell("print(1)")
    fine.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb.cells = [bad, noisy, fine]
    assert len(problems(nb)) == 2


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_committed_clean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name} cell {i} has outputs; clear them before committing")
    assert "widgets" not in nb.metadata, f"{path.name} carries widget state; clear it"
