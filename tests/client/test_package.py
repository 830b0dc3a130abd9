"""The client package: importable without starting or loading Jupyter, a sorted public surface,
and the installed ``routilux`` script."""

from __future__ import annotations

import subprocess
import sys

import routilux_jupyter.client as client_package
from tests.client.conftest import run_cli

HEAVY = ["tornado", "jupyter_server", "jupyter_client", "jupyter_core", "IPython", "ipykernel",
         "ipywidgets", "anywidget", "traitlets", "websocket"]


def test_import_loads_nothing_from_jupyter() -> None:
    code = ("import sys, routilux_jupyter.client, routilux_jupyter.client.cli\n"
            f"print(','.join(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_all_is_sorted_and_complete() -> None:
    names = client_package.__all__
    assert names == sorted(names)
    assert all(hasattr(client_package, name) for name in names)
    assert {"connect", "Client", "RoutiluxError", "NotFoundError", "Event"} <= set(names)


def test_console_script_help_lists_the_commands() -> None:
    run = run_cli("--help")
    assert run.code == 0
    for command in ("flows", "jobs", "job", "trace", "watch", "pause", "resume", "cancel",
                    "breakpoints", "break", "vars", "stack", "step", "set-var"):
        assert f"    {command} " in run.out, command
