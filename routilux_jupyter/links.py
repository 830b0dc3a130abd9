"""Where the dashboard page lives, for the server (its routes) and the kernel (links to it).

No Jupyter imports: the server half and the kernel half both use this module, and they may share
only plain modules (DESIGN §2).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import quote, urlsplit, urlunsplit

from routilux_jupyter.protocol import BRIDGE_PATH, BRIDGE_URL_ENV

__all__ = ["DASHBOARD_PATH", "dashboard_url"]

#: The dashboard page, relative to the server's base_url (the job page is ``jobs/{job_id}`` below).
DASHBOARD_PATH = "routilux/"

_HTTP = {"ws": "http", "wss": "https"}


def dashboard_url(job_id: str | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """The dashboard's URL (or one job's page) on the server that started this kernel.

    Derived from the bridge URL the server put in the kernel's environment, which names the
    server's own host, port and base_url; ``None`` in a kernel no routilux server started.
    """
    bridge = (os.environ if env is None else env).get(BRIDGE_URL_ENV)
    if not bridge:
        return None
    parts = urlsplit(bridge)
    scheme = _HTTP.get(parts.scheme)
    if scheme is None or not parts.path.endswith(BRIDGE_PATH):
        return None
    path = parts.path[: -len(BRIDGE_PATH)] + DASHBOARD_PATH
    if job_id:
        path += "jobs/" + quote(job_id, safe="")
    return urlunsplit((scheme, parts.netloc, path, "", ""))
