"""routilux's executor bench workloads, one per invocation (fresh process each). Prints JSON.

Modes:
* ``async N``: one job fans out N activations of an ``async def`` handler awaiting
  ``asyncio.sleep(0.2)``; seconds to completion and the peak thread count;
* ``threads N``: the same with a plain handler calling ``time.sleep(0.2)`` on threads
  (``max_workers=N``: a thread per waiting activation);
* ``cpu``: 64 activations of ~50 ms of pure-Python work, on threads and on Dask (LocalCluster,
  2 worker processes, 1 thread each), seconds for each;
* ``overhead N``: N no-op tasks through routilux on Dask vs N bare ``client.submit`` calls on the
  same cluster, microseconds per task for each (median of rounds);
* ``hop``: per-hop time of a 200-routine sequential chain (median of repetitions), for comparing
  this tree with an older one put first on ``sys.path``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import threading
import time

from routilux import Flow, Routine

perf = time.perf_counter


class Fan(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("item", ["i"])

    def run(self, n):
        for i in range(n):
            self.emit("item", i=i)


class AsyncWait(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.go)
        self.define_event("done", ["i"])

    async def go(self, i):
        await asyncio.sleep(0.2)
        self.emit("done", i=i)


class ThreadWait(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.go)
        self.define_event("done", ["i"])

    def go(self, i):
        time.sleep(0.2)
        self.emit("done", i=i)


class Count(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.take)

    def take(self, **kw):
        shared = self.job_state.shared_data
        shared["n"] = shared.get("n", 0) + 1


def burn(loops):
    x = 0
    for k in range(loops):
        x += k * k
    return x


class Burn(Routine):
    def __init__(self, loops):
        super().__init__()
        self.define_slot("trigger", self.go)
        self.define_event("done", ["i"])
        self.set_config(loops=loops)

    def go(self, i):
        burn(self.get_config("loops"))
        self.emit("done", i=i)


class Noop(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.go)

    def go(self, i):
        return None


def noop(i):
    return None


def fan_flow(worker, max_workers, sink=True):
    flow = Flow(execution_strategy="concurrent", max_workers=max_workers)
    flow.add_routine(Fan(), "fan")
    flow.add_routine(worker, "work")
    if sink:
        flow.add_routine(Count(), "count")
        flow.connect("work", "done", "count")
    flow.connect("fan", "item", "work")
    return flow


def timed_with_threads(fn):
    peak = [threading.active_count()]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], threading.active_count())
            time.sleep(0.002)

    t = threading.Thread(target=sample)
    t.start()
    t0 = perf()
    result = fn()
    elapsed = perf() - t0
    done.set()
    t.join()
    return elapsed, peak[0] - 1, result   # the sampler is not counted


def io_fanout(worker, n):
    flow = fan_flow(worker, n)
    flow.execute("fan", {"n": 10}, timeout=30)   # warm-up (loop thread, pool)
    elapsed, threads, js = timed_with_threads(lambda: flow.execute("fan", {"n": n}, timeout=120))
    assert js.status == "completed" and js.shared_data["n"] == n, (js.status, js.error)
    return {"seconds": elapsed, "threads": threads}


def calibrate(target_s):
    loops = 200_000
    t0 = perf()
    burn(loops)
    per = (perf() - t0) / loops
    return max(1, int(target_s / per))


def cpu():
    from distributed import Client, LocalCluster

    from routilux.executors import DaskExecutor

    loops = calibrate(0.05)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address="127.0.0.1:0", silence_logs=50)
    client = Client(cluster)
    try:
        flow = fan_flow(Burn(loops), 8)
        ex = DaskExecutor(client)
        flow.execute("fan", {"n": 4}, executor=ex, timeout=60)   # ship routines, warm workers
        rounds = {"threads": [], "dask": []}
        for _ in range(3):
            for name, kw in (("threads", {}), ("dask", {"executor": ex})):
                t0 = perf()
                js = flow.execute("fan", {"n": 64}, timeout=300, **kw)
                rounds[name].append(perf() - t0)
                # (on Dask the counting sink runs remotely too: shared-data increments from
                # concurrent activations race by design, so only the status is checked)
                assert js.status == "completed", js.error
        return {"loops": loops, "threads": statistics.median(rounds["threads"]),
                "dask": statistics.median(rounds["dask"])}
    finally:
        client.close()
        cluster.close()


def overhead(n):
    from distributed import Client, LocalCluster

    from routilux.executors import DaskExecutor

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address="127.0.0.1:0", silence_logs=50)
    client = Client(cluster)
    try:
        ex = DaskExecutor(client)
        flow = fan_flow(Noop(), n, sink=False)
        flow.execute("fan", {"n": 10}, executor=ex, timeout=60)
        client.gather([client.submit(noop, i, pure=False) for i in range(10)])
        ours, bare = [], []
        for _ in range(5):
            t0 = perf()
            futs = [client.submit(noop, i, pure=False) for i in range(n)]
            client.gather(futs)
            bare.append((perf() - t0) / n * 1e6)
            del futs
            t0 = perf()
            js = flow.execute("fan", {"n": n}, executor=ex, timeout=300)
            ours.append((perf() - t0) / n * 1e6)
            assert js.status == "completed", js.error
        return {"routilux_us": statistics.median(ours), "bare_us": statistics.median(bare)}
    finally:
        client.close()
        cluster.close()


def hop():
    """The engine section's chain measure (same driver code, so both trees run the same)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from routilux_workload import per_hop_us

    return {"per_hop_us": per_hop_us(200, 40)}


if __name__ == "__main__":
    mode = sys.argv[1]
    arg = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    if mode == "async":
        out = io_fanout(AsyncWait(), arg)
    elif mode == "threads":
        out = io_fanout(ThreadWait(), arg)
    elif mode == "cpu":
        out = cpu()
    elif mode == "overhead":
        out = overhead(arg)
    elif mode == "hop":
        out = hop()
    else:
        raise SystemExit(f"unknown mode {mode}")
    out["pid"] = os.getpid()
    print(json.dumps(out))
