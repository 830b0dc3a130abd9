"""JobView: one job's graph, status, metrics, trace and debugger in a notebook cell."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import ipywidgets as widgets
import traitlets as t

from routilux_jupyter.links import dashboard_url

from ._bundle import bundle
from ._live import LiveView
from ._protocol import ACTIONS
from ._source import Snapshot, ViewSource

if TYPE_CHECKING:
    from routilux.flow import Flow
    from routilux.job_state import JobState

__all__ = ["JobView"]


class JobView(LiveView):
    """FlowView plus the job's status, per-routine metrics, a trace and a debugger panel.

    ``JobView(job_state)`` shows that job. ``JobView(flow=flow)`` follows the flow's newest job and
    its breakpoints apply to every job of the flow, so a breakpoint set before ``flow.execute()``
    stops that run, and the panel's Continue releases a cell blocked in it.
    """

    _esm = bundle("job_view.js")
    commands: ClassVar[frozenset[str]] = ACTIONS
    trace_limit: ClassVar[int] = 200

    trace = t.List(help="The newest trace events (at most 200), oldest first.").tag(sync=True)
    trace_total = t.Int(0, help="Events recorded for the job; older ones are paged on demand.").tag(sync=True)
    dashboard_url = t.Unicode(
        help=(
            "The routilux dashboard page of the server that started this kernel (empty when none). "
            "The view links the job's page there; inside Jupyter pages it prefers the page's own "
            "base URL, which also holds behind a proxy."
        )
    ).tag(sync=True)
    forks = t.List(
        t.Instance(LiveView),
        help="JobViews of the jobs re-run from this one's activations (newest last).",
    ).tag(sync=True, **widgets.widget_serialization)

    def __init__(
        self,
        job: JobState | None = None,
        *,
        flow: Flow | None = None,
        source: ViewSource | None = None,
        **kwargs: Any,
    ) -> None:
        if source is None:
            if job is None and flow is None:
                raise TypeError("JobView needs a job or a flow: JobView(job_state) or JobView(flow=flow)")
            from ._monitoring import MonitoringSource

            source = MonitoringSource(flow, job, follow_latest=job is None)
        kwargs.setdefault("dashboard_url", dashboard_url() or "")
        super().__init__(source, **kwargs)

    def _run(self, action: str, args: dict[str, Any]) -> Any:
        if action != "rerun":
            return super()._run(action, args)
        # The fork opens in a view of its own, shown under this one and linked to it.
        fork = self._source.command(action, args)
        view = JobView(fork, flow=getattr(self._source, "flow", None))
        with self._lock:
            self.forks = [*self.forks, view]
        return {"job_id": fork.job_id, "parent_job_id": fork.parent_job_id,
                "forked_from": fork.forked_from, "model_id": view.model_id}

    def _state(self, snap: Snapshot, graph: dict[str, Any]) -> dict[str, Any]:
        state = super()._state(snap, graph)
        state["trace"] = list(snap.trace)
        state["trace_total"] = snap.trace_total
        return state
