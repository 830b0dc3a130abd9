"""docs/user_guide/client_cli.rst runs as written against a real Jupyter server.

Every ``.. code-block:: python`` of the page runs in order in one namespace, with the server in
``ROUTILUX_SERVER_URL``/``ROUTILUX_TOKEN`` (so the page's bare ``connect()`` finds it). Then
every ``$ routilux ...`` line of its ``console`` blocks runs in a shell: it must succeed, unless
the page shows it failing (``routilux: error...``), in which case it must fail with that line (up
to its ``...``). A ``NAME=$(routilux ...)`` line must succeed, and later lines get ``$NAME``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_code_examples import python_blocks

from routilux_jupyter.client import Client
from tests.support import JupyterProcess

PAGE = Path(__file__).resolve().parents[2] / "docs" / "user_guide" / "client_cli.rst"
_CONSOLE = re.compile(r"^\.\. code-block:: *console *$")
_ASSIGN = re.compile(r"^(\w+)=\$\((.*)\)$")


def console_commands(path: Path) -> list[tuple[int, str, list[str]]]:
    """``(line, command, shown output lines)`` of every ``$`` line of the console blocks."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[tuple[int, str, list[str]]] = []
    inside = False
    for number, line in enumerate(lines, 1):
        if _CONSOLE.match(line):
            inside = True
            continue
        if inside and line and not line.startswith("   "):
            inside = False
        if not inside or not line.strip():
            continue
        text = line[3:]
        if text.startswith("$ "):
            found.append((number, text[2:], []))
        elif found:
            found[-1][2].append(text)
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterProcess]:
    with JupyterProcess(tmp_path_factory.mktemp("jupyter"), "server") as proc:
        yield proc


def test_console_commands_are_found() -> None:
    commands = [cmd for _, cmd, _ in console_commands(PAGE)]
    assert "routilux vars $JOB" in commands and "routilux job no-such-job" in commands


def test_page_runs_against_a_real_server(server: JupyterProcess,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JUPYTER_TOKEN",):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ROUTILUX_SERVER_URL", server.url)
    monkeypatch.setenv("ROUTILUX_TOKEN", server.token)
    namespace: dict[str, Any] = {"__name__": "docs_client_cli"}
    blocks = list(python_blocks(PAGE))
    assert len(blocks) >= 5
    for line, source in blocks:
        exec(compile(source, f"client_cli.rst:{line}", "exec"), namespace)  # noqa: S102

    # The shell session. Each line runs in its own shell; ``NAME=$(...)`` lines keep NAME.
    env = {**os.environ,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for line, command, shown in console_commands(PAGE):
        where = f"client_cli.rst:{line}: {command}"
        if assignment := _ASSIGN.match(command):
            proc = subprocess.run(["bash", "-c", assignment.group(2)], capture_output=True,
                                  text=True, env=env, timeout=60)
            assert proc.returncode == 0 and proc.stdout.strip(), f"{where}: {proc.stderr}"
            env[assignment.group(1)] = proc.stdout.strip()
            continue
        proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                              env=env, timeout=60)
        if shown and shown[0].startswith("routilux: error"):
            expected = shown[0].split("...")[0]
            assert proc.returncode != 0, f"{where} should fail"
            assert proc.stderr.startswith(expected), f"{where}: {proc.stderr!r}"
            assert proc.stderr.count("\n") == 1, f"{where}: not one line: {proc.stderr!r}"
        else:
            assert proc.returncode == 0, f"{where} failed: {proc.stderr}"
            header = shown[0].split() if shown else []
            if header and all(re.fullmatch(r"[A-Z#]+", word) for word in header):
                # A table: the page shows its real columns.
                assert proc.stdout.splitlines()[0].split() == header, f"{where}: {proc.stdout}"
    # The session did what the page says: the edited item went through.
    client = Client(server.url, server.token)
    assert client.job(env["JOB"]).status == "completed"
    collected = client.variables(env["JOB"]).shared["collected"]
    assert [c["item"] for c in collected] == ["a", "B", "c"]
