"""Executor test fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from routilux.hooks import install_hooks
from routilux.monitoring import MonitoringRegistry


@pytest.fixture(autouse=True)
def _no_hooks_leak():
    """Every test starts and ends with no hooks installed (monitoring tests install their own)."""
    undo = install_hooks(None)
    yield
    undo()


@pytest.fixture
def registry() -> Iterator[MonitoringRegistry]:
    """A registry of its own with room for long traces, installed for the test."""
    reg = MonitoringRegistry(max_events_per_job=10_000)
    reg.install()
    yield reg
    reg.uninstall()
