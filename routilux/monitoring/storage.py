"""In-memory registries of flows and jobs (thread-safe), plus the SQLite history store.

:class:`FlowStore` and :class:`JobStore` hold live objects (``Flow``, ``JobState``) for the
process that runs them. :class:`~routilux.monitoring.storage_sqlite.SqliteHistoryStore` keeps job
history, final metrics and traces across restarts (re-exported here).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from routilux.monitoring.storage_sqlite import SqliteHistoryStore, job_to_dict

if TYPE_CHECKING:
    from routilux.flow import Flow
    from routilux.job_state import JobState

__all__ = ["FlowStore", "JobStore", "SqliteHistoryStore", "job_to_dict"]

_TERMINAL = frozenset({"completed", "failed", "cancelled", "lost"})


class FlowStore:
    """Flows by ``flow_id``; adding a flow with an existing id replaces it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._flows: dict[str, Flow] = {}

    def add(self, flow: Flow, flow_id: str | None = None) -> Flow:
        """Register ``flow`` under ``flow_id`` (default: ``flow.flow_id``)."""
        key = flow_id if flow_id is not None else flow.flow_id
        with self._lock:
            self._flows[key] = flow
        return flow

    def get(self, flow_id: str) -> Flow | None:
        """The flow, or ``None``."""
        with self._lock:
            return self._flows.get(flow_id)

    def remove(self, flow_id: str) -> Flow | None:
        """Forget a flow; returns it (``None`` if it was not there)."""
        with self._lock:
            return self._flows.pop(flow_id, None)

    def list_all(self) -> list[Flow]:
        """Everything stored, in insertion order."""
        with self._lock:
            return list(self._flows.values())

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._flows.clear()

    def __contains__(self, flow_id: object) -> bool:
        with self._lock:
            return flow_id in self._flows

    def __len__(self) -> int:
        with self._lock:
            return len(self._flows)


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class JobStore:
    """Job states by ``job_id``."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._jobs: dict[str, JobState] = {}

    def add(self, job_state: JobState) -> JobState:
        """Store (or replace) a job state under its ``job_id``."""
        with self._lock:
            self._jobs[job_state.job_id] = job_state
        return job_state

    def get(self, job_id: str) -> JobState | None:
        """The job state, or ``None``."""
        with self._lock:
            return self._jobs.get(job_id)

    def remove(self, job_id: str) -> JobState | None:
        """Forget a job; returns it (``None`` if it was not there)."""
        with self._lock:
            return self._jobs.pop(job_id, None)

    def list_all(self) -> list[JobState]:
        """Everything stored, in insertion order."""
        with self._lock:
            return list(self._jobs.values())

    def get_by_flow(self, flow_id: str) -> list[JobState]:
        """Every stored job of ``flow_id``."""
        with self._lock:
            return [j for j in self._jobs.values() if j.flow_id == flow_id]

    def remove_old_jobs(self, max_age_seconds: float) -> int:
        """Drop *finished* jobs that ended (or were created) more than ``max_age_seconds`` ago.

        Running and paused jobs are never dropped. Returns how many were removed.
        """
        cutoff = time.time() - max_age_seconds
        with self._lock:
            doomed = []
            for job_id, js in self._jobs.items():
                if str(js.status) not in _TERMINAL:
                    continue
                ended = _epoch(getattr(js, "completed_at", None)) or _epoch(getattr(js, "created_at", None))
                if ended is not None and ended < cutoff:
                    doomed.append(job_id)
            for job_id in doomed:
                del self._jobs[job_id]
        return len(doomed)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._jobs.clear()

    def __contains__(self, job_id: object) -> bool:
        with self._lock:
            return job_id in self._jobs

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)
