"""create_local_service and its helpers: routine modules, flows_dir, history wiring."""

from __future__ import annotations

import json
import logging

from svc_routines import SPEC

from routilux.service import create_local_service
from routilux.service.bootstrap import import_routine_modules, load_flows_dir


def test_a_missing_routine_module_is_logged_and_skipped(caplog):
    with caplog.at_level(logging.ERROR):
        done = import_routine_modules(["json", "no_such_module_for_routilux"], logging.getLogger("t"))
    assert done == ["json"]
    assert "no_such_module_for_routilux" in caplog.text


def test_flows_dir_loads_good_specs_and_reports_bad_ones(bundle, tmp_path, caplog):
    (tmp_path / "good.json").write_text(json.dumps({**SPEC, "flow_id": None}))
    (tmp_path / "bad.yaml").write_text("routines: [")
    with caplog.at_level(logging.ERROR):
        loaded = load_flows_dir(bundle.owner, tmp_path, logging.getLogger("t"))
    assert loaded == ["good"]
    assert "bad.yaml" in caplog.text
    assert load_flows_dir(bundle.owner, tmp_path / "missing", logging.getLogger("t")) == []


def test_without_a_history_db_nothing_is_kept(tmp_path):
    made = create_local_service(load_entry_points=False)
    try:
        assert made.history is None and made.service.history is None
        assert made.monitoring.history_store is None
        assert made.service.health()["history"] is False
    finally:
        made.close()


def test_close_detaches_the_history_store(history_db):
    made = create_local_service(history_db=str(history_db), load_entry_points=False)
    assert made.monitoring.history_store is made.history.store
    made.close()
    assert made.monitoring.history_store is None
