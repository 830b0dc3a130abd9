"""Recorded inputs: each activation's delivered input, its emits and the shared data it began with.

How they are kept, at the cost of one reference per hop (DESIGN.md §9 bar; see
:mod:`~routilux.monitoring.job_record` for the ring layout):

* the ``routine_start`` event of the trace ring holds, as its last field,
  ``(input, source_activation_id, shared_snapshot)``. ``input`` is the dict its handler received,
  *after* merging (or a debugger's edited copy). The engine never changes that dict once
  observers saw it (:mod:`routilux.hooks`), so no copy is made;
* when the job's shared data is not empty at that moment, ``shared_snapshot`` is
  ``dict(job.shared_data)`` (else ``None``): a **shallow** copy. Top-level keys and which object each maps to are as they were when the
  activation began; the values themselves are shared with the job, so a list or dict mutated in
  place by a later handler shows its later state. Keep shared values immutable (or replace them
  rather than mutate) when you want to fork from exact earlier states. Jobs that never use shared
  data pay nothing;
* emits are the ``event_emit`` events tagged with the activation's id.

So recorded inputs live in the trace ring: bounded by ``max_events_per_job`` and trimmed with it.
An activation is addressed by the ``seq`` of its ``routine_start`` event (the ``seq`` of its
``routine_complete`` / ``routine_error`` event is accepted too). :func:`to_json` turns values into
JSON for the history store; values that are not JSON become ``{"__repr__": "..."}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from routilux.errors import ValidationError
from routilux.forking import REPR_KEY, has_repr, to_json
from routilux.monitoring.job_record import W, JobRecord

__all__ = ["REPR_KEY", "RecordedActivation", "RecordedEmit", "activation_at", "activations",
           "has_repr", "to_json"]


@dataclass
class RecordedEmit:
    """One event an activation emitted: its trace ``seq``, name and payload."""

    seq: int
    event_name: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "event_name": self.event_name, "data": to_json(self.data)}


@dataclass
class RecordedActivation:
    """What one activation received, emitted and started from (see the module docstring)."""

    job_id: str
    flow_id: str | None
    seq: int
    activation_id: int
    routine_id: str
    slot_name: str
    input: dict[str, Any]
    shared: dict[str, Any] = field(default_factory=dict)
    emits: list[RecordedEmit] = field(default_factory=list)
    status: str = "running"
    duration: float | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (values that are not JSON as ``{"__repr__": ...}``)."""
        return {
            "job_id": self.job_id, "flow_id": self.flow_id, "seq": self.seq,
            "activation_id": self.activation_id, "routine_id": self.routine_id,
            "slot_name": self.slot_name, "input": to_json(self.input),
            "shared": to_json(self.shared), "emits": [e.to_dict() for e in self.emits],
            "status": self.status, "duration": self.duration, "error": self.error,
        }


def activations(rec: JobRecord) -> list[RecordedActivation]:
    """Every retained activation of the job, in the order they started."""
    base, ring = rec.settle()
    first = max(0, len(ring) // W - rec.cap) * W
    out: list[RecordedActivation] = []
    open_: dict[int, RecordedActivation] = {}   # activation id -> its latest start (retries)
    for i in range(first, len(ring), W):
        etype = ring[i + 1]
        if etype == "routine_start":
            payload, _source, snapshot = ring[i + 5]
            shared: dict[str, Any] = snapshot if snapshot is not None else {}
            act = RecordedActivation(
                job_id=rec.job_id, flow_id=rec.flow_id, seq=base + i // W + 1,
                activation_id=ring[i + 4], routine_id=ring[i + 2], slot_name=ring[i + 3],
                input=payload if payload is not None else {}, shared=shared,
            )
            open_[act.activation_id] = act
            out.append(act)
        elif etype == "event_emit":
            act = open_.get(ring[i + 5])
            if act is not None:
                act.emits.append(RecordedEmit(base + i // W + 1, ring[i + 4], ring[i + 3]))
        elif etype == "routine_complete":
            act = open_.get(ring[i + 4])
            if act is not None:
                act.status, act.duration = "completed", ring[i + 5]
        elif etype == "routine_error":
            detail = ring[i + 3]   # (data, duration, status, slot, event, activation, extra)
            act = open_.get(detail[5])
            if act is not None:
                act.status, act.duration = "failed", detail[1]
                act.error = (detail[6] or {}).get("error")
    return out


def activation_at(rec: JobRecord, seq: Any) -> RecordedActivation:
    """The activation whose trace event has ``seq`` (ValidationError says why when none has)."""
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ValidationError(f"seq must be a positive integer (a trace event's seq), got {seq!r}",
                              detail={"field": "seq"})
    acts = activations(rec)
    for act in acts:
        if act.seq == seq:
            return act
    base, ring = rec.settle()
    total = base + len(ring) // W
    oldest = max(base, total - rec.cap) + 1
    if seq > total:
        raise ValidationError(
            f"Job {rec.job_id} has no trace event {seq} (its last is {total}).",
            detail={"field": "seq", "seq": seq, "last_seq": total},
        )
    if seq < oldest:
        raise ValidationError(
            f"Trace event {seq} of job {rec.job_id} was trimmed from the ring (the oldest kept "
            f"is {oldest}); raise MonitorCollector.set_max_events_per_job to keep more.",
            detail={"field": "seq", "seq": seq, "oldest_seq": oldest},
        )
    i = (seq - base - 1) * W
    etype = ring[i + 1]
    if etype in ("routine_complete", "routine_error"):
        act_id = ring[i + 4] if etype == "routine_complete" else ring[i + 3][5]
        for act in reversed(acts):
            if act.activation_id == act_id and act.seq < seq:
                return act
    starts = [a.seq for a in acts]
    raise ValidationError(
        f"Trace event {seq} of job {rec.job_id} is a {etype} event, not an activation; use the "
        f"seq of a routine_start event (this job's: {starts[:20]}).",
        detail={"field": "seq", "seq": seq, "event_type": etype, "activation_seqs": starts[:200]},
    )
