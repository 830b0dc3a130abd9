"""Writes finished jobs to the history on a background thread.

A job ends on an engine worker thread; that thread must not wait on SQLite. The owner's job-end
callback only enqueues the job id; this recorder's thread reads the final JSON, metrics and trace
from the owner and writes them to the :class:`~routilux.service.history.History`.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from routilux.service.history import History

__all__ = ["HistoryRecorder"]

logger = logging.getLogger(__name__)


class HistoryRecorder:
    """Background writer: ``on_job_end`` enqueues, a daemon thread records."""

    def __init__(self, history: History) -> None:
        self.history = history
        self._queue: queue.SimpleQueue[tuple[str, Any] | None] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._pending = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="routilux-history", daemon=True)
        self._thread.start()

    def on_job_end(self, job: Any, owner: Any) -> None:
        """Owner job-end callback (engine worker thread): enqueue only."""
        with self._cond:
            if self._closed:
                return
            self._pending += 1
        self._queue.put((job.job_id, owner))

    def _record(self, job_id: str, owner: Any) -> None:
        job = owner.get_job(job_id)
        try:
            metrics = owner.get_metrics(job_id)
        except LookupError:
            metrics = None
        events = owner.get_trace(job_id, None)["events"]
        self.history.record(job, metrics, events)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self._record(*item)
            except Exception:
                logger.exception("routilux: could not record job %s in the history", item[0])
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every job ended so far is recorded; ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Record what is queued, then stop the thread."""
        with self._cond:
            self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)
