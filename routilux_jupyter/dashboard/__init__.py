"""The dashboard page's front end: hand-written ES modules served as they are (no Node build).

The page (``{base_url}routilux/``, served by :mod:`routilux_jupyter.server.dashboard`) imports the
modules in ``static/`` and, for a job's page, the notebook views' own modules from
``routilux_jupyter/widgets/static`` over the REST and WebSocket API instead of a widget comm.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["STATIC", "VIEWS_STATIC"]

STATIC = Path(__file__).parent / "static"
# The notebook views' modules, by path: importing routilux_jupyter.widgets would load anywidget
# into the server process, which only serves these files.
VIEWS_STATIC = Path(__file__).parent.parent / "widgets" / "static"
