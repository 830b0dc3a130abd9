"""The process-wide worker pool that runs job drainers, and the timer scheduler for retries.

Workers are daemon threads created on demand: a paused job parks a worker on its own condition
variable, so the pool never caps its size (a cap could let paused jobs starve running ones).
Idle workers wait on one ``SimpleQueue`` (a fast C handoff) and retire after idling a while.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from queue import Empty, SimpleQueue
from typing import Any, Callable

__all__ = ["WorkerPool", "Scheduler", "get_pool", "get_scheduler"]

logger = logging.getLogger(__name__)

_IDLE_SECONDS = 30.0


class WorkerPool:
    """Grows on demand, reuses idle threads, retires threads idle for ``idle_seconds``."""

    def __init__(self, idle_seconds: float = _IDLE_SECONDS, name: str = "routilux-worker") -> None:
        self._idle_seconds = idle_seconds
        self._name = name
        self._lock = threading.Lock()
        self._queue: SimpleQueue[Callable[[], Any]] = SimpleQueue()
        # Invariant (under _lock): waiting workers == _idle + items put but not yet taken.
        self._idle = 0
        self._threads = 0
        self._counter = itertools.count(1)

    @property
    def size(self) -> int:
        """Number of live worker threads (busy or idle)."""
        return self._threads

    @property
    def idle(self) -> int:
        """Number of workers waiting for work right now."""
        return self._idle

    def submit(self, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` on a pool thread: an idle one if any, otherwise a new one."""
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._queue.put(fn)
                return
            self._threads += 1
        t = threading.Thread(
            target=self._work, args=(fn,), name=f"{self._name}-{next(self._counter)}", daemon=True
        )
        t.start()

    def _work(self, fn: Callable[[], Any] | None) -> None:
        lock = self._lock
        get = self._queue.get
        idle_seconds = self._idle_seconds
        while True:
            try:
                fn()  # type: ignore[misc]
            except BaseException:  # a drainer must never kill its thread silently
                logger.exception("routilux worker task raised")
            fn = None
            with lock:
                self._idle += 1
            try:
                fn = get(timeout=idle_seconds)
            except Empty:
                with lock:
                    if self._idle:
                        # Nobody claimed us: retire.
                        self._idle -= 1
                        self._threads -= 1
                        return
                # A submitter claimed us between the timeout and the lock: its item is coming.
                fn = get()


class _Timer:
    """A scheduled call; ``cancel()`` makes it a no-op if it has not fired yet."""

    __slots__ = ("when", "seq", "fn", "args", "cancelled")

    def __init__(self, when: float, seq: int, fn: Callable[..., Any], args: tuple[Any, ...]):
        self.when = when
        self.seq = seq
        self.fn = fn
        self.args = args
        self.cancelled = False

    def __lt__(self, other: _Timer) -> bool:
        return (self.when, self.seq) < (other.when, other.seq)

    def cancel(self) -> None:
        """Drop the call if it has not run yet."""
        self.cancelled = True


class Scheduler:
    """One daemon thread with a heap of timers; callbacks must be quick (they only enqueue)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[_Timer] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> _Timer:
        """Call ``fn(*args)`` on the scheduler thread after ``delay`` seconds."""
        from time import monotonic

        timer = _Timer(monotonic() + max(0.0, delay), next(self._seq), fn, args)
        with self._cond:
            heapq.heappush(self._heap, timer)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="routilux-scheduler", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return timer

    def _run(self) -> None:
        from time import monotonic

        while True:
            with self._cond:
                while True:
                    if not self._heap:
                        self._cond.wait()
                        continue
                    delay = self._heap[0].when - monotonic()
                    if delay <= 0:
                        timer = heapq.heappop(self._heap)
                        break
                    self._cond.wait(delay)
            if timer.cancelled:
                continue
            try:
                timer.fn(*timer.args)
            except BaseException:
                logger.exception("routilux scheduled callback raised")


_pool = WorkerPool()
_scheduler = Scheduler()


def get_pool() -> WorkerPool:
    """The process-wide worker pool."""
    return _pool


def get_scheduler() -> Scheduler:
    """The process-wide retry scheduler."""
    return _scheduler
