"""What happens when a slot handler raises: a job's error strategy (STOP, CONTINUE, SKIP, RETRY).

A mixin of :class:`~routilux.runtime.JobRuntime`, kept apart so the runtime module stays small;
it works on the runtime's own state under the runtime's lock. Retries are scheduled on the
process-wide timer (``retry_delay * retry_backoff**(n-1)``), never slept on a worker, and keep
their activation's outstanding count, so the job cannot complete while one is pending.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections import deque
from time import time
from typing import TYPE_CHECKING, Any, Callable

from routilux.error_handler import ErrorStrategy
from routilux.pool import get_pool, get_scheduler

if TYPE_CHECKING:
    from routilux.activation import Activation
    from routilux.flow import Flow
    from routilux.job_state import JobState

__all__ = ["ErrorStrategies"]

logger = logging.getLogger("routilux.runtime")

_submit = get_pool().submit


_MAX_TRACEBACK = 8000


def _traceback_text(err: BaseException) -> str:
    """The error's traceback (with a remote executor's, attached as a note), bounded in size."""
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    return text if len(text) <= _MAX_TRACEBACK else "...\n" + text[-_MAX_TRACEBACK:]


class ErrorStrategies:
    """The error half of a job runtime (see the module docstring)."""

    # Provided by JobRuntime.
    flow: Flow
    job_state: JobState
    _lock: threading.Lock
    _cond: threading.Condition
    _queue: deque[Activation]
    _timers: dict[Activation, Any]
    _max: int
    _outstanding: int
    _drainers: int
    _inflight: int
    _paused: bool
    _terminal: bool
    _drain: Callable[[], None]
    _spawn_locked: Callable[[int], int]
    _mark_terminal: Callable[[str, str | None], None]
    _finished: Callable[[], None]

    def _handle_error(self, act: Activation, err: BaseException) -> None:
        """Apply the routine's (else the flow's) error strategy to a failed activation."""
        eh = act.routine._error_handler or self.flow._error_handler
        strategy = eh.strategy if eh is not None else ErrorStrategy.STOP
        rid, sn = act.routine_id, act.slot.name
        msg = f"{rid}.{sn}: {type(err).__name__}: {err}"
        js = self.job_state
        fire = False
        act.held = None  # emits of a failed attempt never leave it
        with self._lock:
            self._inflight -= 1
            if self._paused:
                self._cond.notify_all()
            if self._terminal:
                return
            now = time()
            rs = js.routine_states.setdefault(rid, {"status": "pending", "execution_count": 0})
            if eh is not None and eh.should_retry(err, act.attempt + 1):
                act.attempt += 1
                act.premerged = True
                delay = eh.delay_for(act.attempt)
                rs["status"] = "retrying"
                rs["retry_count"] = act.attempt
                js._history.append((rid, sn, "retrying", now, msg))
                self._timers[act] = get_scheduler().call_later(delay, self._redeliver, act)
                return
            rs["execution_count"] = rs.get("execution_count", 0) + 1
            rs["error"] = msg
            next(act.routine._errors)
            js.errors.append({"routine_id": rid, "slot_name": sn, "error": msg,
                              "error_type": type(err).__name__, "timestamp": now,
                              "traceback": _traceback_text(err)})
            if strategy is ErrorStrategy.CONTINUE or strategy is ErrorStrategy.SKIP:
                rs["status"] = "error_continued" if strategy is ErrorStrategy.CONTINUE else "skipped"
                js._history.append((rid, sn, rs["status"], now, msg))
                self._outstanding -= 1
                if self._outstanding == 0:
                    self._mark_terminal("completed", None)
                    fire = True
            else:
                rs["status"] = "failed"
                js._history.append((rid, sn, "failed", now, msg))
                self._mark_terminal("failed", msg)
                fire = True
        if strategy is not ErrorStrategy.RETRY or fire:
            logger.debug("routilux handler error (%s): %s", strategy.value, msg, exc_info=err)
        if fire:
            self._finished()

    def _redeliver(self, act: Activation) -> None:
        """Timer callback: put a retried activation back in the queue (its count was kept)."""
        with self._lock:
            if self._timers.pop(act, None) is None or self._terminal:
                return
            self._queue.append(act)
            spawn = 0 if self._paused else self._spawn_locked(1)
        if spawn:
            _submit(self._drain)

