"""SQLite-backed job history: job records, final metrics and traces that survive a restart.

Writes never happen on the caller's thread: ``record_*`` put work on a queue that one background
writer thread drains in batches (one transaction per batch), so the engine never waits on disk.
Values passed to ``record_*`` may be callables; the writer calls them, which lets a caller hand
over "summarise this later" work. Reads use their own connection (WAL lets them run while the
writer writes). :meth:`SqliteHistoryStore.flush` waits until everything queued is on disk.
"""

from __future__ import annotations

import atexit
import json
import queue
import sqlite3
import threading
import time
import weakref
from typing import Any, Callable

__all__ = ["SqliteHistoryStore", "job_to_dict"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY, flow_id TEXT, status TEXT, created_at TEXT, started_at TEXT,
    completed_at TEXT, error TEXT, data TEXT NOT NULL, updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_flow ON jobs (flow_id, created_at);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created_at);
CREATE TABLE IF NOT EXISTS metrics (job_id TEXT PRIMARY KEY, data TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL, seq INTEGER NOT NULL, event_type TEXT, routine_id TEXT,
    timestamp TEXT, data TEXT NOT NULL, PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inputs (
    job_id TEXT NOT NULL, seq INTEGER NOT NULL, routine_id TEXT, slot_name TEXT,
    data TEXT NOT NULL, PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
"""
_TABLES = ("jobs", "metrics", "events", "inputs")
_JOB_COLUMNS = ("flow_id", "status", "created_at", "started_at", "completed_at", "error")
_open_stores: weakref.WeakSet[SqliteHistoryStore] = weakref.WeakSet()


def job_to_dict(job_state: Any) -> dict[str, Any]:
    """The job shape of DESIGN.md §6 from a JobState (or anything with those attributes)."""
    to_dict = getattr(job_state, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    return {k: getattr(job_state, k, None) for k in ("job_id", *_JOB_COLUMNS)}


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


def _epoch(iso_text: str) -> float:
    from datetime import datetime, timezone

    text = iso_text[:-1] + "+00:00" if iso_text.endswith("Z") else iso_text
    dt = datetime.fromisoformat(text)
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def _resolve(value: Any) -> Any:
    return value() if callable(value) else value


class SqliteHistoryStore:
    """Job history in one SQLite file (WAL); safe to use from any thread."""

    def __init__(self, path: str, *, max_events_per_job: int = 10_000, batch: int = 256) -> None:
        self.path = str(path)
        self.max_events_per_job = max_events_per_job
        self._batch = batch
        self._queue: queue.Queue[Any] = queue.Queue()
        self._read_lock = threading.Lock()
        self._reader = self._connect()
        self._reader.executescript(_SCHEMA)
        self._closed = False
        self.write_errors = 0
        self.last_error: str | None = None
        self._writer = threading.Thread(target=self._run, name=f"routilux-history:{self.path}",
                                        daemon=True)
        self._writer.start()
        _open_stores.add(self)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    # ---- writing (any thread; never blocks on disk) ------------------------------------------
    def record_job(self, job: dict[str, Any] | Callable[[], dict[str, Any]]) -> None:
        """Insert or update a job record; keys given replace stored ones (partial updates ok)."""
        self._put(("job", job))

    def record_metrics(self, job_id: str, metrics: dict[str, Any] | Callable[[], dict[str, Any]]) -> None:
        """Store (replace) a job's metrics."""
        self._put(("metrics", job_id, metrics))

    def record_events(
        self, job_id: str, events: list[dict[str, Any]] | Callable[[], list[dict[str, Any]]]
    ) -> None:
        """Append trace events (dicts with ``seq``; same seq replaces). Old ones are trimmed
        to ``max_events_per_job`` per job."""
        self._put(("events", job_id, events))

    def record_inputs(
        self, job_id: str, activations: list[dict[str, Any]] | Callable[[], list[dict[str, Any]]]
    ) -> None:
        """Store recorded activations (``RecordedActivation.to_dict()``: input, shared, emits;
        JSON, non-JSON values as ``{"__repr__": ...}``), keyed by their ``seq``."""
        self._put(("inputs", job_id, activations))

    def prune(self, *, max_jobs: int | None = None, max_age_seconds: float | None = None) -> None:
        """History retention: drop the oldest finished jobs beyond ``max_jobs`` and/or those
        created more than ``max_age_seconds`` ago. Pinned jobs (``"pinned": true`` in their
        record) and unfinished ones are always kept."""
        self._put(("prune", max_jobs, max_age_seconds))

    def delete_job(self, job_id: str) -> None:
        """Delete a job's record, metrics and trace."""
        self._put(("delete", job_id))

    def _put(self, item: tuple[Any, ...]) -> None:
        if self._closed:
            raise RuntimeError(f"history store {self.path} is closed")
        self._queue.put(item)

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until everything queued so far is written; ``False`` on timeout."""
        if self._closed:
            return True
        done = threading.Event()
        self._queue.put(("flush", done))
        return done.wait(timeout)

    def close(self, timeout: float | None = 10.0) -> None:
        """Write what is queued, stop the writer and close the database."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._writer.join(timeout)
        with self._read_lock:
            self._reader.close()
        _open_stores.discard(self)

    def _run(self) -> None:
        conn = self._connect()
        try:
            while True:
                item = self._queue.get()
                items = [item]
                while item is not None and len(items) < self._batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    items.append(item)
                flushes = [it[1] for it in items if it is not None and it[0] == "flush"]
                work = [it for it in items if it is not None and it[0] != "flush"]
                if work:
                    self._write(conn, work)
                for ev in flushes:
                    ev.set()
                if any(it is None for it in items):
                    return
        finally:
            conn.close()

    def _write(self, conn: sqlite3.Connection, work: list[tuple[Any, ...]]) -> None:
        try:
            conn.execute("BEGIN")
            trim: set[str] = set()
            for item in work:
                kind = item[0]
                try:
                    if kind == "job":
                        self._write_job(conn, _resolve(item[1]))
                    elif kind == "metrics":
                        conn.execute("INSERT OR REPLACE INTO metrics VALUES (?, ?, ?)",
                                     (item[1], _dumps(_resolve(item[2])), time.time()))
                    elif kind == "events":
                        self._write_events(conn, item[1], _resolve(item[2]))
                        trim.add(item[1])
                    elif kind == "inputs":
                        conn.executemany(
                            "INSERT OR REPLACE INTO inputs VALUES (?, ?, ?, ?, ?)",
                            [(item[1], int(a["seq"]), a.get("routine_id"), a.get("slot_name"),
                              _dumps(a)) for a in _resolve(item[2]) or ()])
                    elif kind == "prune":
                        self._prune(conn, item[1], item[2])
                    elif kind == "delete":
                        for table in _TABLES:
                            conn.execute(f"DELETE FROM {table} WHERE job_id = ?", (item[1],))
                except Exception as exc:  # one bad record must not lose the batch
                    self.write_errors += 1
                    self.last_error = f"{kind}: {type(exc).__name__}: {exc}"
            for job_id in trim:
                conn.execute(
                    "DELETE FROM events WHERE job_id = ? AND seq <= (SELECT seq FROM events "
                    "WHERE job_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                    (job_id, job_id, self.max_events_per_job),
                )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self.write_errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _write_job(self, conn: sqlite3.Connection, job: dict[str, Any]) -> None:
        job_id = job["job_id"]
        row = conn.execute("SELECT data FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        merged = json.loads(row[0]) if row else {}
        merged.update(json.loads(_dumps(job)))
        conn.execute(
            "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (job_id, *(None if merged.get(c) is None else str(merged.get(c)) for c in _JOB_COLUMNS),
             _dumps(merged), time.time()),
        )

    def _prune(self, conn: sqlite3.Connection, max_jobs: int | None,
               max_age: float | None) -> None:
        rows = conn.execute("SELECT job_id, status, created_at, data FROM jobs "
                            "ORDER BY created_at DESC, updated DESC").fetchall()
        cutoff = None if max_age is None else time.time() - max_age
        kept = 0
        doomed = []
        for job_id, status, created, data in rows:
            if status not in ("completed", "failed", "cancelled", "lost") or \
                    json.loads(data).get("pinned"):
                continue
            kept += 1
            too_many = max_jobs is not None and kept > max_jobs
            too_old = cutoff is not None and created is not None and _epoch(created) < cutoff
            if too_many or too_old:
                doomed.append(job_id)
        for job_id in doomed:
            for table in _TABLES:
                conn.execute(f"DELETE FROM {table} WHERE job_id = ?", (job_id,))

    def _write_events(self, conn: sqlite3.Connection, job_id: str, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        row = conn.execute("SELECT MAX(seq) FROM events WHERE job_id = ?", (job_id,)).fetchone()
        next_seq = (row[0] or 0) + 1
        rows = []
        for ev in events:
            seq = ev.get("seq")
            if not isinstance(seq, int):
                seq, next_seq = next_seq, next_seq + 1
                ev = {**ev, "seq": seq}
            rows.append((job_id, seq, ev.get("event_type"), ev.get("routine_id"),
                         None if ev.get("timestamp") is None else str(ev.get("timestamp")), _dumps(ev)))
        conn.executemany("INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?, ?, ?)", rows)

    # ---- reading ------------------------------------------------------------------------------
    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._read_lock:
            return self._reader.execute(sql, args).fetchall()

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        """The stored job record, or ``None``."""
        rows = self._query("SELECT data FROM jobs WHERE job_id = ?", (job_id,))
        return json.loads(rows[0][0]) if rows else None

    @staticmethod
    def _job_filter(flow_id: str | None, status: str | None) -> tuple[str, tuple[Any, ...]]:
        clauses, args = [], []
        if flow_id is not None:
            clauses.append("flow_id = ?")
            args.append(flow_id)
        if status is not None:
            clauses.append("status = ?")
            args.append(status)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(args)

    def list_jobs(
        self, flow_id: str | None = None, status: str | None = None, limit: int | None = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Stored jobs, newest first, filtered by flow and/or status."""
        where, args = self._job_filter(flow_id, status)
        sql = f"SELECT data FROM jobs{where} ORDER BY created_at DESC, updated DESC LIMIT ? OFFSET ?"
        rows = self._query(sql, (*args, -1 if limit is None else int(limit), int(offset)))
        return [json.loads(r[0]) for r in rows]

    def count_jobs(self, flow_id: str | None = None, status: str | None = None) -> int:
        """How many stored jobs match the filters."""
        where, args = self._job_filter(flow_id, status)
        return int(self._query(f"SELECT COUNT(*) FROM jobs{where}", args)[0][0])

    def get_metrics(self, job_id: str) -> dict[str, Any] | None:
        """A job's stored metrics, or ``None``."""
        rows = self._query("SELECT data FROM metrics WHERE job_id = ?", (job_id,))
        return json.loads(rows[0][0]) if rows else None

    def get_trace(self, job_id: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Stored events of a job, oldest first (the newest ``limit`` when given)."""
        if limit is None:
            rows = self._query("SELECT data FROM events WHERE job_id = ? ORDER BY seq", (job_id,))
        else:
            rows = self._query(
                "SELECT data FROM (SELECT seq, data FROM events WHERE job_id = ? ORDER BY seq DESC "
                "LIMIT ?) ORDER BY seq", (job_id, int(limit)))
        return [json.loads(r[0]) for r in rows]

    def get_inputs(self, job_id: str, seq: int | None = None) -> list[dict[str, Any]]:
        """Stored recorded activations of a job, by seq (only the one at ``seq`` when given)."""
        if seq is None:
            rows = self._query("SELECT data FROM inputs WHERE job_id = ? ORDER BY seq", (job_id,))
        else:
            rows = self._query("SELECT data FROM inputs WHERE job_id = ? AND seq = ?",
                               (job_id, int(seq)))
        return [json.loads(r[0]) for r in rows]

    def count_events(self, job_id: str) -> int:
        """How many trace events are stored for a job."""
        return int(self._query("SELECT COUNT(*) FROM events WHERE job_id = ?", (job_id,))[0][0])

    def __enter__(self) -> SqliteHistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@atexit.register
def _close_open_stores() -> None:
    # Daemon writer threads die with the interpreter; write what is queued before that.
    for store in list(_open_stores):
        try:
            store.close(timeout=5)
        except Exception:
            pass
