"""A notebook run by nbclient in a real kernel saves the views' synced state (nodes, statuses, metrics)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.timeout(180)

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

CELLS = [
    "%load_ext routilux",
    '''from routilux import Flow, Routine

class Numbers(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("out", ["value"])

    def run(self, n=4):
        for i in range(n):
            self.emit("out", value=i)

class Square(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("inp", self.run)
        self.define_event("out", ["value"])

    def run(self, value):
        self.emit("out", value=value * value)

class Collect(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("inp", self.run)

    def run(self, value):
        self.job_state.shared_data.setdefault("squares", []).append(value)

flow = Flow("nbclient-demo")
flow.add_routine(Numbers(), "numbers")
flow.add_routine(Square(), "square")
flow.add_routine(Collect(), "collect")
flow.connect("numbers", "out", "square", "inp")
flow.connect("square", "out", "collect", "inp")
flow''',
    'job = flow.execute("numbers", {"n": 4}, timeout=30)\njob',
    "from routilux_jupyter.widgets import refresh_views\nrefresh_views()",
]


def models_by_class(nb: Any) -> dict[str, list[dict[str, Any]]]:
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    found: dict[str, list[dict[str, Any]]] = {}
    for model_id, model in state.items():
        anywidget_id = model["state"].get("_anywidget_id", "")
        if anywidget_id.startswith("routilux_jupyter.widgets."):
            found.setdefault(anywidget_id.rsplit(".", 1)[-1], []).append({"id": model_id, **model["state"]})
    return found


def test_saved_notebook_holds_the_views_state(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(nb, kernel_name="python3", timeout=60, store_widget_state=True,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    path = tmp_path / "views.ipynb"
    nbformat.write(nb, path)
    saved = nbformat.read(path, as_version=4)

    views = models_by_class(saved)
    assert set(views) == {"FlowView", "JobView"}, views.keys()
    (flow_view,) = views["FlowView"]
    (job_view,) = views["JobView"]

    # The cells' outputs point at those models, next to the text fallbacks.
    flow_out = saved.cells[1].outputs[0]["data"]
    job_out = saved.cells[2].outputs[0]["data"]
    assert flow_out[WIDGET_VIEW]["model_id"] == flow_view["id"]
    assert job_out[WIDGET_VIEW]["model_id"] == job_view["id"]
    assert "text/html" in flow_out and "text/plain" in job_out

    for view in (flow_view, job_view):
        assert [n["id"] for n in view["graph"]["nodes"]] == ["numbers", "square", "collect"]
        assert len(view["graph"]["edges"]) == 2
        assert view["job"]["status"] == "completed"
        assert view["routine_states"] == {"numbers": "completed", "square": "completed", "collect": "completed"}
        assert view["routine_metrics"]["square"]["execution_count"] == 4
        assert view["routine_metrics"]["collect"]["execution_count"] == 4
        assert sorted(view["edge_hits"].values()) == [4, 4]
    assert job_view["metrics"]["total_event_emits"] == 8
    assert job_view["trace"][-1]["event_type"] == "job_completed"
    assert job_view["trace_total"] == len(job_view["trace"])
    assert job_view["_esm"].count("export default") == 1  # the ES module travels with the notebook
