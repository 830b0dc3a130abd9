"""Executors section: the thread path before/after the executor seam, async IO fan-out against
threads and LangGraph's async API, Dask against threads on CPU work, and routilux's per-task
cost on Dask against a bare ``client.submit``.

Each workload runs in a fresh process (``drivers/routilux_executors.py``) so thread counts and
warm pools do not leak between them. The before/after row runs the same chain driver against
this tree and against the last commit before the seam (``BASE``, exported to ``.bench/``),
alternating rounds so both see the same machine load.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path

from bench.common import BENCH_DIR, DRIVERS, ROOT, Row, run_driver, venv_python

SECTION = "executors"
# The last commit whose runtime had no executor seam (override with ROUTILUX_BENCH_BASE).
BASE = os.environ.get("ROUTILUX_BENCH_BASE", "99b2767")
DRIVER = "routilux_executors.py"


def _base_tree() -> Path | None:
    """``routilux/`` of BASE, exported once into .bench/ (None outside a git checkout)."""
    dest = BENCH_DIR / f"base-{BASE}"
    if (dest / "routilux" / "__init__.py").exists():
        return dest
    try:
        blob = subprocess.run(["git", "archive", "--format=tar", BASE, "routilux"], cwd=ROOT,
                              capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(dest)
    return dest


def _hop_with(tree: Path | None) -> float:
    if tree is None:
        return run_driver(sys.executable, DRIVER, "hop")["per_hop_us"]
    code = (f"import sys, runpy; sys.path.insert(0, {str(tree)!r}); sys.argv = ['d', 'hop'];"
            f" runpy.run_path({str(DRIVERS / DRIVER)!r}, run_name='__main__')")
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                         timeout=300, cwd="/")
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])["per_hop_us"]


def _per_hop_rows() -> list[Row]:
    tree = _base_tree()
    if tree is None:
        return [Row(SECTION, "per-hop time, thread executor, before/after the seam", "us", None,
                    notes=f"no git checkout to export {BASE} from")]
    after, before = [], []
    for _ in range(5):
        before.append(_hop_with(tree))
        after.append(_hop_with(None))
    a, b = statistics.median(after), statistics.median(before)
    return [Row(SECTION, "per-hop time, 200-routine chain, thread executor (after / before)",
                "us", a, {"plain": None}, target="no cost added",
                notes=f"before = {BASE} (no executor seam): {b:.3f} us; after/before = "
                      f"{a / b:.3f} (medians of 5 alternating rounds)")]


def _io_rows() -> list[Row]:
    ours = run_driver(sys.executable, DRIVER, "async", "10000", timeout=300)
    threads = run_driver(sys.executable, DRIVER, "threads", "10000", timeout=600)
    python, why = venv_python("langgraph-venv", "langgraph", "import langgraph")
    lg, lg_why = None, why
    if python is not None:
        try:
            lg = run_driver(python, "langgraph_async.py", "10000", timeout=600)
        except Exception as exc:  # a peer that breaks must not sink the bench
            lg_why = str(exc).strip().splitlines()[-1]
    notes = (f"10,000 activations awaiting asyncio.sleep(0.2) in one job; threads: a plain "
             f"handler with time.sleep(0.2) and max_workers=10000 ({threads['threads']} threads "
             f"at peak); async: {ours['threads']} threads at peak; "
             + (f"LangGraph {lg['version']}: ainvoke with 10,000 Send()s to an async node "
                f"({lg['threads']} threads)" if lg else f"LangGraph not available ({lg_why})"))
    return [
        Row(SECTION, "async fan-out, 10k IO waits of 0.2 s, to completion", "s", ours["seconds"],
            {"plain": threads["seconds"], "langgraph": lg["seconds"] if lg else None},
            target="< 2 s, < 20 threads", notes=notes),
        Row(SECTION, "async fan-out, peak threads in the process", "threads",
            float(ours["threads"]), {"plain": float(threads["threads"]),
                                     "langgraph": float(lg["threads"]) if lg else None}),
    ]


def _dask_rows() -> list[Row]:
    try:
        cpu = run_driver(sys.executable, DRIVER, "cpu", timeout=900)
        over = run_driver(sys.executable, DRIVER, "overhead", "500", timeout=900)
    except Exception as exc:
        return [Row(SECTION, "Dask", "-", None, notes=f"Dask not available: {exc}")]
    return [
        Row(SECTION, "CPU-bound flow, 64 x ~50 ms pure Python: Dask (2 processes)", "s",
            cpu["dask"], {"plain": cpu["threads"]}, target="faster than threads",
            notes=f"'plain' column = the same flow on threads; threads/dask = "
                  f"{cpu['threads'] / cpu['dask']:.2f}x (medians of 3 rounds)"),
        Row(SECTION, "per-task time on Dask: routilux activation vs bare client.submit", "us",
            over["routilux_us"], {"plain": over["bare_us"]}, target="<= 1.5x bare",
            notes=f"500 no-op tasks, 2 worker processes; routilux/bare = "
                  f"{over['routilux_us'] / over['bare_us']:.2f}x ('plain' = bare submit+gather)"),
    ]


def run() -> list[Row]:
    """Run the executor workloads and return the table rows."""
    return [*_per_hop_rows(), *_io_rows(), *_dask_rows()]


if __name__ == "__main__":
    from bench.__main__ import render

    print(render(run()))
