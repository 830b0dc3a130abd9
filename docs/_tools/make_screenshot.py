"""Make docs/_static/job_view.png: a JobView of a paused job in a real JupyterLab.

Not part of the build (it needs Chromium and takes ~30 s). Run it by hand after the widgets
change:  .venv/bin/python docs/_tools/make_screenshot.py
It starts ``jupyter lab`` with the test suite's helper (tests/browser/lab.py), runs a small
notebook whose job stops at a breakpoint, and screenshots the view. The browser tests save
similar pictures under test-artifacts/browser/ (lab-debugger-paused.png is the one shipped now);
either may be copied to docs/_static/job_view.png.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from browser.lab import Lab, browser, notebook_json  # noqa: E402

CELLS = [
    "%load_ext routilux",
    '''from routilux import Flow, Routine
from routilux.monitoring import MonitoringRegistry
from routilux_jupyter.widgets import JobView

class Numbers(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("number", ["value"])
    def run(self, count=3):
        for i in range(count):
            self.emit("number", value=i)

class Square(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.square)
        self.define_event("squared", ["value"])
    def square(self, value):
        result = value * value
        self.emit("squared", value=result)

class Total(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.add)
    def add(self, value):
        shared = self.job_state.shared_data
        shared["total"] = shared.get("total", 0) + value

flow = Flow("squares")
flow.add_routine(Numbers(), "numbers")
flow.add_routine(Square(), "square")
flow.add_routine(Total(), "total")
flow.connect("numbers", "number", "square")
flow.connect("square", "squared", "total")
registry = MonitoringRegistry.get_instance()
registry.breakpoint_manager.set_breakpoint(flow_id="squares", routine_id="total",
                                           condition="value > 20")
job = flow.start("numbers", {"count": 8})
registry.debug_session_store.get_or_create(job.job_id).wait_until_paused(10)
JobView(job)''',
]


def main() -> None:
    out = ROOT / "docs" / "_static" / "job_view.png"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "shot.ipynb").write_text(notebook_json(CELLS))
        with Lab(root) as lab, browser(width=1300, height=1000) as page:
            page.goto(lab.page_url("lab/tree/shot.ipynb"))
            page.wait_for_function("window.jupyterapp && window.jupyterapp.shell", timeout=60_000)
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            page.wait_for_function(
                "() => { const p = window.jupyterapp.shell.currentWidget;"
                " return p && p.sessionContext && p.sessionContext.session &&"
                " p.sessionContext.session.kernel &&"
                " p.sessionContext.session.kernel.connectionStatus === 'connected'; }",
                timeout=60_000,
            )
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            view = page.locator(".rx-job-view").first
            view.wait_for(timeout=60_000)
            time.sleep(2)  # let the coalesced updates and the layout settle for the picture
            page.evaluate("window.jupyterapp.commands.execute('notebook:hide-all-cell-code')")
            time.sleep(1)
            view.screenshot(path=str(out))
            errors = getattr(page, "errors", [])
            if errors:
                print("browser console errors:", *errors, sep="\n  ")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
