"""Kernel cells of the client tests: a flow whose source waits on a gate the test opens."""

from __future__ import annotations

LOAD = "%load_ext routilux"

# ``gate`` is looked up when the source runs, so a test re-arms it with ``gate = threading.Event()``
# and opens it with ``gate.set()`` from another cell while the job waits on its worker thread.
FLOW = '''
import threading
from routilux import Flow, Routine

gate = threading.Event()

class Source(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.go)
        self.define_event("out", ["x"])

    def go(self, n=5):
        assert gate.wait(60), "the test never opened the gate"
        for i in range(n):
            self.emit("out", x=i)

class Sink(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("inp", self.take)

    def take(self, x):
        shared = self.job_state.shared_data
        shared["total"] = shared.get("total", 0) + x

class Fragile(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("inp", self.take)

    def take(self, x):
        if x == 3:
            raise ValueError(f"cannot take {x}")

def make_flow(flow_id):
    flow = Flow(flow_id)
    flow.add_routine(Source(), "src")
    flow.add_routine(Sink(), "sink")
    flow.connect("src", "out", "sink", "inp")
    return flow

def make_failing_flow(flow_id):
    flow = Flow(flow_id)
    flow.add_routine(Source(), "src")
    flow.add_routine(Fragile(), "sink")
    flow.connect("src", "out", "sink", "inp")
    return flow
'''


def start_gated_job(flow_id: str, n: int = 5) -> str:
    """A cell that re-arms the gate and starts a job of ``flow_id`` (it waits at the gate)."""
    return (f"gate = threading.Event()\nflow = make_flow({flow_id!r})\n"
            f"job = flow.start('src', {{'n': {n}}})\nprint(job.job_id)")
