"""Time travel in a real JupyterLab page: open an activation, edit its input, re-run, compare.

The notebook runs a five-routine flow whose third routine fails on an item without a price, and
shows that job's JobView. Through the view: open price's activation from the trace, hit "Re-run
from here", see bad JSON refused with the reason, run the fixed input, watch the fork's own
JobView (linked to its parent) complete, then compare the two jobs on the graph.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .lab import CHROMIUM, KERNEL_IDLE, RUN_CELL, Lab, browser, notebook_json

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is missing: make browser-deps"),
]

TIMEOUT = 60_000

FLOW = '''from routilux import Flow, Routine

class Step(Routine):
    def __init__(self, fn, entry=False):
        super().__init__()
        self.fn = fn
        self.define_slot("trigger" if entry else "inp", self.run)
        self.define_event("out", ["items"])

    def run(self, items):
        out = self.fn(items)
        if out is not None:
            self.emit("out", items=out)

steps = {
    "load": lambda items: items,
    "clean": lambda items: [{**i, "name": i["name"].strip()} for i in items],
    "price": lambda items: [{**i, "amount": i["price"] * i["qty"]} for i in items],
    "total": lambda items: [{"total": sum(i["amount"] for i in items)}],
    "report": lambda items: None,
}
flow = Flow("tt-browser")
for k, (rid, fn) in enumerate(steps.items()):
    flow.add_routine(Step(fn, entry=k == 0), rid)
names = list(steps)
for a, b in zip(names, names[1:]):
    flow.connect(a, "out", b, "inp")
broken = flow.execute("load", {"items": [{"name": " tea", "price": 2.5, "qty": 2},
                                          {"name": "jam ", "price": None, "qty": 1}]}, timeout=30)
print("broken run", broken.status)'''

CELLS = [
    "%load_ext routilux",
    FLOW,
    "from routilux_jupyter.widgets import JobView\nview = JobView(broken)\nview",
]
FIXED = {"items": [{"name": "tea", "price": 2.5, "qty": 2}, {"name": "jam", "price": 4.0, "qty": 1}]}


def test_rerun_from_an_activation_and_compare_in_lab(tmp_path: Path, artifacts: Path) -> None:
    (tmp_path / "tt.ipynb").write_text(notebook_json(CELLS))
    with Lab(tmp_path) as lab, browser() as page:
        page.goto(lab.page_url("lab/tree/tt.ipynb"))
        page.wait_for_function(KERNEL_IDLE, timeout=TIMEOUT)
        for i in range(len(CELLS)):
            page.evaluate(RUN_CELL, i)
        view = page.locator(".rx-job-view").first
        view.locator('.rx-status[data-status="failed"]').wait_for(timeout=TIMEOUT)

        # The trace row of price's activation opens its recorded input and outputs.
        view.locator('button[data-tab="trace"]').click()
        row = view.locator("tr.rx-ev-routine_start", has_text="price")
        row.locator(".rx-open-activation").click()
        travel = view.locator(".rx-timetravel").first
        travel.locator(".rx-tt-input").wait_for(timeout=TIMEOUT)
        shown = json.loads(travel.locator(".rx-tt-input").inner_text())
        assert shown["items"][1] == {"name": "jam", "price": None, "qty": 1}
        assert "failed" in travel.locator(".rx-tt-head").inner_text()
        view.screenshot(path=str(artifacts / "tt-activation.png"))

        # Re-run from here: bad JSON shows the reason, the fixed input starts a fork.
        travel.locator(".rx-tt-edit").click()
        editor = travel.locator(".rx-tt-editor")
        editor.fill('{"items": [')
        travel.locator(".rx-tt-run").click()
        assert "Not valid JSON" in travel.locator(".rx-tt-reason").inner_text()
        editor.fill(json.dumps(FIXED, indent=1))
        travel.locator(".rx-tt-run").click()
        travel.locator(".rx-tt-started").wait_for(timeout=TIMEOUT)

        # The fork opens in its own JobView under the parent's, linked to it, and completes.
        fork = travel.locator(".rx-tt-fork .rx-job-view").first
        fork.locator('.rx-status[data-status="completed"]').wait_for(timeout=TIMEOUT)
        fork.locator('button[data-tab="timetravel"]').click()
        assert "Fork of job" in fork.locator(".rx-tt-parent").inner_text()
        view.screenshot(path=str(artifacts / "tt-fork-completed.png"))

        # Compare with the fork: the graph is coloured by difference, payloads side by side.
        travel.locator(".rx-tt-compare-with").first.click()
        travel.locator(".rx-tt-pick").first.locator("option").first.wait_for(state="attached", timeout=TIMEOUT)
        travel.locator(".rx-tt-compare").first.click()
        travel.locator(".rx-tt-table").first.wait_for(timeout=TIMEOUT)
        assert "price" in travel.locator(".rx-tt-summary").first.inner_text()
        origin = view.locator('.rx-graph-box').first.locator('.rx-node.rx-diff-origin')
        assert origin.evaluate_all("ns => ns.map(n => n.dataset.routine)") == ["price"]
        row = travel.locator('.rx-tt-table tr[data-routine="price"]').first
        assert "items[1].price" in row.inner_text()
        assert "null" in row.locator(".rx-tt-a").inner_text() and "4" in row.locator(".rx-tt-b").inner_text()
        view.screenshot(path=str(artifacts / "tt-compare.png"))

        assert page.locator(".rx-error").count() == 0, page.locator(".rx-error").all_inner_texts()
        assert page.errors == [], page.errors  # type: ignore[attr-defined]
