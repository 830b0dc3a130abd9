"""What the service reads from the persistent job history (SQLite by default).

The server is the system of record: the monitoring registry writes every job's record, final
metrics and trace to its history store (``MonitoringRegistry.attach_history_store``), so
``GET /api/jobs/{id}``, ``/metrics`` and ``/trace`` still answer after a restart or after the
owning kernel died. :class:`History` is the read side the service needs;
:class:`~routilux.service.sqlite_history.SQLiteHistory` adapts the monitoring package's store.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

__all__ = ["History"]


class History(Protocol):
    """Jobs (finished or not), their final metrics and traces, across restarts."""

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

    def get_trace(self, job_id: str, limit: int | None) -> list[dict[str, Any]] | None:
        """Stored events oldest first (the newest ``limit``), ``None`` for an unknown job."""
        ...

    def close(self) -> None: ...
