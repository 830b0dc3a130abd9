"""The :class:`~routilux.service.history.History` read side over the monitoring SQLite store."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from routilux.monitoring.storage import SqliteHistoryStore
from routilux.service.owner import OwnerInfo

__all__ = ["SQLiteHistory"]

_UNFINISHED = ("pending", "running", "paused")
# Time fields of jobs, metrics and trace events. Rows written before every time ended in "Z"
# hold "+00:00" in some of them; reads answer in the one format.
_TIME_KEYS = frozenset({"created_at", "started_at", "completed_at", "updated_at", "start_time",
                        "end_time", "timestamp", "last_execution"})


def _z(shape: Any) -> Any:
    """``shape`` with every ``...+00:00`` time field rewritten to end in ``Z`` (in place)."""
    if isinstance(shape, dict):
        for key, value in shape.items():
            if isinstance(value, str):
                if key in _TIME_KEYS and value.endswith("+00:00"):
                    shape[key] = value[:-6] + "Z"
            elif isinstance(value, (dict, list)):
                _z(value)
    elif isinstance(shape, list):
        for value in shape:
            if isinstance(value, (dict, list)):
                _z(value)
    return shape


class SQLiteHistory:
    """Reads jobs, metrics and traces from a :class:`SqliteHistoryStore`.

    Records written without an ``owner`` (the server's own jobs) get the server owner.
    """

    def __init__(self, store: SqliteHistoryStore, *, owner: OwnerInfo | None = None) -> None:
        self.store = store
        self._owner = (owner or OwnerInfo()).to_dict()

    def _job(self, record: dict[str, Any]) -> dict[str, Any]:
        record.setdefault("owner", dict(self._owner))
        return _z(record)

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        record = self.store.get_job(job_id)
        return None if record is None else self._job(record)

    def list_jobs(
        self,
        *,
        flow_id: str | None,
        status: str | None,
        limit: int,
        offset: int,
        exclude: Collection[str] = (),
    ) -> list[dict[str, Any]]:
        # Excluded ids may sit anywhere in the newest rows: over-fetch by their number.
        rows = self.store.list_jobs(flow_id, status, limit=limit + len(exclude), offset=offset)
        kept = [self._job(row) for row in rows if row.get("job_id") not in exclude]
        return kept[:limit]

    def count_jobs(
        self, *, flow_id: str | None, status: str | None, exclude: Collection[str] = ()
    ) -> int:
        total = self.store.count_jobs(flow_id, status)
        for job_id in exclude:
            row = self.store.get_job(job_id)
            if (
                row is not None
                and (flow_id is None or row.get("flow_id") == flow_id)
                and (status is None or row.get("status") == status)
            ):
                total -= 1
        return total

    def get_metrics(self, job_id: str) -> dict[str, Any] | None:
        return _z(self.store.get_metrics(job_id))

    def get_trace(self, job_id: str, limit: int | None) -> list[dict[str, Any]] | None:
        events = self.store.get_trace(job_id, limit)
        if not events and self.store.get_job(job_id) is None:
            return None
        return _z(events)

    def get_inputs(self, job_id: str) -> list[dict[str, Any]]:
        """A job's recorded activations (input, shared, emits), oldest first."""
        return self.store.get_inputs(job_id)

    def annotate(self, job_id: str, fields: dict[str, Any]) -> None:
        """Store ``label`` / ``pinned`` on a job's record (written before this returns)."""
        if fields:
            self.store.record_job({"job_id": job_id, **fields})
            self.store.flush()

    def mark_unfinished_lost(self, reason: str) -> list[str]:
        """Mark jobs recorded as pending/running/paused as ``lost`` (their process is gone).

        Called at server start: no job of an earlier server process can still be running.
        """
        lost = []
        for status in _UNFINISHED:
            for row in self.store.list_jobs(None, status, limit=None):
                lost.append(row["job_id"])
                self.store.record_job({"job_id": row["job_id"], "status": "lost", "error": reason})
        if lost:
            self.store.flush()
        return lost

    def close(self) -> None:
        self.store.close()
