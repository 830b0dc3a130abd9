"""What the service needs from the persistent job history (SQLite by default).

The server is the system of record: when a job ends, its final JSON, metrics and trace are written
to the history so ``GET /api/jobs/{id}``, ``/metrics`` and ``/trace`` still answer after a restart
or after the owning kernel died. :class:`History` is the seam; ``routilux.service.sqlite_history``
adapts the monitoring package's SQLite store to it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

__all__ = ["History"]


class History(Protocol):
    """Finished jobs, their final metrics and traces, across restarts."""

    def record(
        self, job: dict[str, Any], metrics: dict[str, Any] | None, events: list[dict[str, Any]]
    ) -> None:
        """Store a job's final JSON, metrics and trace (replacing an earlier record of it)."""
        ...

    def get_job(self, job_id: str) -> dict[str, Any] | None: ...

    def list_jobs(
        self,
        *,
        flow_id: str | None,
        status: str | None,
        limit: int,
        offset: int,
        exclude: Collection[str] = (),
    ) -> list[dict[str, Any]]:
        """Jobs newest first, leaving out the ids in ``exclude`` (jobs an owner still holds)."""
        ...

    def count_jobs(
        self, *, flow_id: str | None, status: str | None, exclude: Collection[str] = ()
    ) -> int: ...

    def get_metrics(self, job_id: str) -> dict[str, Any] | None: ...

    def get_trace(self, job_id: str, limit: int | None) -> list[dict[str, Any]] | None: ...

    def close(self) -> None: ...
