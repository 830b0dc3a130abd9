"""JobView knows its dashboard page from the bridge URL its server gave the kernel."""

from __future__ import annotations

from typing import Any

import pytest

from routilux_jupyter.widgets import JobView

from .flows import source_sink


def test_a_bridged_kernel_gives_the_view_its_dashboard_url(
    comms: Any, coalescer: Any, monitoring: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTILUX_BRIDGE_URL", "ws://127.0.0.1:8888/lab/routilux/bridge")
    flow = source_sink()  # views find a job's flow through a weak reference: keep it
    job = flow.execute("source", {"n": 1})
    view = JobView(job, coalescer=coalescer)
    try:
        assert view.dashboard_url == "http://127.0.0.1:8888/lab/routilux/"
    finally:
        view.close()


def test_without_a_routilux_server_there_is_no_link(
    comms: Any, coalescer: Any, monitoring: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROUTILUX_BRIDGE_URL", raising=False)
    flow = source_sink()  # views find a job's flow through a weak reference: keep it
    job = flow.execute("source", {"n": 1})
    view = JobView(job, coalescer=coalescer)
    try:
        assert view.dashboard_url == ""
    finally:
        view.close()
