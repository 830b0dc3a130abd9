"""The drain of jobs whose handlers do not all run inline on a worker thread.

A mixin of :class:`~routilux.runtime.JobRuntime`, installed per job (``_drain`` is replaced on the
instance) only when a job has ``async def`` handlers or a remote executor, so the thread-only hot
path in ``runtime.py`` pays nothing for it.

Runner slots. ``_drainers`` counts running activations: those run inline by a worker thread and
those handed off (a coroutine on the loop, a task on Dask), so ``max_workers`` bounds activations,
not threads. A *pump* is a worker thread popping the queue; it hands activations off (each takes
a slot) and goes on while slots are free. At most one pump is started at a time: a pump that runs
a handler inline (or may block in a debugger's gate) stops being a pump and starts another one if
work is waiting. So 10,000 waiting coroutines cost one loop thread and a pump, not a thread each.
A finished coroutine starts the next queued coroutine on the loop itself with its slot.
"""

from __future__ import annotations

import logging
import threading
from functools import partial
from time import perf_counter, time
from typing import TYPE_CHECKING, Any, Callable

from routilux.activation import _ctx, _cvar
from routilux.error_handler import ErrorStrategy
from routilux.errors import RoutiluxError
from routilux.hooks import _seam
from routilux.pool import get_pool
from routilux.slot import ASYNC, KWARGS, NOARGS, NOHANDLER, OVERRIDE, call_handler, merge

if TYPE_CHECKING:
    from collections import deque

    from routilux.activation import Activation
    from routilux.executors.base import ActivationResult, Executor
    from routilux.flow import Flow
    from routilux.job_state import JobState

__all__ = ["CoroutineCancelled", "OffloadDrain"]

logger = logging.getLogger("routilux.runtime")

_submit = get_pool().submit
_HOLDING = (ErrorStrategy.SKIP, ErrorStrategy.RETRY)


class CoroutineCancelled(RoutiluxError, RuntimeError):
    """An ``async def`` handler's task was cancelled while its job was still running."""


_DONE = object()   # a hand-off that finished before its handle was stored


