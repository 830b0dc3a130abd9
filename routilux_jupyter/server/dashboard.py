"""The dashboard page: ``{base_url}routilux/`` (all flows and jobs) and ``routilux/jobs/{id}``.

Handlers only render a small HTML shell and serve the ES modules; everything the page shows comes
from the REST and WebSocket API in the browser. Both are Jupyter pages: not logged in -> redirect
to the login page (403 for other methods), logged in without ``read`` on ``routilux`` -> 403.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from routilux_jupyter.dashboard import STATIC as DASHBOARD_STATIC
from routilux_jupyter.dashboard import VIEWS_STATIC
from routilux_jupyter.links import DASHBOARD_PATH
from routilux_jupyter.server.base import AUTH_RESOURCE

__all__ = ["dashboard_routes"]

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{static}views/routilux.css">
<link rel="stylesheet" href="{static}dashboard/dashboard.css">
</head>
<body class="rxd" data-base-url="{base_url}" data-api-prefix="{api_prefix}" data-xsrf="{xsrf}"
      data-job-id="{job_id}">
<noscript>The routilux dashboard needs JavaScript.</noscript>
<script type="module" src="{static}dashboard/dashboard.js"></script>
</body>
</html>
"""


class DashboardPageHandler(JupyterHandler):
    """``GET {base_url}routilux/`` and ``GET {base_url}routilux/jobs/{job_id}``."""

    auth_resource = AUTH_RESOURCE

    def initialize(self, api_prefix: str) -> None:
        self.api_prefix = api_prefix

    @web.authenticated
    @authorized
    def get(self, job_id: str | None = None) -> None:
        base = self.base_url
        # Reading xsrf_token also sets the _xsrf cookie the page's writes must echo back.
        xsrf = self.xsrf_token.decode("ascii")
        title = f"routilux job {job_id}" if job_id else "routilux dashboard"
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-cache")
        # Every value is attribute-escaped: a job id comes straight from the URL.
        self.finish(_PAGE.format(
            title=html.escape(title),
            static=html.escape(url_path_join(base, DASHBOARD_PATH, "static/")),
            base_url=html.escape(base),
            api_prefix=html.escape(self.api_prefix),
            xsrf=html.escape(xsrf),
            job_id=html.escape(job_id or ""),
        ))


class DashboardStaticHandler(JupyterHandler, web.StaticFileHandler):
    """The page's ES modules and CSS, for logged-in users only (like every routilux route)."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    def head(self, path: str) -> Awaitable[None]:  # type: ignore[override]
        return web.StaticFileHandler.head(self, path)

    @web.authenticated
    @authorized
    def get(self, path: str, include_body: bool = True) -> Awaitable[None]:  # type: ignore[override]
        return web.StaticFileHandler.get(self, path, include_body)

    def set_extra_headers(self, path: str) -> None:
        # The modules change with the installed package: revalidate instead of caching blindly.
        self.set_header("Cache-Control", "no-cache")


def dashboard_routes(api_prefix: str) -> list[tuple[str, type, dict[str, Any]]]:
    """The page and its static files, relative to base_url (outside the API prefix)."""
    root = DASHBOARD_PATH.rstrip("/")
    prefix = api_prefix.strip("/")
    return [
        (f"{root}/?", DashboardPageHandler, {"api_prefix": prefix}),
        (f"{root}/jobs/([^/]+)/?", DashboardPageHandler, {"api_prefix": prefix}),
        (f"{root}/static/dashboard/(.*)", DashboardStaticHandler, {"path": str(DASHBOARD_STATIC)}),
        (f"{root}/static/views/(.*)", DashboardStaticHandler, {"path": str(VIEWS_STATIC)}),
    ]
