"""A server whose ``otel_endpoint`` is unusable still serves the API (the reason is logged)."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from routilux_jupyter.server.extension import RoutiluxExtension


@pytest.fixture
def jp_server_config(history_db):  # type: ignore[no-untyped-def]
    return Config({
        "ServerApp": {"jpserver_extensions": {"routilux_jupyter": True}},
        "RoutiluxExtension": {"history_db": str(history_db), "freeze_gc_at_start": False,
                              "otel_endpoint": "collector:4318"},   # no scheme: not a URL
    })


async def test_a_bad_otel_endpoint_leaves_the_api_working_without_export(api, jp_serverapp):
    assert await api("GET", "health")
    (ext,) = [app for apps in jp_serverapp.extension_manager.extension_apps.values()
              for app in apps if isinstance(app, RoutiluxExtension)]
    assert ext.otel_endpoint == "collector:4318"
    assert ext._otel is None
