"""Bench section ``monitoring``: what monitoring costs the engine, and what it keeps.

Measures, in a fresh interpreter (``python -m bench.monitoring --measure`` prints JSON):

* per-hop time of a 200-routine sequential chain, (t_last - t_first) / 199 as in the engine
  section, with monitoring off, with an empty ``ExecutionHooks`` installed (the engine's own
  hooked path: the floor any observer pays), with monitoring on and no breakpoints, with 10
  conditional breakpoints on routines of the same flow that the chain does not pass through,
  and with 10 conditional breakpoints on chain routines whose condition stays false (evaluated
  on 10 of the 199 hops). The machine is shared, so configurations are interleaved: each round
  runs every configuration (best of a few jobs each), a ratio is taken against "off" *of the
  same round*, and the median of those ratios is reported (plus the best time seen);
* the same with monitoring on in a collector that already holds its limit of jobs, so each new
  job's trace replaces an old one's memory instead of growing the heap: the regime of a
  long-running process. A fresh collector grows with every hop it records (the bytes a hop
  retains are measured with tracemalloc), and on this VM every new 4 KB page costs microseconds
  to fault in, which the growth-phase figure includes; the page faults per hop are reported too;
* memory retained by a 1,000,000-event job (bounded by the per-job ring buffer);
* events/s delivered to 3 live subscribers of one job, all in order, none lost.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from typing import Any

from bench.common import ROOT, Row

SECTION = "monitoring"
CHAIN = 200
ROUNDS = 20
REPS = 10
STEADY_JOBS = 20   # job limit of the "steady" collector (reached before measuring)

_stamps: dict[str, float] = {}


def _routines() -> tuple[type, type, type, type]:
    from routilux import Routine

    class Hop(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.run)
            self.define_event("out", ["x"])

        def run(self, **kw: Any) -> None:
            self.emit("out", **kw)

    class First(Hop):
        def run(self, **kw: Any) -> None:
            _stamps["first"] = time.perf_counter()
            self.emit("out", **kw)

    class Last(Hop):
        def run(self, **kw: Any) -> None:
            _stamps["last"] = time.perf_counter()

    class Ticker(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.run)
            self.define_event("tick", ["i"])

        def run(self, count: int) -> None:
            for i in range(count):
                self.emit("tick", i=i)

    return Hop, First, Last, Ticker


def _chain() -> Any:
    from routilux import Flow

    Hop, First, Last, _ = _routines()
    flow = Flow("bench-chain")
    for i in range(CHAIN):
        cls = First if i == 0 else Last if i == CHAIN - 1 else Hop
        flow.add_routine(cls(), f"r{i}")
        if i:
            flow.connect(f"r{i - 1}", "out", f"r{i}", "trigger")
    for i in range(10):  # routines of the flow the chain never reaches
        flow.add_routine(Hop(), f"elsewhere{i}")
    return flow


def _per_hop_us(flow: Any) -> float:
    best = float("inf")
    for _ in range(REPS):
        job = flow.execute("r0", {"x": 1}, timeout=30)
        assert str(job.status) == "completed", job.status
        best = min(best, (_stamps["last"] - _stamps["first"]) / (CHAIN - 1) * 1e6)
    return best


def _faults_per_hop(flow: Any, hooks: Any, jobs: int = 20) -> float:
    """Minor page faults per hop (new memory the process touches for the first time)."""
    from routilux.hooks import install_hooks

    undo = install_hooks(hooks)
    try:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(jobs):
            flow.execute("r0", {"x": 1}, timeout=30)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    finally:
        undo()
    return (after - before) / (jobs * CHAIN)


def _bytes_per_hop(flow: Any) -> float:
    """Memory a monitored hop leaves behind (trace events and the payloads they keep)."""
    from routilux.hooks import install_hooks
    from routilux.monitoring import MonitoringRegistry

    reg = MonitoringRegistry()
    undo = install_hooks(reg.hooks)
    try:
        flow.execute("r0", {"x": 1}, timeout=30)   # warm: first-job allocations are not per hop
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        flow.execute("r0", {"x": 1}, timeout=30)
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    finally:
        undo()
    return (after - before) / CHAIN


def measure() -> dict[str, Any]:
    """Run every workload in this interpreter; returns the figures."""
    from routilux.hooks import ExecutionHooks, install_hooks
    from routilux.monitoring import MonitoringRegistry

    flow = _chain()
    # Room for every job this bench runs, so "fresh" stays fresh (growing) to the end.
    plain = MonitoringRegistry(max_jobs=ROUNDS * REPS + 100)
    # A small job limit reaches the steady state within the bench.
    steady = MonitoringRegistry(max_jobs=STEADY_JOBS)
    undo = install_hooks(steady.hooks)
    try:
        for _ in range(STEADY_JOBS + 5):
            flow.execute("r0", {"x": 1}, timeout=30)
    finally:
        undo()
    off_path = MonitoringRegistry()
    for i in range(10):
        off_path.breakpoint_manager.set_breakpoint(
            flow_id="bench-chain", routine_id=f"elsewhere{i}", condition="x > 100")
    on_path = MonitoringRegistry()
    for i in range(10):
        on_path.breakpoint_manager.set_breakpoint(
            flow_id="bench-chain", routine_id=f"r{10 + i * 15}", condition="x > 100")
    configs = {"off": None, "noop": ExecutionHooks(), "on": plain.hooks,
               "on_steady": steady.hooks, "bp_elsewhere": off_path.hooks,
               "bp_false": on_path.hooks}
    best = {k: float("inf") for k in configs}
    ratios: dict[str, list[float]] = {k: [] for k in configs}
    for _ in range(ROUNDS):
        row = {}
        for name, hooks in configs.items():
            undo = install_hooks(hooks)
            try:
                row[name] = _per_hop_us(flow)
            finally:
                undo()
        for name, value in row.items():
            best[name] = min(best[name], value)
            ratios[name].append(value / row["off"])
    out: dict[str, Any] = {f"per_hop_{k}_us": v for k, v in best.items()}
    out.update({f"ratio_{k}": statistics.median(v) for k, v in ratios.items()})
    out.update({f"ratio_{k}_range": [min(v), max(v)] for k, v in ratios.items()})
    out["bytes_per_hop"] = _bytes_per_hop(flow)
    out["faults_per_hop_off"] = _faults_per_hop(flow, None)
    out["faults_per_hop_on"] = _faults_per_hop(flow, plain.hooks)
    out["faults_per_hop_on_steady"] = _faults_per_hop(flow, steady.hooks)
    out.update(_million())
    out.update(_fanout())
    return out


def _million() -> dict[str, Any]:
    from routilux import Flow
    from routilux.monitoring import MonitoringRegistry

    *_, Ticker = _routines()
    reg = MonitoringRegistry()
    reg.install()
    try:
        flow = Flow("bench-million")
        flow.add_routine(Ticker(), "t")
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        t0 = time.perf_counter()
        job = flow.execute("t", {"count": 1_000_000 - 5}, timeout=300)
        elapsed = time.perf_counter() - t0
        after, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        metrics = reg.monitor_collector.get_metrics(job.job_id)
        return {"million_events": metrics.total_events, "million_retained_kb": (after - before) / 1024,
                "million_peak_kb": (peak - before) / 1024,
                "million_ring": reg.monitor_collector.ring_length(job.job_id),
                "million_seconds_traced": elapsed}
    finally:
        reg.uninstall()


def _fanout(n_events: int = 100_000) -> dict[str, Any]:
    from routilux import Flow
    from routilux.monitoring import MonitoringRegistry

    *_, Ticker = _routines()
    reg = MonitoringRegistry()
    reg.install()
    try:
        flow = Flow("bench-fanout")
        flow.add_routine(Ticker(), "t")
        job_id = "bench-fanout-job"
        subs = [reg.event_manager.subscribe(job_id, max_queue=n_events + 10) for _ in range(3)]
        counts = [0, 0, 0]
        in_order = [True, True, True]

        def read(i: int) -> None:
            last = 0
            while True:
                for item in subs[i].drain() or [subs[i].get(timeout=30)]:
                    assert item is not None and item.get("type") == "event"
                    in_order[i] &= item["seq"] == last + 1
                    last = item["seq"]
                    counts[i] += 1
                    if item["event_type"] == "job_completed":
                        return

        threads = [threading.Thread(target=read, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        t0 = time.perf_counter()
        job = flow.start("t", {"count": n_events - 5}, job_id=job_id)
        for t in threads:
            t.join(120)
        elapsed = time.perf_counter() - t0
        assert job.wait(10)
        for s in subs:
            s.close()
        return {"fanout_events_per_s": n_events / elapsed, "fanout_all_in_order": all(in_order),
                "fanout_counts": counts, "fanout_lost": sum(s.total_dropped for s in subs)}
    finally:
        reg.uninstall()


def run() -> list[Row]:
    """Measure in a fresh interpreter and return the table rows."""
    proc = subprocess.run([sys.executable, "-m", "bench.monitoring", "--measure"],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"bench.monitoring failed:\n{proc.stderr[-2000:]}")
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    off = m["per_hop_off_us"]

    def note(key: str) -> str:
        lo, hi = m[f"ratio_{key}_range"]
        return f"{m[f'ratio_{key}']:.2f}x off (median of {ROUNDS} same-round ratios; {lo:.2f}-{hi:.2f})"

    faults = (f"page faults/hop: off {m['faults_per_hop_off']:.3f}, on {m['faults_per_hop_on']:.3f}, "
              f"at job limit {m['faults_per_hop_on_steady']:.3f}")
    return [
        Row(SECTION, "per-hop time, 200-routine chain, monitoring off", "us", off,
            notes="best of all rounds; ratios below are per round"),
        Row(SECTION, "same, empty ExecutionHooks installed (engine's hooked path)", "us",
            m["per_hop_noop_us"], notes=note("noop") + ": the floor any observer pays"),
        Row(SECTION, "same, monitoring on, no breakpoints", "us", m["per_hop_on_us"],
            target="<= 2x off", notes=note("on") + "; 4 trace events/hop; fresh collector "
            f"(retains {m['bytes_per_hop']:.0f} B/hop)"),
        Row(SECTION, "same, monitoring on, collector at its job limit", "us",
            m["per_hop_on_steady_us"], target="<= 2x off",
            notes=note("on_steady") + "; old traces' memory reused, as in a long-running "
            f"process; {faults}"),
        Row(SECTION, "same, 10 conditional breakpoints off the chain's path", "us",
            m["per_hop_bp_elsewhere_us"], notes=note("bp_elsewhere")),
        Row(SECTION, "same, 10 conditional breakpoints on the chain, condition false", "us",
            m["per_hop_bp_false_us"], notes=note("bp_false")),
        Row(SECTION, "monitoring on / off, per hop (fresh collector)", "x", m["ratio_on"],
            target="<= 2x"),
        Row(SECTION, "monitoring on / off, per hop (collector at its job limit)", "x",
            m["ratio_on_steady"], target="<= 2x"),
        Row(SECTION, "memory retained by a 1,000,000-event job", "KB", m["million_retained_kb"],
            target="bounded by ring",
            notes=f"{m['million_events']:,} events, ring keeps {m['million_ring']}; "
                  f"peak {m['million_peak_kb']:.0f} KB"),
        Row(SECTION, "events/s to 3 in-process subscribers of one job", "events/s",
            m["fanout_events_per_s"], higher_is_better=True,
            notes=f"each got {m['fanout_counts']} events, in order: {m['fanout_all_in_order']}, "
                  f"lost: {m['fanout_lost']}"),
    ]


if __name__ == "__main__":
    if "--measure" in sys.argv:
        print(json.dumps(measure()))
    else:
        from bench.__main__ import render

        print(render(run()))
