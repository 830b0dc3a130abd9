"""Forks and replays: new jobs of a flow that start from a recorded point of an earlier job.

The engine half of time travel (stdlib only). A *fork* starts a job of the same flow at one
routine's slot with a given input (the recorded one or an edited copy) and a given shared data,
and remembers where it came from: ``parent_job_id`` and ``forked_from = {job_id, seq}``. Nothing
upstream of that slot runs again. A *replay* starts the same flow at the same entry routine,
slot and params as an earlier job. Where recorded inputs come from (the monitoring trace) is
:mod:`routilux.monitoring.timetravel`'s business.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from routilux.errors import InvalidStateError, ValidationError
from routilux.runtime import Activation, JobRuntime

if TYPE_CHECKING:
    from routilux.flow import Flow
    from routilux.job_state import JobState

__all__ = ["REPR_KEY", "has_repr", "replay", "start_fork", "to_json"]

REPR_KEY = "__repr__"
_MAX_REPR = 10_000
_MAX_DEPTH = 64


def to_json(value: Any, _depth: int = 0) -> Any:
    """A JSON-ready copy of ``value``; anything that is not JSON becomes ``{"__repr__": ...}``.

    Unlike the trace's summaries nothing is cut (a fork needs the whole input), except a repr
    (at 10,000 characters) and nesting beyond 64 levels. Tuples become lists.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _marked(value)
    if _depth >= _MAX_DEPTH:
        return _marked(value)
    if isinstance(value, (list, tuple)):
        return [to_json(v, _depth + 1) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: to_json(v, _depth + 1) for k, v in value.items()}
    return _marked(value)


def _marked(value: Any) -> dict[str, str]:
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not lose the record
        text = f"<{type(value).__name__} (repr failed: {type(exc).__name__})>"
    return {REPR_KEY: text[:_MAX_REPR]}


def has_repr(value: Any) -> bool:
    """Whether a :func:`to_json` value holds a marked repr (which cannot be turned back)."""
    if isinstance(value, dict):
        if len(value) == 1 and REPR_KEY in value:
            return True
        return any(has_repr(v) for v in value.values())
    if isinstance(value, list):
        return any(has_repr(v) for v in value)
    return False


def start_fork(
    flow: Flow, routine_id: str, slot_name: str, data: dict[str, Any], *,
    shared: dict[str, Any] | None = None, parent_job_id: str | None = None,
    seq: int | None = None, job_id: str | None = None,
) -> JobState:
    """Start a job of ``flow`` at ``routine_id.slot_name`` with ``data``; returns it running.

    ``data`` is delivered as is, *without* the slot's merge strategy (a recorded input is already
    merged). ``shared`` becomes the new job's shared data (a shallow copy of it).
    """
    from routilux.job_state import JobState

    routine = flow.routines.get(routine_id)
    if routine is None:
        raise ValidationError(
            f"Flow {flow.flow_id!r} has no routine {routine_id!r}; its routines: "
            f"{sorted(flow.routines)}.",
            detail={"field": "routine_id", "routines": sorted(flow.routines)},
        )
    slot = routine._slots.get(slot_name)
    if slot is None:
        raise ValidationError(
            f"Routine {routine_id!r} has no slot {slot_name!r}; its slots: "
            f"{sorted(routine._slots)}.",
            detail={"field": "slot_name", "slots": sorted(routine._slots)},
        )
    check_payload(data, slot, routine_id)
    js = JobState(flow.flow_id, job_id)
    js.shared_data = dict(shared or {})
    js._fork_shared = dict(js.shared_data)  # type: ignore[attr-defined]  # for replay()
    js.parent_job_id = parent_job_id
    js.forked_from = None if parent_job_id is None else {"job_id": parent_job_id, "seq": seq}
    js.entry = {"routine_id": routine_id, "slot_name": slot_name, "params": dict(data)}
    # The same steps as Flow.start, with the entry activation marked as already merged. A fork
    # runs on the flow's executor (the parent's executor object is not kept with the job).
    strategy = flow.execution_strategy
    ex = flow.executor
    js._set_executor(ex)
    rt = JobRuntime(flow, js, 1 if strategy == "sequential" else flow.max_workers,
                    ex if ex.remote else None)
    flow._runtimes[js.job_id] = rt
    js._set_status("running")
    act = Activation(rt, routine_id, routine, slot, dict(data), None, None, 0)
    act.premerged = True
    rt.start(act)
    return js


def check_payload(data: Any, slot: Any, routine_id: str) -> None:
    """ValidationError unless ``data`` is a payload ``slot``'s handler can take."""
    where = f"{routine_id}.{slot.name}"
    if not isinstance(data, dict):
        raise ValidationError(
            f"The input for {where} must be an object of payload keys, got "
            f"{type(data).__name__}.", detail={"field": "data"})
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ValidationError(f"The input for {where} has keys that are not strings: {bad!r}.",
                              detail={"field": "data"})
    if has_repr(data):
        raise ValidationError(
            f"The input for {where} holds a value recorded only as its repr "
            "({'__repr__': ...}); replace it with a real value to re-run.",
            detail={"field": "data"})
    # Keyword-style handlers (one named key, or several) need their required keys: without
    # them the engine would hand over the whole dict or fail inside the handler, never what the
    # user meant by an edited input. **kwargs and ``data`` handlers take any object.
    from routilux.slot import MATCH, SINGLE

    if slot.kind not in (SINGLE, MATCH) or slot.handler is None:
        return
    import inspect

    try:
        sig = inspect.signature(slot.handler)
    except (TypeError, ValueError):
        return
    required = [n for n, p in sig.parameters.items()
                if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    missing = [n for n in required if n not in data]
    if missing:
        raise ValidationError(
            f"The input for {where} lacks {missing}, which its handler requires "
            f"({getattr(slot.handler, '__name__', 'handler')}{sig}).",
            detail={"field": "data", "missing": missing})


def replay(job: JobState) -> JobState:
    """Start ``job``'s flow again at the same entry routine, slot and params."""
    flow = job.flow
    if flow is None:
        raise InvalidStateError(
            f"Job {job.job_id}'s flow is gone (garbage-collected, or the job was loaded from a "
            "file); use flow.start(...) with the same entry instead.",
            detail={"job_id": job.job_id})
    entry = job.entry
    if entry is None:
        raise InvalidStateError(
            f"Job {job.job_id} did not record its entry (it was resumed from a file); start it "
            "with flow.start(...) instead.", detail={"job_id": job.job_id})
    params = entry.get("params") or {}
    if job.forked_from is not None:
        # A fork's entry is the forked routine: replaying it forks again from the same point.
        new = start_fork(flow, entry["routine_id"], entry["slot_name"], params,
                         shared=getattr(job, "_fork_shared", None), parent_job_id=job.parent_job_id,
                         seq=job.forked_from.get("seq"))
    else:
        check_payload(params, flow.routines[entry["routine_id"]]._slots[entry["slot_name"]],
                      entry["routine_id"])
        new = flow.start(entry["routine_id"], params, entry["slot_name"])
    new.replay_of = job.job_id
    return new
