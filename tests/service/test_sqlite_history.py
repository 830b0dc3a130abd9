"""SQLiteHistory: the read side over the monitoring SQLite store."""

from __future__ import annotations

import pytest

from routilux.monitoring.storage import SqliteHistoryStore
from routilux.service import OwnerInfo, SQLiteHistory


@pytest.fixture
def history(tmp_path):
    made = SQLiteHistory(SqliteHistoryStore(str(tmp_path / "h.sqlite")))
    yield made
    made.close()


def record(history, job_id, created, status="completed", flow_id="f", **extra):
    history.store.record_job({"job_id": job_id, "flow_id": flow_id, "status": status,
                              "created_at": created, **extra})


def test_listing_leaves_out_excluded_ids_and_counts_them_once(history):
    for i in range(5):
        record(history, f"j{i}", f"2026-01-01T00:00:0{i}Z", status="failed" if i == 4 else "completed")
    assert history.store.flush(5)
    newest = history.list_jobs(flow_id=None, status=None, limit=3, offset=0, exclude={"j3"})
    assert [j["job_id"] for j in newest] == ["j4", "j2", "j1"]
    assert history.count_jobs(flow_id=None, status=None, exclude={"j3", "nope"}) == 4
    assert history.count_jobs(flow_id=None, status="failed", exclude={"j3"}) == 1
    assert history.count_jobs(flow_id="other", status=None) == 0
    assert newest[0]["owner"] == OwnerInfo().to_dict()  # server jobs carry no owner themselves


def test_traces_distinguish_unknown_jobs_from_empty_ones(history):
    record(history, "quiet", "2026-01-01T00:00:00Z")
    history.store.record_events("loud", [{"seq": 1, "event_type": "job_start"},
                                         {"seq": 2, "event_type": "job_completed"}])
    record(history, "loud", "2026-01-01T00:00:01Z")
    assert history.store.flush(5)
    assert history.get_trace("nobody", None) is None
    assert history.get_trace("quiet", None) == []
    assert [e["seq"] for e in history.get_trace("loud", 1)] == [2]


def test_unfinished_jobs_become_lost(history):
    record(history, "a", "2026-01-01T00:00:00Z", status="running")
    record(history, "b", "2026-01-01T00:00:01Z", status="paused")
    record(history, "c", "2026-01-01T00:00:02Z", status="completed")
    assert history.store.flush(5)
    assert sorted(history.mark_unfinished_lost("gone")) == ["a", "b"]
    assert [history.get_job(j)["status"] for j in "abc"] == ["lost", "lost", "completed"]
    assert history.get_job("a")["error"] == "gone"


def test_rows_written_with_plus_00_00_times_read_back_ending_in_z(history):
    # Before every time ended in "Z", metrics, traces and lost-job rows held "+00:00".
    old = "2025-06-01T12:00:00.250000+00:00"
    record(history, "old", "2025-06-01T12:00:00Z", completed_at=old, updated_at=old)
    history.store.record_metrics("old", {"job_id": "old", "start_time": old, "end_time": old,
                                         "routine_metrics": {"r": {"last_execution": old}},
                                         "errors": [{"timestamp": old, "message": "+00:00"}]})
    history.store.record_events("old", [{"seq": 1, "event_type": "job_start", "timestamp": old}])
    assert history.store.flush(5)
    new = "2025-06-01T12:00:00.250000Z"
    job = history.get_job("old")
    assert (job["created_at"], job["completed_at"], job["updated_at"]) == (
        "2025-06-01T12:00:00Z", new, new)
    metrics = history.get_metrics("old")
    assert (metrics["start_time"], metrics["end_time"]) == (new, new)
    assert metrics["routine_metrics"]["r"]["last_execution"] == new
    assert metrics["errors"] == [{"timestamp": new, "message": "+00:00"}]   # only time fields
    assert history.get_trace("old", None)[0]["timestamp"] == new
    assert [j["completed_at"] for j in history.list_jobs(flow_id=None, status=None, limit=5,
                                                         offset=0)] == [new]
