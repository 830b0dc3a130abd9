"""Bench section ``widgets``: how fast the views draw and whether a busy job keeps the page usable.

Measured in Debian's Chromium (headless, the browser the tests use):

* **render, standalone**: the FlowView module drawing a 200-routine flow (random layered DAG,
  ~260 connections, two slots and two events per routine) into a blank page, from ``render()``
  to the next painted frame; median of several runs. This is our code alone: layout + SVG.
* **render, in JupyterLab**: a cell that builds the same flow and ends with ``flow`` (the rich
  display), from the run command to 200 nodes in the DOM; includes the kernel, the comm and the
  module load.
* **busy job**: a JobView on its Trace tab (the heaviest panel) while a job emits ~10,000
  monitoring events per second for a few seconds: the page's animation-frame gaps (p50/p99/max),
  long tasks, the worst event-loop lag seen by a 50 ms timer, and the event rate the kernel
  reached. "Responsive" means frames keep coming (p99 gap well under 100 ms).

``python -m bench.widgets`` prints the rows alone.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT, Row

SECTION = "widgets"
ROUTINES = 200
RUNS = 7
BUSY_SECONDS = 5
HOPS_PER_SECOND = 2600  # 4 monitoring events per hop (emit, slot call, routine start, end): ~10.4k/s

sys.path.insert(0, str(ROOT))
from tests.browser.lab import KERNEL_IDLE, RUN_CELL, Lab, browser, notebook_json  # noqa: E402  (shared harness)

FLOW_CODE = f'''from routilux import Flow, Routine
import random, time

class Step(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_slot("side", self.run)
        self.define_event("out", ["value"])
        self.define_event("alt", ["value"])

    def run(self, **kw):
        self.emit("out", **kw)

def big_flow(n={ROUTINES}, seed=7):
    rng = random.Random(seed)
    flow = Flow(f"bench-{{n}}")
    for i in range(n):
        flow.add_routine(Step(), f"r{{i}}")
    for i in range(1, n):
        flow.connect(f"r{{rng.randrange(i)}}", "out", f"r{{i}}", "trigger")
        if rng.random() < 0.3:
            flow.connect(f"r{{rng.randrange(i)}}", "alt", f"r{{i}}", "side")
    return flow
'''

PACER_CODE = f'''from routilux import Flow, Routine
from routilux_jupyter.widgets import JobView
import time

class Pacer(Routine):
    """Emits at a steady rate (hops per second) for a number of seconds."""
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("out", ["value"])

    def run(self, rate={HOPS_PER_SECOND}, seconds={BUSY_SECONDS}):
        start = time.perf_counter()
        sent = 0
        while (elapsed := time.perf_counter() - start) < seconds:
            due = int(elapsed * rate)
            while sent < due:
                self.emit("out", value=sent)
                sent += 1
            time.sleep(0.002)

class Drain(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("inp", self.run)

    def run(self, value):
        pass

busy = Flow("bench-busy", execution_strategy="concurrent", max_workers=4)
busy.add_routine(Pacer(), "pacer")
busy.add_routine(Drain(), "drain")
busy.connect("pacer", "out", "drain", "inp")
view = JobView(flow=busy)
view'''

BUSY_RUN = f'''from routilux.monitoring import MonitoringRegistry
job = busy.execute("pacer", {{"rate": {HOPS_PER_SECOND}, "seconds": {BUSY_SECONDS}}}, timeout=120)
m = MonitoringRegistry.get_instance().monitor_collector.get_metrics(job.job_id)
print("BUSY", job.status, m.total_events, round(m.duration, 3))'''

PROBES = """() => {
  const rx = (window.__rxBench = { gaps: [], longtasks: [], lag: 0, stop: false });
  let last = performance.now();
  const frame = (t) => { rx.gaps.push(t - last); last = t; if (!rx.stop) requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
  try {
    new PerformanceObserver((list) => list.getEntries().forEach((e) => rx.longtasks.push(e.duration)))
      .observe({ type: "longtask", buffered: false });
  } catch (err) { rx.longtasks = null; }
  rx.redraws = 0;
  const counter = document.querySelector(".rx-job-view .rx-trace-count");
  if (counter) new MutationObserver(() => rx.redraws++).observe(counter, { childList: true, characterData: true, subtree: true });
  let expected = performance.now() + 50;
  rx.timer = setInterval(() => { const now = performance.now(); rx.lag = Math.max(rx.lag, now - expected); expected = now + 50; }, 50);
  return true;
}"""
PROBES_STOP = """() => {
  const rx = window.__rxBench; rx.stop = true; clearInterval(rx.timer);
  return { gaps: rx.gaps, longtasks: rx.longtasks, lag: rx.lag, redraws: rx.redraws };
}"""
STANDALONE = """async ([src, css, graph, runs]) => {
  const style = document.createElement("style"); style.textContent = css; document.head.append(style);
  const mod = await import(URL.createObjectURL(new Blob([src], { type: "text/javascript" })));
  const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  const times = [];
  for (let i = 0; i < runs; i++) {
    const el = document.createElement("div"); el.style.width = "1200px"; document.body.append(el);
    const state = { graph, routine_states: {}, routine_metrics: {}, edge_hits: {}, job: {}, metrics: {},
                    breakpoints: [], debug: {}, error: "", height: 600 };
    const model = { get: (k) => state[k], on() {}, off() {}, send() {} };
    const t0 = performance.now();
    const cleanup = mod.default.render({ model, el });
    await frame();
    times.push(performance.now() - t0);
    if (el.querySelectorAll(".rx-node").length !== graph.nodes.length) throw new Error("nodes missing");
    if (el.querySelector(".rx-error")) throw new Error(el.querySelector(".rx-error").textContent);
    cleanup(); el.remove();
  }
  return times;
}"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _bench_graph() -> dict[str, Any]:
    """The 200-routine graph exactly as FlowView sends it (real Flow, real source)."""
    namespace: dict[str, Any] = {}
    exec(FLOW_CODE, namespace)  # noqa: S102  (our own bench code, not user input)
    flow = namespace["big_flow"]()
    from routilux_jupyter.widgets._monitoring import MonitoringSource

    return dict(MonitoringSource(flow, None, follow_latest=True).graph())


def _standalone(page: Any) -> list[float]:
    from routilux_jupyter.widgets._bundle import STATIC, bundle

    graph = _bench_graph()
    page.set_content("<!doctype html><html><body></body></html>")
    css = (STATIC / "routilux.css").read_text()
    return list(page.evaluate(STANDALONE, [bundle("flow_view.js"), css, graph, RUNS]))


def _in_lab(page: Any, lab: Lab) -> dict[str, Any]:
    page.goto(lab.page_url("lab/tree/bench.ipynb"))
    page.wait_for_function(KERNEL_IDLE, timeout=90_000)
    page.evaluate(RUN_CELL, 0)  # %load_ext
    page.evaluate(RUN_CELL, 1)  # define the flow builder
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    t0 = page.evaluate(RUN_CELL, 2)  # flow = big_flow(); flow
    page.wait_for_function(f"() => document.querySelectorAll('.rx-flow-view .rx-node').length === {ROUTINES}",
                           timeout=60_000, polling="raf")
    t1 = page.evaluate("() => performance.now()")
    render_ms = float(page.locator(".rx-flow-view").first.get_attribute("data-render-ms") or "nan")
    page.locator(".rx-flow-view").first.screenshot(path=str(_artifacts() / "bench-200-routines.png"))

    page.evaluate(RUN_CELL, 3)  # the busy flow and its JobView
    page.locator(".rx-job-view .rx-node").first.wait_for(timeout=60_000)
    page.locator('.rx-job-view button[data-tab="trace"]').click()
    page.evaluate(PROBES)
    page.evaluate(RUN_CELL, 4)  # run the busy job (blocks the main shell for BUSY_SECONDS)
    page.wait_for_function("() => document.body.innerText.includes('BUSY ')", timeout=120_000)
    probes = page.evaluate(PROBES_STOP)
    busy_line = next(line for line in page.inner_text(".jp-Notebook").splitlines() if line.startswith("BUSY "))
    page.locator(".rx-job-view").first.screenshot(path=str(_artifacts() / "bench-busy-job.png"))
    return {"display_ms": t1 - t0, "render_ms": render_ms, "probes": probes, "busy": busy_line,
            "errors": list(page.errors)}


def _artifacts() -> Path:
    path = ROOT / "test-artifacts" / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def measure() -> dict[str, Any]:
    """Run both measurements; returns raw numbers."""
    cells = ["%load_ext routilux", FLOW_CODE, "flow = big_flow()\nflow", PACER_CODE, BUSY_RUN]
    with tempfile.TemporaryDirectory(prefix="rx-bench-") as tmp:
        root = Path(tmp)
        (root / "bench.ipynb").write_text(notebook_json(cells))
        with browser() as page:
            standalone = _standalone(page)
        with Lab(root) as lab, browser() as page:
            lab_figures = _in_lab(page, lab)
    return {"standalone_ms": standalone, **lab_figures}


def run() -> list[Row]:
    """The section's rows for ``python -m bench``."""
    load = os.getloadavg()[0]
    m = measure()
    gaps = [g for g in m["probes"]["gaps"] if g > 0]
    longtasks = m["probes"]["longtasks"]
    parts = m["busy"].split()
    events, seconds = int(parts[2]), float(parts[3])
    rate = events / seconds if seconds else float("nan")
    errors = "; console errors: " + " | ".join(m["errors"])[:300] if m["errors"] else ""
    return [
        Row(SECTION, f"render {ROUTINES}-routine FlowView, standalone (median of {RUNS})", "ms",
            statistics.median(m["standalone_ms"]), target="< 1000",
            notes=f"all runs: {', '.join(f'{t:.0f}' for t in m['standalone_ms'])} ms"),
        Row(SECTION, f"{ROUTINES}-routine flow: run cell -> graph drawn in JupyterLab", "ms",
            m["display_ms"], target="< 1000",
            notes=f"of which the view's own layout+DOM: {m['render_ms']:.0f} ms{errors}"),
        Row(SECTION, "busy job: events/s reached in the kernel", "events/s", rate, target=">= 10000",
            higher_is_better=True,
            notes=(f"{events} events in {seconds:.2f} s; the trace panel redrew {m['probes']['redraws']} times "
                   f"({m['probes']['redraws'] / seconds:.1f}/s: coalesced); machine load average {load:.1f} "
                   f"on {os.cpu_count()} cores")),
        Row(SECTION, "busy job: frame gap p50 / p99", "ms", _pct(gaps, 0.99), target="p99 < 100",
            notes=f"p50 {_pct(gaps, 0.5):.1f} ms, max {max(gaps):.0f} ms over {len(gaps)} frames"),
        Row(SECTION, "busy job: long tasks (> 50 ms) total", "ms",
            sum(longtasks) if longtasks is not None else None,
            notes=(f"{len(longtasks)} long tasks, longest {max(longtasks, default=0):.0f} ms; "
                   f"worst 50 ms-timer lag {m['probes']['lag']:.0f} ms") if longtasks is not None else "no longtask API"),
    ]


if __name__ == "__main__":
    from bench.__main__ import render

    if "--json" in sys.argv:
        print(json.dumps(measure(), indent=1)[:20000])
    else:
        print(render(run()))
