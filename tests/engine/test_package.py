"""The package surface: import boundary, exports, flow listeners, display fallback."""

from __future__ import annotations

import subprocess
import sys

import routilux
from routilux import Flow
from routilux.display import flow_html, job_html, register_renderer

from .helpers import pipeline

FORBIDDEN = ["tornado", "jupyter_server", "jupyter_client", "IPython", "ipywidgets",
             "anywidget", "traitlets", "ipykernel"]


def test_import_routilux_loads_no_jupyter_module() -> None:
    code = (
        "import sys, routilux, routilux.dsl, routilux.registry\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_all_is_sorted_and_complete() -> None:
    assert routilux.__all__ == sorted(routilux.__all__)
    for name in routilux.__all__:
        assert hasattr(routilux, name), name
    assert callable(routilux.load_ipython_extension)


def test_flow_listeners_see_every_new_flow() -> None:
    seen: list[Flow] = []
    undo = routilux.add_flow_listener(seen.append)
    try:
        flow = Flow("listened")
    finally:
        undo()
    Flow("after-undo")
    assert seen == [flow]


def test_describe_has_the_flow_shape() -> None:
    d = pipeline().describe()
    assert set(d) == {"flow_id", "routines", "connections", "execution_strategy", "max_workers",
                      "executor"}
    assert d["routines"]["ingest"] == {"routine_id": "ingest", "class_name": "Ingest",
                                       "slots": ["trigger"], "events": ["output"], "config": {}}
    assert d["connections"][0] == {
        "connection_id": "ingest.output->process.trigger", "source_routine": "ingest",
        "source_event": "output", "target_routine": "process", "target_slot": "trigger",
        "param_mapping": {}}


def test_renderer_registration_and_fallback() -> None:
    flow = pipeline()
    plain = flow._repr_mimebundle_()
    assert "ingest" in plain["text/html"] and plain["text/plain"].startswith("Flow(")
    undo = register_renderer("flow", lambda f: {"text/plain": f"custom {f.flow_id}"})
    try:
        assert flow._repr_mimebundle_() == {"text/plain": "custom pipeline"}
    finally:
        undo()

    def broken(_: Flow) -> None:
        raise RuntimeError("widget bug")

    undo = register_renderer("flow", broken)
    try:
        assert "text/html" in flow._repr_mimebundle_()
    finally:
        undo()
    assert flow._repr_mimebundle_() == plain


def test_default_html_renderers_are_public_and_escape_what_they_show() -> None:
    # Renderers (the widgets) reuse these as their text/html fallback.
    import routilux.display as display

    assert {"flow_html", "job_html"} <= set(display.__all__)
    flow = pipeline()
    assert flow_html(flow) == flow._repr_mimebundle_()["text/html"]
    assert "routine ingest" in flow_html(flow)
    job = flow.execute("ingest", {"data": [1]}, timeout=5)
    job.error = "<b>bad</b>"
    html_text = job_html(job)
    assert job.job_id in html_text and "&lt;b&gt;bad&lt;/b&gt;" in html_text
    assert html_text == job._repr_mimebundle_()["text/html"]
