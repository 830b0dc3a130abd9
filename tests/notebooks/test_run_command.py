"""README's two commands: ``make run`` opens JupyterLab on the quickstart notebook with the
routilux extension enabled, and ``make test`` runs the suite.

The run test executes the Makefile's own ``run`` recipe (with this interpreter's ``jupyter`` in
place of ``.venv/bin/jupyter``, plus flags for a headless server on a free port) and asks the
server what a browser would: the routilux API answers, and the quickstart notebook is the file it
opens. A fresh-clone install (``make`` creating ``.venv``) is not repeated here: it needs the
network and minutes; ``.ci/run`` does it on every CI run.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.support import JUPYTER, JupyterProcess

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"


def recipe(target: str) -> list[str]:
    """The command lines of a Makefile target."""
    text = MAKEFILE.read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(target)}:[^\n]*\n((?:\t[^\n]*\n)+)", text, re.M)
    assert match, f"Makefile has no '{target}' target"
    return [line.strip() for line in match.group(1).splitlines()]


def test_readme_states_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Two commands on a fresh machine", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^make (\w+)", section, re.M)
    assert commands == ["run", "test"]
    assert "notebooks/01_quickstart.ipynb" in section
    assert any("pytest" in line for line in recipe("test"))


def test_readme_links_and_screenshot_exist() -> None:
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#]+)\)", text)
    assert targets, "README links into the docs and notebooks"
    missing = [t for t in targets if not t.startswith("http") and not (ROOT / t).exists()]
    assert not missing, f"README links to missing files: {missing}"
    assert "docs/_static/job_view.png" in targets


@pytest.mark.slow
def test_run_opens_jupyterlab_on_the_quickstart_with_routilux(tmp_path: Path) -> None:
    (line,) = recipe("run")
    argv = shlex.split(line.replace("$(VENV)/bin/jupyter", str(JUPYTER))
                       .replace("$(ROOT_FLAG)", ""))
    assert argv[1] == "lab" and argv[-1] == "notebooks/01_quickstart.ipynb"
    with JupyterProcess(tmp_path, command=argv, cwd=ROOT) as server:
        status, health = server.call("GET", "api/health")
        assert status == 200 and health["status"] == "ok", health
        assert {"kind": "server", "kernel_id": None, "notebook_path": None} in health["owners"]
        # A file argument makes its folder the root and the file the one Lab opens.
        status, info = server.call("GET", "api/contents/01_quickstart.ipynb?content=0")
        assert status == 200 and info["type"] == "notebook", info
        status, page = server.call("GET", "lab/tree/01_quickstart.ipynb")
        assert status == 200 and "jupyter-config-data" in page
        status, exts = server.call("GET", "api/status")
        assert status == 200