class OffloadDrain:
    """The hand-off half of a job runtime (see the module docstring)."""

    # Provided by JobRuntime.
    flow: Flow
    job_state: JobState
    _lock: threading.Lock
    _cond: threading.Condition
    _queue: deque[Activation]
    _buffers: dict[Any, Any]
    _parked: set[Activation]
    _max: int
    _outstanding: int
    _drainers: int
    _inflight: int
    _paused: bool
    _terminal: bool
    _mark_terminal: Callable[[str, str | None], None]
    _finished: Callable[[], None]
    _handle_error: Callable[[Activation, BaseException], None]
    _slot_call_hook: Callable[[Any, Activation], None]
    emit: Callable[..., None]

    def _setup_offload(self, executor: Executor | None) -> None:
        self._offload = True
        self._remote = executor if executor is not None and executor.remote else None
        self._handles: dict[Activation, Any] = {}   # handed-off activation -> task / future
        self._loop: Any = None
        self._pumps = 0
        # Instance attributes shadow the thread-only methods for this job alone.
        self._drain = self._drain_offload  # type: ignore[method-assign]
        self._enqueue = self._enqueue_offload  # type: ignore[method-assign]
        self._enqueue_many = self._enqueue_many_offload  # type: ignore[method-assign]
        self._spawn_locked = self._spawn_pump_locked  # type: ignore[method-assign]

    # ----------------------------------------------------------------- queueing
    def _spawn_pump_locked(self, n: int = 1) -> int:
        """Start a pump if none runs and a slot is free (caller holds the lock; submits)."""
        if n > 0 and self._pumps == 0 and self._drainers < self._max and not self._paused \
                and self._queue:
            self._drainers += 1
            self._pumps += 1
            return 1
        return 0

    def _enqueue_offload(self, act: Activation, h: Any) -> None:
        if h is not None:
            self._slot_call_hook(h, act)
        # (``h`` is None when the caller already reported the slot call: read the seam again)
        hooks = _seam.active
        eager = act.slot.kind == ASYNC and self._remote is None and (
            hooks is None or not hooks.gates_activations)
        with self._lock:
            if self._terminal:
                return
            self._outstanding += 1
            self._queue.append(act)
            if eager and len(self._queue) == 1 and not self._paused \
                    and self._drainers < self._max:
                # Nothing waits ahead of it and a slot is free: start the coroutine from this
                # thread (the emitter, or the loop) instead of waking a pump thread for it.
                self._drainers += 1
                act, err, _ = self._take_locked(hooks)
                spawn = -1
            else:
                spawn = self._spawn_pump_locked()
        if spawn > 0:
            _submit(self._drain)
        elif spawn < 0:
            self._start_eagerly(act, err, hooks)

    def _start_eagerly(self, act: Activation, err: BaseException | None, h: Any) -> None:
        if err is None:
            self._started(act, h)
            err = self._dispatch_async(act, h)
            if err is None:
                return   # the coroutine has the slot now
            self._ended(act, h, perf_counter() - act.t0, err)
        self._complete(act, err)
        self._release_slot()

    def _enqueue_many_offload(self, acts: list[Activation], h: Any) -> None:
        if h is not None:
            for act in acts:
                self._slot_call_hook(h, act)
        with self._lock:
            if self._terminal:
                return
            self._outstanding += len(acts)
            self._queue.extend(acts)
            spawn = self._spawn_pump_locked()
        if spawn:
            _submit(self._drain)

    # ----------------------------------------------------------------- the pump
    def _drain_offload(self) -> None:
        """Pump: hand off or run queued activations while the job runs and slots are free."""
        lock = self._lock
        remote = self._remote
        while True:
            with lock:
                if self._terminal or self._paused or not self._queue:
                    self._drainers -= 1
                    self._pumps -= 1
                    return
                h = _seam.active
                act, err, gate = self._take_locked(h)
                inline = err is None and (gate or getattr(act, "run_local", False) or (
                    remote is None and act.slot.kind != ASYNC))
                spawn = 0
                if inline:   # this thread may be busy a while: let another one pump
                    self._pumps -= 1
                    spawn = self._spawn_pump_locked()
            if spawn:
                _submit(self._drain)
            if err is not None:
                if gate:
                    self._parked.discard(act)
                self._complete(act, err)
                continue
            if gate and not self._gate(act, h):
                self._pump_again()
                continue
            self._started(act, h)
            if remote is not None and not getattr(act, "run_local", False):
                err = self._dispatch_remote(act)
            elif act.slot.kind == ASYNC:
                err = self._dispatch_async(act, h)
            else:
                err = self._run_inline(act, h)
                self._ended(act, h, perf_counter() - act.t0, err)
                self._complete(act, err)
                self._pump_again()
                continue
            if err is not None:   # could not even start it: finish it here, keep the slot
                self._ended(act, h, perf_counter() - act.t0, err)
                self._complete(act, err)
                if inline:
                    self._pump_again()
                continue
            # Handed off with its slot: pump on only with a new one.
            with lock:
                if not inline:
                    self._pumps -= 1
                if self._terminal or self._paused or not self._queue \
                        or self._drainers >= self._max or self._pumps > 0:
                    return
                self._drainers += 1
                self._pumps += 1

    def _pump_again(self) -> None:
        # Back from an inline run or a gate, still holding a slot: pump again.
        with self._lock:
            self._pumps += 1

    def _take_locked(self, h: Any) -> tuple[Activation, BaseException | None, bool]:
        # Caller holds the lock; the same steps as the thread drain in runtime.py.
        act = self._queue.popleft()
        self._inflight += 1
        slot = act.slot
        err: BaseException | None = None
        if slot.merge_kind != OVERRIDE and not act.premerged:
            try:
                act.data = merge(slot.merge_kind, slot.merge_strategy, self._buffers,
                                 (act.routine_id, slot.name), act.data.copy())
                act.premerged = True
            except BaseException as e:
                err = e
        eh = act.routine._error_handler or self.flow._error_handler
        if eh is not None and eh.strategy in _HOLDING:
            act.held = []
        gate = h is not None and h.gates_activations
        if gate:
            self._parked.add(act)
        return act, err, gate

    def _gate(self, act: Activation, h: Any) -> bool:
        """``before_activation`` (may block: a debugger); ``False`` when the job ended meanwhile."""
        try:
            h.before_activation(activation=act)
        except Exception:
            logger.exception("routilux hook before_activation raised")
        self._parked.discard(act)
        if self._terminal:
            with self._lock:
                self._inflight -= 1
                self._cond.notify_all()
            return False
        return True

    def _run_inline(self, act: Activation, h: Any) -> BaseException | None:
        slot = act.slot
        kind = slot.kind
        if kind == NOHANDLER:
            return None
        if kind == ASYNC:   # a remote job's activation run here (a debugger's step into)
            return self._run_coroutine_here(act, h)
        data = act.data
        if h is not None and kind not in (KWARGS, NOARGS):
            act.data = data = data.copy()   # observers keep the delivered dict (hooks.py)
        _ctx.act = act
        try:
            call_handler(kind, slot.handler, slot.params, data)
        except BaseException as e:
            return e
        finally:
            _ctx.act = None
        return None

    def _run_coroutine_here(self, act: Activation, h: Any) -> BaseException | None:
        import asyncio

        slot = act.slot
        data = act.data if h is None else act.data.copy()
        act.data = data

        async def main() -> None:
            _cvar.set(act)
            await call_handler(slot.call_kind, slot.handler, slot.params, data)

        try:
            asyncio.run(main())
        except BaseException as e:
            return e
        return None

    @staticmethod
    def _started(act: Activation, h: Any) -> None:
        """Time the activation from now and tell the observer it starts."""
        act.t0 = perf_counter()
        if h is not None:
            try:
                h.on_routine_start(activation=act)
            except Exception:
                logger.exception("routilux hook on_routine_start raised")

    def _ended(self, act: Activation, h: Any, duration: float,
               err: BaseException | None) -> None:
        if h is None:
            h = _seam.active
        if h is not None:
            try:
                h.on_routine_end(activation=act, duration=duration, error=err)
            except Exception:
                logger.exception("routilux hook on_routine_end raised")

    def _complete(self, act: Activation, err: BaseException | None) -> None:
        """Book-keeping of a finished activation (success here; errors by their strategy)."""
        if err is not None:
            self._handle_error(act, err)
            return
        if act.held:
            held, act.held = act.held, None
            self._enqueue_many(held, _seam.active)
        fire = False
        js = self.job_state
        with self._lock:
            self._inflight -= 1
            rid = act.routine_id
            rs = js.routine_states.get(rid)
            if rs is None:
                js.routine_states[rid] = {"status": "completed", "execution_count": 1}
            else:
                rs["execution_count"] += 1
                rs["status"] = "completed"
            js._history.append((rid, act.slot.name, "completed", time(), None))
            next(act.routine._runs)
            self._outstanding -= 1
            if self._outstanding == 0 and not self._terminal:
                self._mark_terminal("completed", None)
                fire = True
            if self._paused:
                self._cond.notify_all()
        if fire:
            self._finished()

    def _release_slot(self) -> None:
        """A handed-off activation finished: free its slot, start a pump if work waits."""
        with self._lock:
            self._drainers -= 1
            spawn = self._spawn_pump_locked()
        if spawn:
            _submit(self._drain)

    # ----------------------------------------------------------------- coroutines
    @staticmethod
    def _coroutine_of(act: Activation, h: Any) -> Any:
        """Call the async handler: its coroutine (raises for arguments it does not take)."""
        slot = act.slot
        data = act.data
        if h is not None and slot.call_kind not in (KWARGS, NOARGS):
            act.data = data = data.copy()   # observers keep the delivered dict (hooks.py)
        return call_handler(slot.call_kind, slot.handler, slot.params, data)

    def _dispatch_async(self, act: Activation, h: Any) -> BaseException | None:
        try:
            coro = self._coroutine_of(act, h)
        except BaseException as e:   # bad arguments: fails before it could start
            return e
        loop = self._loop
        if loop is None:
            from routilux.executors.loop import get_event_loop_thread

            loop = self._loop = get_event_loop_thread()
        loop.call(self._start_task, act, coro)
        return None

    def _start_task(self, act: Activation, coro: Any) -> None:
        # On the loop thread. The task runs in a copy of the context with the activation set,
        # so self.emit / self.job_state resolve per coroutine (and in tasks it spawns).
        if self._terminal:
            coro.close()
            self._coroutine_done(act, None)
            return
        import contextvars

        ctx = contextvars.copy_context()
        ctx.run(_cvar.set, act)
        task = ctx.run(self._loop.loop.create_task, coro)
        self._handles[act] = task
        task.add_done_callback(partial(self._coroutine_done, act))

    def _coroutine_done(self, act: Activation, task: Any) -> None:
        # On the loop thread.
        self._handles.pop(act, None)
        err: BaseException | None
        if task is None or task.cancelled():
            err = CoroutineCancelled(
                f"{act.routine_id}.{act.slot.name}: its coroutine was cancelled"
            )
        else:
            err = task.exception()
        self._ended(act, None, perf_counter() - act.t0, err)
        self._complete(act, err)
        self._continue_on_loop()

    def _continue_on_loop(self) -> None:
        """Reuse a finished coroutine's slot: start the next queued coroutine right here, or
        free the slot for a pump when the next activation may block (sync handler, a gate)."""
        while True:
            h = _seam.active
            with self._lock:
                if self._terminal or self._paused or not self._queue:
                    self._drainers -= 1
                    return
                head = self._queue[0]
                if head.slot.kind != ASYNC or self._remote is not None or (
                        h is not None and h.gates_activations):
                    self._drainers -= 1
                    spawn = self._spawn_pump_locked()
                    act = None
                else:
                    act, err, _ = self._take_locked(h)
            if act is None:
                if spawn:
                    _submit(self._drain)
                return
            if err is not None:
                self._complete(act, err)
                continue
            self._started(act, h)
            try:
                coro = self._coroutine_of(act, h)
            except BaseException as e:
                self._ended(act, h, perf_counter() - act.t0, e)
                self._complete(act, e)
                continue
            self._start_task(act, coro)
            return

    # ----------------------------------------------------------------- remote executors
    def _dispatch_remote(self, act: Activation) -> BaseException | None:
        try:
            # A copy: the handler sees the job's shared data as it was at dispatch.
            shared = dict(self.job_state.shared_data)
            handle = self._remote.submit(self, act, shared,   # type: ignore[union-attr]
                                         partial(self._remote_done, act))
        except BaseException as e:
            return e
        with self._lock:
            if self._handles.pop(act, None) is not _DONE:
                self._handles[act] = handle
        return None

    def _remote_done(self, act: Activation, result: ActivationResult) -> None:
        # The executor's thread: apply on one of ours (delivery may block in a debugger).
        _submit(partial(self._apply_remote, act, result))

    def _apply_remote(self, act: Activation, result: ActivationResult) -> None:
        with self._lock:
            if self._handles.pop(act, None) is None:
                self._handles[act] = _DONE   # finished before dispatch stored its handle
        err = result.error
        if err is not None and result.traceback:
            try:
                err.add_note(f"Remote traceback ({result.worker or 'worker'}):\n"
                             f"{result.traceback}")
            except AttributeError:   # Python < 3.11
                pass
        if not self._terminal:
            js = self.job_state
            if result.shared_set:
                js.shared_data.update(result.shared_set)
            for key in result.shared_deleted:
                js.shared_data.pop(key, None)
            for rid, event_name, data in result.emits:
                try:
                    self.emit(act, rid or act.routine_id, event_name, data)
                except BaseException as e:   # noqa: BLE001 (an unknown event, say)
                    err = err or e
                    break
        self._ended(act, None, result.duration, err)
        self._complete(act, err)
        self._release_slot()

    # ----------------------------------------------------------------- ending
    def _cancel_handed_off(self) -> None:
        """Cancel running coroutines and remote tasks of a job that ended (cancel, failure)."""
        handles = [h for h in list(self._handles.values()) if h is not _DONE]
        if not handles:
            return
        tasks = [h for h in handles if hasattr(h, "get_coro")]
        if tasks and self._loop is not None:
            for task in tasks:
                self._loop.call(task.cancel)
        futures = [h for h in handles if not hasattr(h, "get_coro")]
        if futures and self._remote is not None:
            self._remote.cancel(futures)
