"""What bench sections share: the row type, peer virtualenvs, and running driver scripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
DRIVERS = Path(__file__).resolve().parent / "drivers"


@dataclass
class Row:
    """One line of the table: a measure for routilux and, where there is one, for its peers.

    ``peers`` maps a column name (``plain``, ``upstream``, ``langgraph``) to the same measure
    there, or to ``None`` with the reason in ``notes``. ``higher_is_better`` orients the ratios.
    """

    section: str
    measure: str
    unit: str
    value: float | None
    peers: dict[str, float | None] = field(default_factory=dict)
    target: str = ""
    higher_is_better: bool = False
    notes: str = ""


def venv_python(name: str, requirement: str, import_check: str) -> tuple[str | None, str]:
    """Python of ``.bench/<name>`` with ``requirement`` installed (built on first use).

    Returns ``(path, "")`` or ``(None, reason)``; never raises, so the bench can print a
    "not available" row instead of failing (e.g. without network).
    """
    venv = BENCH_DIR / name
    python = venv / "bin" / "python"
    check = [str(python), "-I", "-c", import_check]
    if python.exists() and subprocess.run(check, capture_output=True, cwd="/").returncode == 0:
        return str(python), ""
    try:
        BENCH_DIR.mkdir(exist_ok=True)
        base = getattr(sys, "_base_executable", None) or sys.executable
        if not python.exists():
            subprocess.run([base, "-m", "venv", str(venv)], check=True, capture_output=True,
                           timeout=120)
        print(f"[bench] installing {requirement} into {venv} ...", file=sys.stderr, flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", requirement],
                       check=True, capture_output=True, timeout=600)
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        tail = detail.decode(errors="replace").strip().splitlines()[-1:] if detail else []
        return None, f"install of {requirement} failed: {tail[0] if tail else exc}"
    if subprocess.run(check, capture_output=True, cwd="/").returncode != 0:
        return None, f"{requirement} installed but does not import"
    return str(python), ""


def run_driver(python: str, script: str, *args: str, timeout: float = 180) -> dict[str, Any]:
    """Run ``drivers/<script>`` isolated (-I, cwd /) under ``python``; parse its JSON stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.run([python, "-I", str(DRIVERS / script), *args], capture_output=True,
                          text=True, timeout=timeout, cwd="/", env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{script} under {python} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
