"""Fixtures for the server tests: a real in-process Jupyter server with the extension enabled."""

from __future__ import annotations

import json
from typing import Any

import api_routines
import pytest
from traitlets.config import Config

from routilux.hooks import active_hooks, install_hooks
from routilux.service import RoutiluxService


@pytest.fixture
def history_db(tmp_path):
    return tmp_path / "history.sqlite"


@pytest.fixture
def jp_server_config(history_db):
    """Only our extension, with the test routines and a per-test history file."""
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"routilux_jupyter": True}},
            "RoutiluxExtension": {
                "history_db": str(history_db),
                "routine_modules": ["api_routines"],
                # In-process servers share the test process: leave its GC alone.
                "freeze_gc_at_start": False,
            },
        }
    )


@pytest.fixture(autouse=True)
def _restore_engine_hooks():
    """The extension enables process-wide monitoring; later test modules get the seam back."""
    before = active_hooks()
    yield
    install_hooks(before)


@pytest.fixture(autouse=True)
def _open_gates():
    """Gated jobs of one test never block another: clear before, release after."""
    api_routines.GATES.clear()
    api_routines.ENTERED.clear()
    yield
    for gate in list(api_routines.GATES.values()):
        gate.set()


@pytest.fixture
def service(jp_serverapp) -> RoutiluxService:
    """The service the running extension uses (to wait on jobs without polling HTTP)."""
    return jp_serverapp.web_app.settings["routilux_service"]


@pytest.fixture
def api(jp_fetch):
    """``await api(method, *path, body=..., expect=status)`` -> decoded JSON (or None)."""

    async def call(
        method: str,
        *path: str,
        body: Any = None,
        raw: str | bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        expect: int = 200,
    ) -> Any:
        kwargs: dict[str, Any] = {"method": method, "raise_error": False}
        if body is not None:
            kwargs["body"] = json.dumps(body)
        elif raw is not None:
            kwargs["body"] = raw
        elif method in ("POST", "PUT"):
            kwargs["body"] = b""
        response = await jp_fetch("api", *path, params=params, headers=headers, **kwargs)
        try:
            data = json.loads(response.body) if response.body else None
        except ValueError:  # Jupyter's own 404 page for paths no route matches
            data = response.body.decode(errors="replace")
        assert response.code == expect, (method, path, response.code, data)
        return data

    return call
