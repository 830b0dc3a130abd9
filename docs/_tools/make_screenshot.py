"""Make docs/_static/job_view.png: a JobView of a paused job in a real JupyterLab.

Not part of the build (it needs Chromium and takes ~30 s). Run it by hand after the widgets
change:  .venv/bin/python docs/_tools/make_screenshot.py [OUT.png]
It starts ``jupyter lab`` with the browser tests' helper (tests/browser/lab.py), runs their
five-routine flow (tests/browser/notebook_cells.py) with a job stopped at a breakpoint, and
screenshots the view. The browser tests save similar pictures under test-artifacts/browser/
(lab-debugger-paused.png is the one shipped now); either may be copied to docs/_static/job_view.png.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.browser.lab import KERNEL_IDLE, Lab, browser, notebook_json  # noqa: E402
from tests.browser.notebook_cells import FLOW_CELL  # noqa: E402

CELLS = [
    "%load_ext routilux",
    FLOW_CELL,
    '''from routilux.monitoring import MonitoringRegistry
from routilux_jupyter.widgets import JobView

registry = MonitoringRegistry.get_instance()
registry.breakpoint_manager.set_breakpoint(flow_id="browser-demo", routine_id="sink",
                                           condition="value == 2")
job = flow.start("source", {"n": 3})
registry.debug_session_store.get_or_create(job.job_id).wait_until_paused(10)
JobView(job)''',
]


def main(out: Path = ROOT / "docs" / "_static" / "job_view.png") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "shot.ipynb").write_text(notebook_json(CELLS))
        with Lab(root) as lab, browser(width=1300, height=1000) as page:
            page.goto(lab.page_url("lab/tree/shot.ipynb"))
            page.wait_for_function(KERNEL_IDLE, timeout=60_000)
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
    main(*(Path(arg).resolve() for arg in sys.argv[1:2]))
