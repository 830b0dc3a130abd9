"""Fixtures for the widget tests: a recording comm (the only fake) and a private coalescer."""

from __future__ import annotations

from typing import Any, Iterator

import comm
import ipywidgets.widgets.widget as widget_module
import pytest

from routilux_jupyter.widgets._coalescer import Coalescer

from routilux_jupyter.widgets._live import LiveView

from .recording import RecordingComm


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[RecordingComm]]:
    """Every comm a widget opens during the test, in order; checks no widget outlives the test."""
    opened: list[RecordingComm] = []

    def create_comm(**kwargs: Any) -> RecordingComm:
        c = RecordingComm(**kwargs)
        opened.append(c)
        return c

    monkeypatch.setattr(comm, "create_comm", create_comm)
    before = set(widget_module._instances)
    yield opened
    new = {k: w for k, w in list(widget_module._instances.items()) if k not in before}
    leaked = [k for k, w in new.items() if isinstance(w, LiveView)]
    for widget in new.values():  # views and their Layout children
        widget.close()
    assert not leaked, f"views left open by the test: {leaked}"


@pytest.fixture
def coalescer() -> Iterator[Coalescer]:
    """A private 10 Hz coalescer whose thread is stopped after the test."""
    c = Coalescer(hz=10)
    yield c
    c.stop()


@pytest.fixture
def monitoring() -> Iterator[Any]:
    """The process-wide monitoring registry, enabled; breakpoints are cleared afterwards."""
    from routilux.monitoring import MonitoringRegistry

    registry = MonitoringRegistry.get_instance()
    was_enabled = registry.is_enabled()
    registry.enable()
    yield registry
    registry.breakpoint_manager.clear_breakpoints()
    if not was_enabled:
        registry.disable()
