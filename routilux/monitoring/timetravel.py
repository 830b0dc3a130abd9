"""Time travel over recorded jobs: fork from an activation, pin and label jobs, find a job's run.

``rerun_from(job, seq, data=None)`` looks the activation up in the job's trace (recorded inputs,
:mod:`~routilux.monitoring.recorded`) and forks it with :func:`routilux.forking.start_fork`: the
new job starts at that routine's slot with the recorded input (or ``data``) and the shallow
shared-data snapshot taken when the activation began. Comparing two runs is
:mod:`~routilux.monitoring.compare`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from routilux.errors import InvalidStateError, NotFoundError, ValidationError
from routilux.forking import start_fork, to_json
from routilux.monitoring.recorded import RecordedActivation, activation_at, activations

if TYPE_CHECKING:
    from routilux.flow import Flow
    from routilux.job_state import JobState
    from routilux.monitoring.job_record import JobRecord
    from routilux.monitoring.registry import MonitoringRegistry

__all__ = ["annotate", "record_of", "recorded_run", "rerun_at", "rerun_from"]


def record_of(job: JobState) -> JobRecord:
    """The monitoring record of a job (InvalidStateError when monitoring did not see it)."""
    rec = getattr(job, "_monitor_rec", None)
    if rec is None:
        raise InvalidStateError(
            f"Job {job.job_id} has no recorded inputs: monitoring was off when it ran. Call "
            "MonitoringRegistry.enable() (or %load_ext routilux) before starting jobs you want "
            "to re-run from.", detail={"job_id": job.job_id})
    return rec


def _flow_of(job: JobState) -> Flow:
    flow = job.flow
    if flow is None:
        raise InvalidStateError(
            f"Job {job.job_id}'s flow is gone (garbage-collected or loaded from a file); forks "
            "need the live flow.", detail={"job_id": job.job_id})
    return flow


def _fork(flow: Flow, job: JobState, act: RecordedActivation,
          data: dict[str, Any] | None) -> JobState:
    payload = dict(act.input) if data is None else data
    return start_fork(flow, act.routine_id, act.slot_name, payload, shared=act.shared,
                      parent_job_id=job.job_id, seq=act.seq)


def rerun_from(job: JobState, seq: Any, data: dict[str, Any] | None = None) -> JobState:
    """Fork ``job`` from the activation at trace ``seq`` (see the module docstring)."""
    act = activation_at(record_of(job), seq)
    return _fork(_flow_of(job), job, act, data)


def rerun_at(flow: Flow, job: JobState, routine_id: str, slot_name: str,
             data: dict[str, Any] | None = None) -> JobState:
    """Fork ``job`` at ``routine_id.slot_name`` (its latest recorded activation there gives the
    default input and the shared data; without one, ``data`` and the job's shared data now)."""
    if job.flow_id and job.flow_id != flow.flow_id:
        raise ValidationError(f"Job {job.job_id} belongs to flow {job.flow_id!r}, not "
                              f"{flow.flow_id!r}.", detail={"field": "job"})
    rec = getattr(job, "_monitor_rec", None)
    found = None
    if rec is not None:
        for act in reversed(activations(rec)):
            if act.routine_id == routine_id and act.slot_name == slot_name:
                found = act
                break
    if found is not None:
        return _fork(flow, job, found, data)
    if data is None:
        raise NotFoundError(
            f"Job {job.job_id} has no recorded activation of {routine_id}.{slot_name}; pass "
            "data= to give the input.", detail={"routine_id": routine_id, "slot_name": slot_name})
    return start_fork(flow, routine_id, slot_name, data, shared=dict(job.shared_data),
                      parent_job_id=job.job_id)


def recorded_run(job: JobState) -> dict[str, Any]:
    """``{job_id, flow_id, status, activations: [...]}`` as JSON: what compare() reads."""
    rec = record_of(job)
    return {"job_id": job.job_id, "flow_id": job.flow_id, "status": str(job.status),
            "forked_from": job.forked_from, "activations": [a.to_dict() for a in activations(rec)]}


def annotate(job: JobState, *, label: Any = ..., pinned: Any = ...,
             registry: MonitoringRegistry | None = None, history: bool = True) -> dict[str, Any]:
    """Set a job's ``label`` and/or ``pinned`` flag (``...`` = leave as is).

    A pinned job is never evicted by the collector's job limit nor by history retention
    (``history``: also write the change to the registry's history store). Returns ``{job_id, label, pinned}``.
    """
    if label is not ...:
        if label is not None and not isinstance(label, str):
            raise ValidationError("label must be a string or null", detail={"field": "label"})
        job.label = label
    if pinned is not ...:
        if not isinstance(pinned, bool):
            raise ValidationError("pinned must be true or false", detail={"field": "pinned"})
        job.pinned = pinned
    if registry is None:
        from routilux.monitoring.registry import MonitoringRegistry

        registry = MonitoringRegistry.get_instance()
    registry.monitor_collector.set_pinned(job.job_id, job.pinned)
    out = {"job_id": job.job_id, "label": job.label, "pinned": job.pinned}
    store = registry.history_store if history else None
    if store is not None:
        store.record_job(dict(out))
    return to_json(out)
