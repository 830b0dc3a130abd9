"""The worker side of a remote activation: run one handler, record what it did.

This module runs inside an executor's worker process (a Dask worker). It needs routilux installed
there, and imports nothing heavy. The routine arrives by value (a notebook-defined class too:
Dask pickles ``__main__`` objects with cloudpickle); ``self.emit`` and ``self.job_state`` work
inside the handler through a stand-in activation that records emits and shared-data writes
instead of delivering them. The client process applies them afterwards, in order.
"""

from __future__ import annotations

import copy
import traceback
from time import perf_counter
from typing import Any

from routilux.activation import _ctx
from routilux.errors import ValidationError
from routilux.executors.base import ActivationResult
from routilux.slot import ASYNC, call_handler

__all__ = ["RemoteJobState", "run_activation"]


class RemoteJobState:
    """What ``self.job_state`` is inside a remote handler: ids and a copy of the shared data.

    Writes to ``shared_data`` (keys set, changed or deleted) travel back with the result and are
    applied to the real job when the activation completes.
    """

    def __init__(self, job_id: str, flow_id: str, shared: dict[str, Any]) -> None:
        self.job_id = job_id
        self.flow_id = flow_id
        self.shared_data = shared
        self.status = "running"

    def update_shared_data(self, key: str, value: Any) -> None:
        """Set one shared-data key (applied to the job when this activation completes)."""
        self.shared_data[key] = value

    def get_shared_data(self, key: str, default: Any = None) -> Any:
        """Read one shared-data key (as it was when the activation was dispatched)."""
        return self.shared_data.get(key, default)


class _Recorder:
    """Stands in for the job runtime on the worker: ``emit`` records instead of delivering."""

    flow = None

    def __init__(self, job_state: RemoteJobState) -> None:
        self.job_state = job_state
        self.emits: list[tuple[str | None, str, dict[str, Any]]] = []

    def emit(self, parent: Any, routine_id: str | None, event_name: str,
             data: dict[str, Any]) -> None:
        self.emits.append((None if routine_id == parent.routine_id else routine_id,
                           event_name, data))


class _RemoteActivation:
    """The execution context of a remote handler (what ``Routine`` reads through ``_ctx``)."""

    __slots__ = ("runtime", "routine", "routine_id", "slot", "data")

    def __init__(self, runtime: _Recorder, routine: Any, routine_id: str, slot: Any,
                 data: dict[str, Any]) -> None:
        self.runtime = runtime
        self.routine = routine
        self.routine_id = routine_id
        self.slot = slot
        self.data = data


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:   # odd __eq__ (arrays): treat as changed, sending it back is harmless
        return False


def run_activation(routine: Any, routine_id: str, slot_name: str, data: dict[str, Any],
                   shared: dict[str, Any], job_id: str, flow_id: str) -> ActivationResult:
    """Run ``routine``'s ``slot_name`` handler with ``data``; never raises (errors are returned)."""
    slot = routine._slots.get(slot_name)
    if slot is None:
        return ActivationResult(error=ValidationError(
            f"{type(routine).__name__} has no slot {slot_name!r} on the worker; the routine "
            "shipped to the workers differs from the flow's"))
    try:
        before = copy.deepcopy(shared)
    except Exception:
        before = None
    js = RemoteJobState(job_id, flow_id, shared)
    rec = _Recorder(js)
    act = _RemoteActivation(rec, routine, routine_id, slot, data)
    prev = _ctx.act
    _ctx.act = act  # a worker thread runs one task at a time: a thread-local is enough
    error: BaseException | None = None
    tb: str | None = None
    t0 = perf_counter()
    try:
        result = call_handler(slot.call_kind, slot.handler, slot.params, data) \
            if slot.handler is not None else None
        if slot.kind == ASYNC:
            result = _run_coroutine(result, act)
    except BaseException as e:  # noqa: BLE001  (the client applies the job's error strategy)
        error = e
        tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    finally:
        duration = perf_counter() - t0
        _ctx.act = prev
    out = ActivationResult(emits=rec.emits, error=error, traceback=tb, duration=duration)
    if before is None:
        out.shared_set = dict(shared)
    else:
        out.shared_set = {k: v for k, v in shared.items()
                          if k not in before or not _same(before[k], v)}
        out.shared_deleted = [k for k in before if k not in shared]
    if error is not None:
        try:   # the exception travels by pickle: keep the type when it can, else its text
            import pickle

            pickle.loads(pickle.dumps(error))
        except Exception:
            out.error = RuntimeError(f"{type(error).__name__}: {error}")
        out.error.__traceback__ = None
    return out


def _run_coroutine(coro: Any, act: _RemoteActivation) -> Any:
    import asyncio

    from routilux.activation import _cvar

    async def main() -> Any:
        _cvar.set(act)  # tasks the handler spawns see the activation too
        return await coro

    return asyncio.run(main())
