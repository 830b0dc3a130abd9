"""The views' shared core: comm routing, failures shown in the view, refresh of every view."""

from __future__ import annotations

from typing import Any

from routilux_jupyter.widgets import FlowView, JobView, refresh_views
from routilux_jupyter.widgets._monitoring import MonitoringSource

from .flows import source_sink
from .recording import RecordingComm, command


class SubshellComm(RecordingComm):
    """A comm with ipykernel 7.4's routing hook: replies go where the comm last sent from."""

    def _reply_subshell_for(self, data: Any, default: str | None) -> str | None:
        return None  # ipykernel: the main shell, after the view was created in a cell


def test_commands_stay_on_the_subshell_the_front_end_chose(monkeypatch: Any, comms: Any, coalescer: Any, monitoring: Any) -> None:
    import comm as comm_module

    monkeypatch.setattr(comm_module, "create_comm", lambda **kw: SubshellComm(**kw))
    view = JobView(flow=source_sink(), coalescer=coalescer)
    try:
        assert view.comm._reply_subshell_for({"method": "custom"}, "subshell-7") == "subshell-7"
    finally:
        view.close()


class FlakySource(MonitoringSource):
    """A real source whose reads fail while ``broken`` is set."""

    broken = False

    def snapshot(self, trace_limit: int) -> Any:
        if self.broken:
            raise OSError("disk on fire")
        return super().snapshot(trace_limit)


def test_a_failing_read_shows_in_the_view_and_clears_when_it_recovers(comms: Any, coalescer: Any, monitoring: Any) -> None:
    flow = source_sink()
    source = FlakySource(flow, None, follow_latest=True)
    view = JobView(source=source, coalescer=coalescer)
    try:
        source.broken = True
        view.refresh()
        assert view.error == "could not read the job's state: OSError: disk on fire"
        assert command(view, "refresh")["ok"]  # the comm still answers
        source.broken = False
        view.refresh()
        assert view.error == ""
    finally:
        view.close()


def test_refresh_views_pushes_every_open_view(comms: Any, coalescer: Any, monitoring: Any) -> None:
    flow = source_sink()
    views = [FlowView(flow, coalescer=coalescer), JobView(flow=flow, coalescer=coalescer)]
    try:
        job = flow.execute("source", {"n": 2}, timeout=5)
        assert refresh_views() >= 2
        for view in views:
            assert view.job["job_id"] == job.job_id and view.job["status"] == "completed"
    finally:
        for view in views:
            view.close()


def test_closed_views_stop_listening(comms: Any, coalescer: Any, monitoring: Any) -> None:
    flow = source_sink()
    view = FlowView(flow, coalescer=coalescer)
    assert monitoring.event_manager.subscriber_count() >= 1
    before = monitoring.event_manager.subscriber_count()
    view.close()
    assert monitoring.event_manager.subscriber_count() == before - 1
    assert view.comm is None
