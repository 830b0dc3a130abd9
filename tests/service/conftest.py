"""Service fixtures: a real local service (engine, monitoring, SQLite history), no Jupyter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import svc_routines

from routilux.hooks import active_hooks, install_hooks
from routilux.service import ServiceBundle, create_local_service


@pytest.fixture(autouse=True)
def _restore_engine_hooks() -> Iterator[None]:
    before = active_hooks()
    yield
    install_hooks(before)


@pytest.fixture(autouse=True)
def _release_holds() -> Iterator[None]:
    svc_routines.RELEASE.clear()
    yield
    svc_routines.RELEASE.set()


@pytest.fixture
def history_db(tmp_path):
    return tmp_path / "history.sqlite"


@pytest.fixture
def bundle(history_db) -> Iterator[ServiceBundle]:
    made = create_local_service(history_db=str(history_db), load_entry_points=False)
    yield made
    made.close()
