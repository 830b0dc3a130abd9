"""Executor test fixtures."""

from __future__ import annotations

import pytest

from routilux.hooks import install_hooks


@pytest.fixture(autouse=True)
def _no_hooks_leak():
    """Every test starts and ends with no hooks installed (monitoring tests install their own)."""
    undo = install_hooks(None)
    yield
    undo()
