"""Notebook views of routilux flows and jobs: anywidget front ends shipped as ES modules.

``FlowView(flow)`` draws the flow's live graph; ``JobView(job_state)`` (or ``JobView(flow=flow)``
to follow the flow's newest job) adds status, metrics, a trace and a debugger panel.
``install_display()`` makes flows and jobs display as these views when they end a cell;
``refresh_views()`` pushes every view's state at once (for notebooks run in batch).
"""

from ._display import install_display
from ._flows import remember_flows
from ._live import refresh_views
from .flow_view import FlowView
from .job_view import JobView

# Finished jobs keep only their flow's id; remember flows from now on to draw their graph.
remember_flows()

__all__ = ["FlowView", "JobView", "install_display", "refresh_views"]
