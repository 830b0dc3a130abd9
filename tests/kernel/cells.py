"""Notebook cells the kernel-bridge tests run in real kernels."""

from __future__ import annotations

LOAD = "%load_ext routilux"

# Routines: a source that emits ``n`` items (``delay`` seconds apart) into a sink.
ROUTINES = '''
import time
from routilux import Flow, Routine
from routilux.monitoring import MonitoringRegistry

class Source(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.go)
        self.define_event("out", ["x"])

    def go(self, n=5, delay=0.0, **_):
        for i in range(n):
            self.emit("out", x=i)
            if delay:
                time.sleep(delay)

class Sink(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("inp", self.take)

    def take(self, x):
        seen = x * 10
        return seen

def make_flow(flow_id, strategy="sequential"):
    flow = Flow(flow_id, execution_strategy=strategy, max_workers=2)
    flow.add_routine(Source(), "src")
    flow.add_routine(Sink(), "sink")
    flow.connect("src", "out", "sink", "inp")
    return flow
'''


def flow_with_breakpoint(flow_id: str, condition: str = "x == 2") -> str:
    """A cell defining a flow with a conditional breakpoint on the sink's slot."""
    return ROUTINES + f'''
flow = make_flow({flow_id!r})
bp = MonitoringRegistry.get_instance().breakpoint_manager.set_breakpoint(
    flow_id={flow_id!r}, routine_id="sink", slot_name="inp", condition={condition!r})
'''


def plain_flow(flow_id: str, strategy: str = "sequential") -> str:
    return ROUTINES + f"\nflow = make_flow({flow_id!r}, {strategy!r})\n"
