"""Fixtures for the documentation tests: a real in-process Jupyter server with routilux on."""

from __future__ import annotations

from pathlib import Path

import pytest
from traitlets.config import Config

@pytest.fixture
def jp_server_config(tmp_path: Path) -> Config:
    """Only the routilux extension, with a history file of its own and no extra routines:
    the documented examples must work with what ships with routilux."""
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"routilux_jupyter": True}},
            "RoutiluxExtension": {
                "history_db": str(tmp_path / "history.sqlite"),
                "freeze_gc_at_start": False,  # in-process server: leave the test process's GC alone
            },
        }
    )
