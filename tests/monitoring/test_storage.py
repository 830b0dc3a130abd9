"""FlowStore / JobStore, and the SQLite history that survives a process restart."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from routilux.monitoring import FlowStore, JobStore, MonitoringRegistry, SqliteHistoryStore

from .helpers import pipeline

ROOT = Path(__file__).resolve().parents[2]


def test_flow_store() -> None:
    store = FlowStore()
    a, _ = pipeline("a")
    b, _ = pipeline("b")
    store.add(a)
    store.add(b)
    assert store.get("a") is a and "b" in store and len(store) == 2
    a2, _ = pipeline("a")
    store.add(a2)  # re-running a notebook cell replaces the flow of the same id
    assert store.get("a") is a2 and len(store) == 2
    assert store.remove("a") is a2 and store.get("a") is None
    assert store.list_all() == [b]
    store.clear()
    assert store.list_all() == []


def test_job_store(registry: MonitoringRegistry) -> None:
    store = JobStore()
    flow, _ = pipeline("jobs")
    done = flow.execute("r1", {"values": [1]}, timeout=5)
    other, _ = pipeline("other")
    done2 = other.execute("r1", {"values": [1]}, timeout=5)
    store.add(done)
    store.add(done2)
    assert store.get(done.job_id) is done and len(store) == 2
    assert store.get_by_flow("jobs") == [done]
    assert store.remove_old_jobs(3600) == 0       # both ended just now
    assert store.remove_old_jobs(-1) == 2         # everything finished "before" now + 1s
    assert store.list_all() == []
    store.add(done)
    assert store.remove(done.job_id) is done and store.remove(done.job_id) is None


def test_remove_old_jobs_keeps_unfinished_jobs(registry: MonitoringRegistry) -> None:
    flow, _ = pipeline("running")
    registry.breakpoint_manager.set_breakpoint(job_id="held", routine_id="r1")
    session = registry.debug_session_store.get_or_create("held")
    job = flow.start("r1", {"values": [1]}, job_id="held")
    assert session.wait_until_paused(5)
    store = JobStore()
    store.add(job)
    assert store.remove_old_jobs(-1) == 0 and store.get("held") is job
    session.resume()
    assert job.wait(5)


def test_sqlite_store_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with SqliteHistoryStore(str(path), max_events_per_job=5) as store:
        store.record_job({"job_id": "j1", "flow_id": "f", "status": "running",
                          "created_at": "2024-01-01T00:00:00+00:00"})
        store.record_job({"job_id": "j1", "status": "completed"})       # partial update merges
        store.record_job({"job_id": "j2", "flow_id": "g", "status": "failed",
                          "created_at": "2024-01-02T00:00:00+00:00"})
        store.record_metrics("j1", lambda: {"duration_ms": 12.5})       # resolved by the writer
        store.record_events("j1", [{"seq": i, "event_type": "slot_call"} for i in range(1, 9)])
        store.record_events("j1", [{"event_type": "job_completed"}])     # seq assigned: 9
        store.record_job({"flow_id": "no id"})                          # bad record: skipped
        assert store.flush(10)
        assert store.get_job("j1") == {"job_id": "j1", "flow_id": "f", "status": "completed",
                                       "created_at": "2024-01-01T00:00:00+00:00"}
        assert [j["job_id"] for j in store.list_jobs()] == ["j2", "j1"]        # newest first
        assert [j["job_id"] for j in store.list_jobs(status="completed")] == ["j1"]
        assert store.count_jobs(flow_id="g") == 1 and store.list_jobs(limit=1, offset=1)[0]["job_id"] == "j1"
        assert store.get_metrics("j1") == {"duration_ms": 12.5}
        trace = store.get_trace("j1")
        assert [e["seq"] for e in trace] == [5, 6, 7, 8, 9]                 # trimmed to the newest 5
        assert trace[-1]["event_type"] == "job_completed"
        assert [e["seq"] for e in store.get_trace("j1", limit=2)] == [8, 9]
        assert store.write_errors == 1 and "KeyError" in (store.last_error or "")
        store.delete_job("j2")
        assert store.flush(10) and store.get_job("j2") is None
        assert store.get_trace("nope") == [] and store.get_metrics("nope") is None


_WRITER = textwrap.dedent("""
    import json, sys
    from routilux import Flow, Routine
    from routilux.monitoring import MonitoringRegistry, SqliteHistoryStore

    class Src(Routine):
        def __init__(self):
            super().__init__()
            self.define_slot("trigger", self.run)
            self.define_event("out", ["value"])
        def run(self, values):
            for v in values:
                self.emit("out", value=v)

    class Dst(Routine):
        def __init__(self):
            super().__init__()
            self.define_slot("inp", self.run)
        def run(self, value):
            if value == 3:
                raise ValueError("three")

    store = SqliteHistoryStore(sys.argv[1])
    registry = MonitoringRegistry(history_store=store)
    registry.install()
    flow = Flow("persisted")
    flow.add_routine(Src(), "src")
    flow.add_routine(Dst(), "dst")
    flow.connect("src", "out", "dst", "inp")
    ok = flow.execute("src", {"values": [1, 2]}, timeout=10)
    bad = flow.execute("src", {"values": [3]}, timeout=10)
    trace = [e.to_dict() for e in registry.monitor_collector.get_execution_trace(ok.job_id)]
    store.close()
    print(json.dumps({"ok": ok.job_id, "bad": bad.job_id, "trace_len": len(trace),
                      "ok_status": str(ok.status), "bad_status": str(bad.status)}))
