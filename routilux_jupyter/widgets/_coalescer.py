"""One background thread that flushes dirty views to the browser at most ``hz`` times a second.

Job threads only *mark* a view dirty (a set insertion under a lock, then a condition notify), so
the engine never waits on the notebook. The flusher wakes when something is dirty, and flushes
each view no sooner than ``1/hz`` after its previous flush; a burst of 10,000 events therefore
costs one state message per view per tick. ``urgent`` skips the wait (used after a user's
command, so the panel reflects it at once).
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Protocol

__all__ = ["Coalescer", "Flushable", "get_coalescer"]


class Flushable(Protocol):
    """What the coalescer drives: a view that can push its current state to the front end."""

    def _flush(self) -> None:
        """Read the data source and send what changed; must not raise."""


class Coalescer:
    """Rate-limited, thread-safe flushing of views (weakly held, so closed views go away)."""

    def __init__(self, hz: float = 10.0) -> None:
        if not 0 < hz <= 60:
            raise ValueError("hz must be in (0, 60]; the views are meant to refresh at 5-10 Hz")
        self.interval = 1.0 / hz
        self._cond = threading.Condition(threading.Lock())
        self._dirty: dict[int, weakref.ref[Flushable]] = {}
        self._urgent: set[int] = set()
        self._last: dict[int, float] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.flushes = 0

    def mark_dirty(self, view: Flushable, *, urgent: bool = False) -> None:
        """Ask for ``view`` to be flushed soon; cheap and safe from any thread."""
        key = id(view)
        with self._cond:
            if key not in self._dirty:
                self._dirty[key] = weakref.ref(view)
            if urgent:
                self._urgent.add(key)
            self._ensure_thread()
            self._cond.notify()

    def forget(self, view: Flushable) -> None:
        """Drop any pending flush of ``view`` (it is closing)."""
        key = id(view)
        with self._cond:
            self._dirty.pop(key, None)
            self._urgent.discard(key)
            self._last.pop(key, None)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread (tests); a later ``mark_dirty`` starts a new one."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        with self._cond:
            self._stopping = False
            self._thread = None

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="routilux-widget-flush", daemon=True)
            self._thread.start()

    def _take_due(self) -> tuple[list[Flushable], float | None]:
        """Views due now, and how long until the next one is due (None: nothing pending)."""
        now = time.monotonic()
        due: list[Flushable] = []
        wait: float | None = None
        for key in list(self._dirty):
            ready = self._last.get(key, 0.0) + self.interval
            if key in self._urgent or ready <= now:
                view = self._dirty.pop(key)()
                self._urgent.discard(key)
                if view is not None:
                    due.append(view)
                    self._last[key] = now
                else:
                    self._last.pop(key, None)
            else:
                wait = ready - now if wait is None else min(wait, ready - now)
        return due, wait

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                due, wait = self._take_due()
                if not due:
                    self._cond.wait(wait)
                    continue
            for view in due:
                try:
                    view._flush()
                except Exception:  # a broken view must not stop the others from updating
                    pass
                self.flushes += 1


_default: Coalescer | None = None
_default_lock = threading.Lock()


def get_coalescer() -> Coalescer:
    """The process-wide coalescer (10 Hz)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Coalescer()
        return _default
