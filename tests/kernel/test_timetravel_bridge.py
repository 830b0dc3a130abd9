"""Time travel for a kernel-owned job, through a real server and the kernel bridge."""

from __future__ import annotations

import copy
import os
import signal
from typing import Any

from cells import LOAD
from harness import JupyterServer, Kernel, wait_for

ORDER_FLOW = '''
from collections import Counter
from routilux import Flow, Routine

CALLS = Counter()

class Step(Routine):
    def __init__(self, name, fn, entry=False):
        super().__init__()
        self.name, self.fn = name, fn
        self.define_slot("trigger" if entry else "inp", self.run)
        self.define_event("out", ["items"])

    def run(self, items):
        CALLS[self.name] += 1
        out = self.fn(items)
        if out is not None:
            self.emit("out", items=out)

steps = [
    ("load", lambda items: items),
    ("clean", lambda items: [{**i, "name": i["name"].strip()} for i in items]),
    ("price", lambda items: [{**i, "amount": i["price"] * i["qty"]} for i in items]),
    ("total", lambda items: [{"total": sum(i["amount"] for i in items)}]),
    ("report", lambda items: None),
]
flow = Flow("tt_orders")
for k, (name, fn) in enumerate(steps):
    flow.add_routine(Step(name, fn, entry=(k == 0)), name)
for (a, _), (b, _) in zip(steps, steps[1:]):
    flow.connect(a, "out", b, "inp")
broken = flow.execute("load", {"items": [{"name": " tea", "price": 2.5, "qty": 2},
                                          {"name": "jam ", "price": None, "qty": 1}]}, timeout=10)
print(broken.status, broken.job_id)
'''


def test_rerun_of_a_kernel_job_goes_through_the_bridge(
    server: JupyterServer, start_kernel: Any
) -> None:
    kernel: Kernel = start_kernel("nb/timetravel.ipynb")
    kernel.run(LOAD)
    status, job_id = kernel.run(ORDER_FLOW).stdout.split()[-2:]
    assert status == "failed"
    wait_for(lambda: server.call("GET", f"api/jobs/{job_id}")[0] == 200, 5, "the kernel's job")
    acts = server.api("GET", f"jobs/{job_id}/activations")["activations"]
    assert [a["routine_id"] for a in acts] == ["load", "clean", "price"]
    price = acts[2]
    data = copy.deepcopy(price["input"])
    data["items"][1]["price"] = 4.0
    kernel.run("CALLS.clear()")

    fork = server.api("POST", f"jobs/{job_id}/rerun", {"seq": price["seq"], "data": data},
                      expect=201)
    assert fork["owner"]["kernel_id"] == kernel.kernel_id
    wait_for(lambda: server.api("GET", f"jobs/{fork['job_id']}")["status"] == "completed", 10,
             "the fork to complete")
    got = server.api("GET", f"jobs/{fork['job_id']}")
    assert got["parent_job_id"] == job_id
    assert got["forked_from"] == {"job_id": job_id, "seq": price["seq"]}
    assert kernel.value("dict(CALLS)") == {"price": 1, "total": 1, "report": 1}
    # The fork is a JobState in the kernel too, linked to its parent in Python.
    linked = kernel.value("__import__('routilux').monitoring.MonitoringRegistry.get_instance()"
                          f".monitor_collector.job_state({fork['job_id']!r}).forked_from")
    assert linked == {"job_id": job_id, "seq": price["seq"]}
    diff = server.api("GET", f"jobs/{job_id}/diff/{fork['job_id']}")
    assert diff["origins"] == ["price"]
    assert diff["routines"][0]["first_difference"]["path"] == "items[1].price"
    bad = server.api("POST", f"jobs/{job_id}/rerun", {"seq": price["seq"], "data": {"x": 1}},
                     expect=400)
    assert bad["detail"]["field"] == "data"
    replay = server.api("POST", f"jobs/{job_id}/replay", expect=201)
    wait_for(lambda: server.api("GET", f"jobs/{replay['job_id']}")["status"] == "failed", 10,
             "the replay to fail like the original")
    assert server.api("PUT", f"jobs/{job_id}", {"pinned": True, "label": "bug"})["pinned"]

    # The kernel dies: its jobs stay readable, but the history is read-only.
    os.kill(kernel.value("__import__('os').getpid()"), signal.SIGKILL)
    wait_for(lambda: server.call("POST", f"api/jobs/{job_id}/rerun", {"seq": price["seq"]})[0]
             == 503, 10, "re-runs of the dead kernel's job to answer 503")
    code, err = server.call("POST", f"api/jobs/{job_id}/replay")
    assert code == 503 and "read-only" in err["message"]
    assert server.api("GET", f"jobs/{job_id}")["pinned"] is True
    stored = server.api("GET", f"jobs/{job_id}/activations")["activations"]
    assert [a["routine_id"] for a in stored] == ["load", "clean", "price"]
