"""One workload for both routilux engines (this repo's, and upstream 0.10.0 in its own venv).

Both expose the same seed-era API (Routine.define_slot/define_event/emit, Flow.add_routine/connect,
flow.execute, JobState.wait_for_completion), so the exact same code runs on each. Prints JSON.

Measures:
* per-hop time of an N-routine sequential chain: (t_last - t_first) / (N - 1), where the first and
  last handlers stamp ``perf_counter`` (so completion detection does not count);
* start -> completed latency of a 1-routine flow (this repo: ``flow.start`` + ``job_state.wait``;
  upstream: ``flow.execute`` + ``JobState.wait_for_completion``, its documented way);
* fan-out/fan-in throughput, concurrent strategy: a source emits M items to a worker routine that
  emits each to a sink; items/s from start until the sink has all M;
* the same three on plain Python calls (baseline).
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from importlib.metadata import version

from routilux import Flow, Routine
from routilux.job_state import JobState

perf = time.perf_counter
STAMPS: dict[str, float] = {}


class Hop(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("out", ["x"])

    def run(self, **kw):
        self.emit("out", **kw)


class First(Hop):
    def run(self, **kw):
        STAMPS["first"] = perf()
        self.emit("out", **kw)


class Last(Hop):
    def run(self, **kw):
        STAMPS["last"] = perf()


class Source(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("item", ["i"])

    def run(self, **kw):
        for i in range(kw["n"]):
            self.emit("item", i=i)


class Work(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("done", ["i"])

    def run(self, **kw):
        self.emit("done", i=kw["i"] * 2)


class Sink(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.run)
        self.lock = threading.Lock()
        self.count = 0
        self.expected = 0
        self.finished = threading.Event()

    def run(self, **kw):
        with self.lock:
            self.count += 1
            if self.count == self.expected:
                STAMPS["sink_done"] = perf()
                self.finished.set()


def run_job(flow, entry, params):
    if hasattr(flow, "start"):  # this repo: start returns at once, wait is event-driven
        js = flow.start(entry, params)
        js.wait(60)
    else:  # upstream 0.10.0
        js = flow.execute(entry, params)
        JobState.wait_for_completion(flow, js, timeout=60)
    return js


def chain_flow(n):
    flow = Flow("chain")
    for i in range(n):
        cls = First if i == 0 else Last if i == n - 1 else Hop
        flow.add_routine(cls(), f"r{i}")
    for i in range(n - 1):
        flow.connect(f"r{i}", "out", f"r{i + 1}", "trigger")
    return flow


def per_hop_us(n, reps):
    flow = chain_flow(n)
    samples = []
    for _ in range(reps + 1):
        STAMPS.clear()
        js = run_job(flow, "r0", {"x": 1})
        assert js.status == "completed", js.status
        samples.append((STAMPS["last"] - STAMPS["first"]) / (n - 1) * 1e6)
    return statistics.median(samples[1:])


def latency_ms(reps):
    flow = Flow("one")
    flow.add_routine(Last(), "r0")
    samples = []
    for _ in range(reps + 3):
        t0 = perf()
        js = run_job(flow, "r0", {"x": 1})
        samples.append((perf() - t0) * 1e3)
        assert js.status == "completed", js.status
    samples = sorted(samples[3:])
    return statistics.median(samples), samples[int(len(samples) * 0.9)]


def fanout_per_s(m, reps, workers=4):
    flow = Flow("fan", execution_strategy="concurrent", max_workers=workers)
    sink = Sink()
    flow.add_routine(Source(), "src")
    flow.add_routine(Work(), "work")
    flow.add_routine(sink, "sink")
    flow.connect("src", "item", "work", "trigger")
    flow.connect("work", "done", "sink", "trigger")
    rates = []
    for _ in range(reps + 1):
        sink.count, sink.expected = 0, m
        sink.finished.clear()
        t0 = perf()
        js = run_job(flow, "src", {"n": m})
        assert sink.finished.wait(60) and js.status == "completed", js.status
        rates.append(m / (STAMPS["sink_done"] - t0))
    return statistics.median(rates[1:])


# ---------------------------------------------------------------- plain-Python baseline
class PlainHop:
    def __init__(self, nxt):
        self.nxt = nxt

    def run(self, **kw):
        if self.nxt is None:
            STAMPS["last"] = perf()
        else:
            self.nxt.run(**kw)


def plain():
    n = 200
    node = None
    for _ in range(n):
        node = PlainHop(node)
    hops = []
    for _ in range(50):
        t0 = perf()
        node.run(x=1)
        hops.append((STAMPS["last"] - t0) / (n - 1) * 1e6)

    def one(**kw):
        return kw

    lat = []
    for _ in range(1000):
        t0 = perf()
        one(x=1)
        lat.append((perf() - t0) * 1e3)

    def work(i):
        return i * 2

    m, count = 2000, [0]

    def sink(i):
        count[0] += 1

    t0 = perf()
    for i in range(m):
        sink(work(i))
    rate = m / (perf() - t0)
    return {"per_hop_us": statistics.median(hops), "latency_ms": statistics.median(lat),
            "fanout_per_s": rate}


def main():
    quick = "--quick" in sys.argv
    upstream = not hasattr(Flow, "start")
    # Upstream's completion wait takes ~0.35 s per job (polling + stability checks), so fewer reps.
    reps_chain, reps_lat, reps_fan = (3, 5, 3) if upstream else (30, 2000, 10)
    if quick:
        reps_chain, reps_lat, reps_fan = 2, 3, 2
    out = {"engine": "upstream" if upstream else "routilux", "version": version("routilux"),
           "python": sys.version.split()[0]}
    out["per_hop_us"] = per_hop_us(200, reps_chain)
    out["latency_ms"], out["latency_p90_ms"] = latency_ms(reps_lat)
    out["fanout_per_s"] = fanout_per_s(1000, reps_fan)
    if not upstream:
        out["per_hop_us_long_chain"] = per_hop_us(2000, 5)
        out["plain"] = plain()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
