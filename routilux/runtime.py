"""Per-job runtime: task queue, drainers on the worker pool, pause/cancel, retries, hook points.

Counting rule: ``_outstanding`` is +1 when an activation is queued and -1 once it has finished
(its emits are already queued by then, because emits enqueue synchronously). A scheduled retry keeps
its count. Reaching zero makes the job terminal; nobody polls. Everything job-specific lives here or
in the job's :class:`~routilux.job_state.JobState`, never on routines or slots (they are shared).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import deque
from time import perf_counter, time
from typing import TYPE_CHECKING, Any

from routilux.activation import Activation, _ctx, _trim, current_activation
from routilux.error_handler import ErrorStrategy
from routilux.errors import InvalidStateError
from routilux.hooks import _seam
from routilux.pool import get_pool
from routilux.runtime_errors import ErrorStrategies
from routilux.runtime_offload import OffloadDrain
from routilux.slot import CUSTOM, DATA, KWARGS, NOARGS, NOHANDLER, OVERRIDE, call_handler, merge

if TYPE_CHECKING:
    from routilux.executors.base import Executor
    from routilux.flow import Flow
    from routilux.job_state import JobState

__all__ = ["Activation", "JobRuntime", "current_activation"]

logger = logging.getLogger(__name__)

_submit = get_pool().submit
_HOLDING = (ErrorStrategy.SKIP, ErrorStrategy.RETRY)


class JobRuntime(ErrorStrategies, OffloadDrain):
    """The live machinery of one job (see module docstring for the counting rule).

    ``executor`` is where handlers run (``None``: this process's threads). Jobs whose handlers
    all run inline keep the thread drain below; a job with ``async def`` handlers or a remote
    executor gets the hand-off drain of :mod:`routilux.runtime_offload` instead.
    """

    def __init__(self, flow: Flow, job_state: JobState, max_drainers: int,
                 executor: Executor | None = None) -> None:
        self.flow = flow
        self.job_state = job_state
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: deque[Activation] = deque()
        self._routes = flow._routes
        self._max = max(1, int(max_drainers))
        self._outstanding = 0
        self._drainers = 0
        self._inflight = 0
        self._parked: set[Activation] = set()
        self._timers: dict[Activation, Any] = {}
        self._buffers: dict[tuple[str, str], Any] = {}
        self._paused = False
        self._cancelled = False
        self._terminal = False
        self.pause_reason: str | None = None
        self.executor = executor
        self._offload = False
        if (executor is not None and executor.remote) or flow._has_async_slots():
            self._setup_offload(executor)
        job_state._runtime = self
        job_state._flow_ref = weakref.ref(flow)

    # ----------------------------------------------------------------- observer API (hooks.py)
    @property
    def is_paused(self) -> bool:
        """True while the job is paused."""
        return self._paused

    @property
    def is_cancelled(self) -> bool:
        """True once the job was cancelled."""
        return self._cancelled

    @property
    def is_terminal(self) -> bool:
        """True once the job completed, failed or was cancelled."""
        return self._terminal

    @property
    def runs_remotely(self) -> bool:
        """True when the job's handlers run on a remote executor (Dask), not in this process."""
        return self._offload and self._remote is not None

    @property
    def max_workers(self) -> int:
        """How many activations of this job may run at once (1: the sequential strategy)."""
        return self._max

    def pause(self, reason: str | None = None) -> None:
        """Pause the job: its workers stop at their next activation boundary."""
        with self._lock:
            if self._terminal:
                raise InvalidStateError(
                    f"Job {self.job_state.job_id} is {self.job_state.status}; only a running job "
                    "can be paused"
                )
            if self._paused:
                return
            self._paused = True
            self.pause_reason = reason
            self.job_state._set_status("paused")
        self._status_hook("paused")

    def resume(self) -> None:
        """Resume a paused job (no-op when it is running)."""
        with self._lock:
            if self._terminal:
                raise InvalidStateError(
                    f"Job {self.job_state.job_id} is {self.job_state.status}; a finished job "
                    "cannot be resumed"
                )
            if not self._paused:
                return
            self._paused = False
            self.pause_reason = None
            self.job_state._set_status("running")
            self._cond.notify_all()
            spawn = self._spawn_locked(len(self._queue))
        for _ in range(spawn):
            _submit(self._drain)
        self._status_hook("running")

    def cancel(self, reason: str | None = None) -> bool:
        """Cancel the job at once: queued tasks are dropped, paused workers released.

        Returns ``False`` when the job was already terminal.
        """
        with self._lock:
            if self._terminal:
                return False
            self._cancelled = True
            self._paused = False
            self._mark_terminal("cancelled", reason)
        self._finished()
        return True

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block this worker while the job is paused; ``False`` when it ended meanwhile.

        With a ``timeout`` that passes while still paused it returns ``True``: check
        ``is_paused`` to tell "resumed" from "still paused".
        """
        with self._lock:
            if self._paused and not self._terminal:
                self._cond.wait_for(lambda: not self._paused or self._terminal, timeout)
            return not self._terminal

    def pending_tasks(self) -> list[dict[str, Any]]:
        """Snapshot of activations not yet started: parked, queued, waiting for a retry."""
        with self._lock:
            return self._pending_locked()

    def _pending_locked(self) -> list[dict[str, Any]]:
        acts = [*self._parked, *self._queue, *self._timers]
        return [a.to_dict() for a in acts]

    def snapshot(self, timeout: float = 30.0) -> dict[str, Any]:
        """A consistent picture for save(): when paused, waits until no handler is mid-run."""
        cur = _ctx.act
        me = 1 if cur is not None and cur.runtime is self else 0  # saving from its own handler
        with self._lock:
            if self._paused and not self._terminal:
                ok = self._cond.wait_for(
                    lambda: self._inflight - me == len(self._parked) or self._terminal, timeout
                )
                if not ok:
                    raise InvalidStateError(
                        f"Job {self.job_state.job_id}: a handler is still running after "
                        f"{timeout}s; save again once it returns"
                    )
            pending = [] if self._terminal else self._pending_locked()
            buffers = [
                {"routine_id": rid, "slot_name": sn, "data": buf}
                for (rid, sn), buf in self._buffers.items()
            ]
        return {"pending": pending, "buffers": buffers}

    # ----------------------------------------------------------------- scheduling
    def start(self, entry: Activation) -> None:
        """Queue the entry activation (status already ``running``)."""
        h = _seam.active
        if h is not None:
            try:
                h.on_job_start(job_state=self.job_state, flow=self.flow)
            except Exception:
                logger.exception("routilux hook on_job_start raised")
        self._enqueue(entry, h)

    def restore(self, tasks: list[dict[str, Any]], buffers: list[dict[str, Any]]) -> None:
        """Rebuild queue and merge buffers from a saved snapshot, then start draining."""
        routines = self.flow.routines
        acts = []
        for t in tasks:
            rid, sn = t["routine_id"], t["slot_name"]
            routine = routines[rid]
            act = Activation(self, rid, routine, routine._slots[sn], dict(t["data"]), None, None, 0)
            act.attempt = int(t.get("attempt", 0))
            act.premerged = bool(t.get("premerged", False))
            acts.append(act)
        for b in buffers:
            self._buffers[(b["routine_id"], b["slot_name"])] = b["data"]
        h = _seam.active
        if h is not None:
            try:
                h.on_job_start(job_state=self.job_state, flow=self.flow)
            except Exception:
                logger.exception("routilux hook on_job_start raised")
        with self._lock:
            self._outstanding += len(acts)
            self._queue.extend(acts)
            if not acts:
                self._mark_terminal("completed", None)
                fire = True
            else:
                fire = False
                spawn = self._spawn_locked(len(acts))
        if fire:
            self._finished()
            return
        for _ in range(spawn):
            _submit(self._drain)

    def emit(self, parent: Activation | None, routine_id: str, event_name: str,
             data: dict[str, Any]) -> None:
        """Deliver ``data`` from ``routine_id.event_name`` to every connected slot of this job."""
        targets = self._routes.get((routine_id, event_name))
        if targets is None:
            targets = self.flow._build_route(routine_id, event_name)
        h = _seam.active
        if h is not None:
            try:
                h.on_event_emit(activation=parent, job_state=self.job_state,
                                routine_id=routine_id, event_name=event_name, data=data)
            except Exception:
                logger.exception("routilux hook on_event_emit raised")
        if not targets:
            return
        depth = parent.depth + 1 if parent is not None else 1
        if len(targets) == 1:
            rid, routine, slot, mapping = targets[0]
            payload = mapping(data) if mapping else data
            act = Activation(self, rid, routine, slot, payload, parent, event_name, depth)
            if not depth & 63:
                _trim(act)
            if parent is not None and parent.held is not None:
                parent.held.append(act)
                return
            if h is not None:
                try:
                    h.on_slot_call(job_state=self.job_state, routine_id=rid, slot_name=slot.name,
                                   data=payload, source=parent)
                except Exception:
                    logger.exception("routilux hook on_slot_call raised")
            self._enqueue(act, None)
            return
        acts = []
        first = True
        for rid, routine, slot, mapping in targets:
            # Each target gets its own dict, so one handler mutating its payload cannot leak.
            payload = mapping(data) if mapping else (data if first else dict(data))
            first = False
            acts.append(Activation(self, rid, routine, slot, payload, parent, event_name, depth))
        if not depth & 63:
            _trim(acts[0])  # siblings share the parent, so one cut serves them all
        if parent is not None and parent.held is not None:
            parent.held.extend(acts)
        else:
            self._enqueue_many(acts, h)

    def _spawn_locked(self, n: int) -> int:
        """Reserve up to ``n`` new drainers (caller holds the lock and submits them)."""
        spawn = min(n, self._max - self._drainers)
        if spawn <= 0:
            return 0
        self._drainers += spawn
        return spawn

    def _enqueue(self, act: Activation, h: Any) -> None:
        if h is not None:
            self._slot_call_hook(h, act)
        lock = self._lock
        lock.acquire()
        if self._terminal:
            lock.release()
            return
        self._outstanding += 1
        self._queue.append(act)
        if self._drainers < self._max and not self._paused:
            self._drainers += 1
            lock.release()
            _submit(self._drain)
        else:
            lock.release()

    def _enqueue_many(self, acts: list[Activation], h: Any) -> None:
        if h is not None:
            for act in acts:
                self._slot_call_hook(h, act)
        with self._lock:
            if self._terminal:
                return
            self._outstanding += len(acts)
            self._queue.extend(acts)
            spawn = 0 if self._paused else min(len(acts), self._max - self._drainers)
            if spawn > 0:
                self._drainers += spawn
        for _ in range(spawn):
            _submit(self._drain)

    def _slot_call_hook(self, h: Any, act: Activation) -> None:
        try:
            h.on_slot_call(job_state=self.job_state, routine_id=act.routine_id,
                           slot_name=act.slot.name, data=act.data, source=act.parent)
        except Exception:
            logger.exception("routilux hook on_slot_call raised")

    def _status_hook(self, status: str) -> None:
        h = _seam.active
        if h is not None:
            try:
                h.on_job_status(job_state=self.job_state, flow=self.flow, status=status)
            except Exception:
                logger.exception("routilux hook on_job_status raised")

    # ----------------------------------------------------------------- the worker loop
    def _drain(self) -> None:
        """Run queued activations until the queue is empty, the job pauses or it ends."""
        lock = self._lock
        queue = self._queue
        ctx = _ctx
        js = self.job_state
        hist = js._history.append
        states = js.routine_states
        flow = self.flow
        buffers = self._buffers
        act: Activation | None = None
        fire = False
        while True:
            lock.acquire()
            if act is not None:
                # Book-keeping of the activation that just succeeded.
                self._inflight -= 1
                rid = act.routine_id
                rs = states.get(rid)
                if rs is None:
                    states[rid] = {"status": "completed", "execution_count": 1}
                else:
                    rs["execution_count"] += 1
                    rs["status"] = "completed"
                hist((rid, act.slot.name, "completed", time(), None))
                next(act.routine._runs)
                self._outstanding -= 1
                if self._outstanding == 0 and not self._terminal:
                    self._mark_terminal("completed", None)
                    fire = True
                if self._paused:
                    self._cond.notify_all()
                act = None
            while self._paused and not self._terminal:
                self._cond.wait()
            if self._terminal or not queue:
                self._drainers -= 1
                lock.release()
                if fire:
                    self._finished()
                return
            act = queue.popleft()
            self._inflight += 1
            slot = act.slot
            h = _seam.active
            err: BaseException | None = None
            if slot.merge_kind != OVERRIDE and not act.premerged:
                try:
                    new = act.data
                    if h is not None and slot.merge_kind == CUSTOM:
                        new = new.copy()   # user code: observers keep the delivered dict
                    act.data = merge(slot.merge_kind, slot.merge_strategy, buffers,
                                     (act.routine_id, slot.name), new)
                    act.premerged = True
                except BaseException as e:
                    err = e
            eh = act.routine._error_handler or flow._error_handler
            if eh is not None and eh.strategy in _HOLDING:
                act.held = []
            # Parked while before_activation runs: a debugger may block there, and a snapshot
            # of the paused job must list this activation as pending. An observer with nothing
            # to steer right now says so (gates_activations), sparing the call and the parking.
            gate = h is not None and h.gates_activations
            if gate:
                self._parked.add(act)
            lock.release()
            if err is None:
                kind = slot.kind
                if h is None:
                    # The hot path: no observer, no timing, one thread-local store.
                    ctx.act = act
                    try:
                        if kind == KWARGS:
                            slot.handler(**act.data)
                        elif kind == DATA:
                            slot.handler(act.data)
                        elif kind != NOHANDLER:
                            if kind == NOARGS:
                                slot.handler()
                            else:
                                call_handler(kind, slot.handler, slot.params, act.data)
                    except BaseException as e:
                        err = e
                    ctx.act = None
                else:
                    # The observed path, inlined (a helper call per hop costs more than the
                    # hooks' own work). Try blocks are free in 3.11 until something raises.
                    if gate:
                        try:
                            h.before_activation(activation=act)
                        except Exception:
                            logger.exception("routilux hook before_activation raised")
                        # Set ops are atomic under the GIL: no second lock round trip per hop.
                        self._parked.discard(act)
                        if self._terminal:  # cancelled (or failed elsewhere) while parked: drop
                            act = None
                            with lock:
                                self._inflight -= 1
                                self._cond.notify_all()
                            continue
                    # One clock read starts both the activation's timing and its trace: the
                    # duration covers on_routine_start + handler, and observers read act.t0
                    # instead of reading the clock again.
                    act.t0 = t0 = perf_counter()
                    try:
                        h.on_routine_start(activation=act)
                    except Exception:
                        logger.exception("routilux hook on_routine_start raised")
                    ctx.act = act
                    try:
                        if kind == KWARGS:
                            slot.handler(**act.data)
                        elif kind != NOHANDLER:
                            if kind == NOARGS:
                                slot.handler()
                            else:
                                # The handler may get the dict itself, and observers keep
                                # the delivered one (hooks.py): hand it a copy instead.
                                act.data = data = act.data.copy()
                                if kind == DATA:
                                    slot.handler(data)
                                else:
                                    call_handler(kind, slot.handler, slot.params, data)
                    except BaseException as e:
                        err = e
                    duration = perf_counter() - t0
                    ctx.act = None
                    try:
                        h.on_routine_end(activation=act, duration=duration, error=err)
                    except Exception:
                        logger.exception("routilux hook on_routine_end raised")
            elif gate:
                self._parked.discard(act)
            if err is not None:
                self._handle_error(act, err)  # does its own book-keeping
                act = None
            elif act.held:
                held, act.held = act.held, None
                self._enqueue_many(held, _seam.active)

    # ----------------------------------------------------------------- ending
    def _mark_terminal(self, status: str, error: str | None) -> None:
        # Caller holds the lock. Drop queued work at once so cancel never waits on it.
        self._terminal = True
        self._queue.clear()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._outstanding = 0
        js = self.job_state
        if error is not None and status == "failed":
            js.error = error
        elif error is not None:
            js.cancel_reason = error
        js._set_status(status)
        js._set_completed()
        self._cond.notify_all()

    def _finished(self) -> None:
        # Runs exactly once per job, outside the lock: unregister, hooks, wake waiters.
        js = self.job_state
        self.flow._runtimes.pop(js.job_id, None)
        if self._offload:
            self._cancel_handed_off()
        h = _seam.active
        if h is not None:
            try:
                h.on_job_end(job_state=js, flow=self.flow)
            except Exception:
                logger.exception("routilux hook on_job_end raised")
        js._fire_done()