""")

_READER = textwrap.dedent("""
    import json, sys
    from routilux.monitoring import SqliteHistoryStore
    store = SqliteHistoryStore(sys.argv[1])
    ok, bad = sys.argv[2], sys.argv[3]
    print(json.dumps({
        "ok_job": store.get_job(ok), "bad_job": store.get_job(bad),
        "jobs": store.list_jobs(flow_id="persisted"), "metrics": store.get_metrics(ok),
        "trace": store.get_trace(ok), "failed": store.list_jobs(status="failed"),
    }))
    store.close()
""")


def _run(script: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_history_survives_a_restart_across_processes(tmp_path: Path) -> None:
    db = str(tmp_path / "history.db")
    written = _run(_WRITER, db)
    assert written["ok_status"] == "completed" and written["bad_status"] == "failed"
    read = _run(_READER, db, written["ok"], written["bad"])   # a fresh process
    ok_job, bad_job = read["ok_job"], read["bad_job"]
    assert ok_job["job_id"] == written["ok"] and ok_job["status"] == "completed"
    assert ok_job["flow_id"] == "persisted" and ok_job["completed_at"]
    assert bad_job["status"] == "failed" and "three" in bad_job["error"]
    assert {j["job_id"] for j in read["jobs"]} == {written["ok"], written["bad"]}
    assert [j["job_id"] for j in read["failed"]] == [written["bad"]]
    metrics = read["metrics"]
    assert metrics["status"] == "completed" and metrics["total_event_emits"] == 2
    assert metrics["routine_metrics"]["dst"]["execution_count"] == 2
    assert metrics["duration_ms"] > 0
    trace = read["trace"]
    assert len(trace) == written["trace_len"]
    assert trace[0]["event_type"] == "job_start" and trace[-1]["event_type"] == "job_completed"
    assert [e["seq"] for e in trace] == sorted(e["seq"] for e in trace)
    emits = [e for e in trace if e["event_type"] == "event_emit"]
    assert [e["data"] for e in emits] == [{"value": 1}, {"value": 2}]
    # ... and this process reads the same file too.
    with SqliteHistoryStore(db) as again:
        assert again.get_job(written["ok"])["status"] == "completed"
        assert again.count_events(written["ok"]) == written["trace_len"]
