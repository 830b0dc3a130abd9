"""Rich display: flows and jobs ending a cell become views, with text fallbacks kept."""

from __future__ import annotations

from typing import Any

import pytest

from routilux.display import flow_html, job_html
from routilux_jupyter.kernel.display_setup import disable_display, enable_display
from routilux_jupyter.widgets import install_display
from routilux_jupyter.widgets._display import WIDGET_MIME
from ipywidgets.widgets.widget import _instances

from .flows import source_sink


@pytest.fixture
def installed(comms: Any, monitoring: Any):
    undo = install_display()
    yield
    undo()


def test_a_flow_displays_as_a_flow_view_with_fallbacks(installed: Any) -> None:
    flow = source_sink()
    bundle = flow._repr_mimebundle_()
    assert bundle["text/plain"].startswith("Flow(")
    assert bundle["text/html"] == flow_html(flow)   # the engine's public default table
    view = _instances[bundle[WIDGET_MIME]["model_id"]]
    assert type(view).__name__ == "FlowView"
    assert {n["id"] for n in view.graph["nodes"]} == {"source", "sink"}
    view.close()


def test_a_job_displays_as_a_job_view_with_fallbacks(installed: Any) -> None:
    flow = source_sink()
    job = flow.execute("source", {"n": 1}, timeout=5)
    bundle = job._repr_mimebundle_()
    assert job.job_id in bundle["text/plain"]
    assert bundle["text/html"] == job_html(job) and "completed" in bundle["text/html"]
    view = _instances[bundle[WIDGET_MIME]["model_id"]]
    assert type(view).__name__ == "JobView"
    assert view.job["status"] == "completed"
    view.close()


def test_undo_restores_the_plain_rendering(comms: Any, monitoring: Any) -> None:
    undo = install_display()
    undo()
    bundle = source_sink()._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}


def test_load_ext_part_enables_monitoring_and_display_once(comms: Any) -> None:
    from routilux.monitoring import MonitoringRegistry

    registry = MonitoringRegistry.get_instance()
    was = registry.is_enabled()
    try:
        enable_display()
        enable_display()  # idempotent
        assert registry.is_enabled()
        bundle = source_sink()._repr_mimebundle_()
        _instances[bundle[WIDGET_MIME]["model_id"]].close()
        disable_display()
        assert WIDGET_MIME not in source_sink()._repr_mimebundle_()
    finally:
        disable_display()
        if not was:
            registry.disable()
