"""Monitoring test fixtures: a fresh registry per test, and no hooks leaking between tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from routilux.hooks import active_hooks, install_hooks
from routilux.monitoring import MonitoringRegistry


@pytest.fixture(autouse=True)
def _no_hooks_leak() -> Iterator[None]:
    """Every test starts with no hooks installed and leaves none behind."""
    undo = install_hooks(None)
    yield
    leaked = active_hooks()
    undo()
    assert leaked is None, f"test left hooks installed: {leaked!r}"


@pytest.fixture
def registry() -> Iterator[MonitoringRegistry]:
    """A registry of its own (collector, breakpoints, sessions, event manager), installed."""
    reg = MonitoringRegistry()
    reg.install()
    yield reg
    reg.uninstall()
