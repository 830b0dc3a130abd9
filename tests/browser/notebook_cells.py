"""The notebook the browser tests run: a five-routine flow, its FlowView, a JobView, a blocking run."""

from __future__ import annotations

FLOW_CELL = '''from routilux import Flow, Routine

class Source(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("out", ["value"])

    def run(self, n=3):
        for i in range(n):
            self.emit("out", value=i)

class Relay(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("inp", self.run)
        self.define_event("out", ["value"])

    def run(self, value):
        self.emit("out", value=value)

class Sink(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("inp", self.run)

    def run(self, value):
        total = value * 10
        self.job_state.shared_data.setdefault("seen", []).append(total)

flow = Flow("browser-demo")
flow.add_routine(Source(), "source")
for rid in ("clean", "enrich", "score"):
    flow.add_routine(Relay(), rid)
flow.add_routine(Sink(), "sink")
flow.connect("source", "out", "clean", "inp")
flow.connect("clean", "out", "enrich", "inp")
flow.connect("clean", "out", "score", "inp")
flow.connect("enrich", "out", "sink", "inp")
flow.connect("score", "out", "sink", "inp")
flow'''

ROUTINES = ["source", "clean", "enrich", "score", "sink"]

CELLS = [
    "%load_ext routilux",
    FLOW_CELL,
    "from routilux_jupyter.widgets import JobView\nview = JobView(flow=flow)\nview",
    # Blocks at the breakpoint the test sets through the widget; the widget's Continue releases it.
    'job = flow.execute("source", {"n": 3}, timeout=120)\nprint("execute returned", job.status, sorted(job.shared_data["seen"]))',
]

RELEASED_TEXT = "execute returned completed [0, 0, 10, 10, 20, 20]"
