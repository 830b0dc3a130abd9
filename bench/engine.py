"""Engine section: chain per-hop time, start->completed latency, fan-out/fan-in throughput.

routilux (this repo), upstream routilux 0.10.0 and LangGraph each run the same workload in their
own interpreter (``drivers/``); the plain-Python baseline runs inside the routilux driver.
"""

from __future__ import annotations

import sys

from bench.common import Row, run_driver, venv_python

SECTION = "engine"


def _peer(name: str, requirement: str, module: str, script: str) -> tuple[dict | None, str]:
    python, why = venv_python(name, requirement, f"import {module}")
    if python is None:
        return None, why
    try:
        return run_driver(python, script), ""
    except Exception as exc:  # a peer that breaks must not sink the whole bench
        return None, f"{requirement} run failed: {str(exc).strip().splitlines()[-1]}"


def run() -> list[Row]:
    """Run the engine workloads and return the table rows."""
    ours = run_driver(sys.executable, "routilux_workload.py")
    up, up_why = _peer("upstream-venv", "routilux==0.10.0", "routilux", "routilux_workload.py")
    lg, lg_why = _peer("langgraph-venv", "langgraph", "langgraph", "langgraph_workload.py")
    plain = ours["plain"]

    def peers(key: str, plain_value: float | None) -> dict[str, float | None]:
        return {"plain": plain_value, "upstream": up[key] if up else None,
                "langgraph": lg[key] if lg else None}

    notes = "; ".join(filter(None, [
        f"upstream not available ({up_why})" if up is None else
        f"upstream {up['version']}",
        f"LangGraph not available ({lg_why})" if lg is None else f"LangGraph {lg['version']}",
    ]))
    base = plain["per_hop_us"]
    overhead = {k: (v - base if v is not None else None)
                for k, v in peers("per_hop_us", base).items()}
    overhead["plain"] = None
    rows = [
        Row(SECTION, "per-hop time, 200-routine chain (sequential)", "us", ours["per_hop_us"],
            peers("per_hop_us", base), notes=notes),
        Row(SECTION, "per-hop overhead over a plain call, same chain", "us",
            ours["per_hop_us"] - base, overhead, target="<= 3 us",
            notes=f"plain-Python hop = {base:.3f} us, subtracted from each engine"),
        Row(SECTION, "per-hop time, 2000-routine chain", "us", ours["per_hop_us_long_chain"], {}),
        Row(SECTION, "start->completed latency, 1-routine flow, p50", "ms", ours["latency_ms"],
            peers("latency_ms", plain["latency_ms"]), target="<= 0.1 ms",
            notes="routilux: flow.start + job_state.wait; upstream: flow.execute + "
                  "JobState.wait_for_completion; LangGraph: graph.invoke"),
        Row(SECTION, "start->completed latency, 1-routine flow, p90", "ms",
            ours["latency_p90_ms"], peers("latency_p90_ms", None)),
        Row(SECTION, "fan-out/fan-in throughput (concurrent, 4 workers)", "items/s",
            ours["fanout_per_s"], peers("fanout_per_s", plain["fanout_per_s"]),
            higher_is_better=True,
            notes="1000 items: source -> worker -> sink; LangGraph uses Send (map-reduce)"),
    ]
    return rows
