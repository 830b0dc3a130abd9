"""The routilux bench workload expressed in LangGraph, run in its own venv. Prints JSON.

* chain: a ``StateGraph`` of N nodes in a line; per hop = (t_last - t_first) / (N - 1), stamped by
  the first and last nodes;
* latency: ``invoke`` of a 1-node graph;
* fan-out/fan-in: ``Send`` one ``work`` task per item (run concurrently by LangGraph), results
  reduced into a list that a ``sink`` node reads; items/s until the sink ran.
"""

from __future__ import annotations

import json
import operator
import statistics
import sys
import time
from importlib.metadata import version
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

perf = time.perf_counter
STAMPS: dict[str, float] = {}


class State(TypedDict):
    x: int


def chain_graph(n):
    g = StateGraph(State)

    def hop(state):
        return {"x": state["x"]}

    def first(state):
        STAMPS["first"] = perf()
        return {"x": state["x"]}

    def last(state):
        STAMPS["last"] = perf()
        return {"x": state["x"]}

    for i in range(n):
        g.add_node(f"r{i}", first if i == 0 else last if i == n - 1 else hop)
    g.add_edge(START, "r0")
    for i in range(n - 1):
        g.add_edge(f"r{i}", f"r{i + 1}")
    g.add_edge(f"r{n - 1}", END)
    return g.compile()


def per_hop_us(n, reps):
    graph = chain_graph(n)
    samples = []
    for _ in range(reps + 1):
        graph.invoke({"x": 1}, {"recursion_limit": n + 10})
        samples.append((STAMPS["last"] - STAMPS["first"]) / (n - 1) * 1e6)
    return statistics.median(samples[1:])


def latency_ms(reps):
    graph = chain_graph(1)
    samples = []
    for _ in range(reps + 3):
        t0 = perf()
        graph.invoke({"x": 1})
        samples.append((perf() - t0) * 1e3)
    samples = sorted(samples[3:])
    return statistics.median(samples), samples[int(len(samples) * 0.9)]


class FanState(TypedDict):
    n: int
    results: Annotated[list, operator.add]


class Item(TypedDict):
    i: int


def fanout_per_s(m, reps):
    g = StateGraph(FanState)

    def source(state):
        return {}

    def work(item: Item):
        return {"results": [item["i"] * 2]}

    def sink(state):
        STAMPS["sink_done"] = perf()
        assert len(state["results"]) == state["n"]
        return {}

    g.add_node("source", source)
    g.add_node("work", work)
    g.add_node("sink", sink)
    g.add_edge(START, "source")
    g.add_conditional_edges("source", lambda s: [Send("work", {"i": i}) for i in range(s["n"])],
                            ["work"])
    g.add_edge("work", "sink")
    g.add_edge("sink", END)
    graph = g.compile()
    rates = []
    for _ in range(reps + 1):
        t0 = perf()
        graph.invoke({"n": m, "results": []})
        rates.append(m / (STAMPS["sink_done"] - t0))
    return statistics.median(rates[1:])


def main():
    quick = "--quick" in sys.argv
    reps_chain, reps_lat, reps_fan = (2, 3, 2) if quick else (10, 300, 3)
    out = {"engine": "langgraph", "version": version("langgraph"),
           "python": sys.version.split()[0]}
    out["per_hop_us"] = per_hop_us(200, reps_chain)
    out["latency_ms"], out["latency_p90_ms"] = latency_ms(reps_lat)
    out["fanout_per_s"] = fanout_per_s(1000, reps_fan)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
