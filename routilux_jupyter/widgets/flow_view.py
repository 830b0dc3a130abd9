"""FlowView: a flow's live graph in a notebook cell."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ._bundle import bundle
from ._live import LiveView
from ._source import ViewSource

if TYPE_CHECKING:
    from routilux.flow import Flow
    from routilux.job_state import JobState

__all__ = ["FlowView"]


class FlowView(LiveView):
    """The flow's graph: routines coloured by state, edges lit as events pass, metrics on click.

    It follows ``job`` when given, otherwise the flow's most recent job (a new ``flow.start()``
    switches the view to the new job).
    """

    _esm = bundle("flow_view.js")
    commands: ClassVar[frozenset[str]] = frozenset({"refresh"})

    def __init__(
        self,
        flow: Flow | None = None,
        *,
        job: JobState | None = None,
        source: ViewSource | None = None,
        **kwargs: Any,
    ) -> None:
        if source is None:
            if flow is None:
                raise TypeError("FlowView needs a flow: FlowView(flow) or FlowView(flow, job=job_state)")
            from ._monitoring import MonitoringSource

            source = MonitoringSource(flow, job, follow_latest=job is None)
        super().__init__(source, **kwargs)
