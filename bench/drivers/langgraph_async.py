"""LangGraph's async API on the executor bench's IO workload, in its own venv. Prints JSON.

``ainvoke`` of a graph that ``Send``s one async ``fetch`` node per item; each awaits
``asyncio.sleep(delay)`` (an IO wait) and the results are reduced into a list. Seconds from
``ainvoke`` until it returned, and the process's peak thread count while it ran.
"""

from __future__ import annotations

import asyncio
import json
import operator
import sys
import threading
import time
from importlib.metadata import version
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send


class State(TypedDict):
    n: int
    done: Annotated[list, operator.add]


def build(delay: float):
    def fan(state):
        return [Send("fetch", {"i": i}) for i in range(state["n"])]

    async def fetch(state):
        await asyncio.sleep(delay)
        return {"done": [state["i"]]}

    g = StateGraph(State)
    g.add_node("fetch", fetch)
    g.add_conditional_edges(START, fan, ["fetch"])
    g.add_edge("fetch", END)
    return g.compile()


async def main(n: int, delay: float) -> dict:
    graph = build(delay)
    await graph.ainvoke({"n": 10, "done": []})   # warm-up
    peak = threading.active_count()
    stop = False

    async def sample():
        nonlocal peak
        while not stop:
            peak = max(peak, threading.active_count())
            await asyncio.sleep(0.01)

    sampler = asyncio.ensure_future(sample())
    t0 = time.perf_counter()
    out = await graph.ainvoke({"n": n, "done": []})
    elapsed = time.perf_counter() - t0
    stop = True
    await sampler
    assert len(out["done"]) == n
    return {"version": version("langgraph"), "seconds": elapsed, "threads": peak}


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(json.dumps(asyncio.run(main(n, 0.2))))
