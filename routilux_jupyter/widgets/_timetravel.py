"""The JobView's time-travel commands: open a recorded activation, re-run from it, compare jobs.

Functions of a :class:`~routilux_jupyter.widgets._monitoring.MonitoringSource` (bound there as
``_do_<action>``), so they read the followed job the way the other commands do. Everything they
return is JSON for the front end; bad input raises ``routilux.errors`` classes, which the view
turns into a refusal shown next to the control.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from routilux.errors import InvalidStateError, ValidationError
from routilux.monitoring.compare import compare
from routilux.monitoring.recorded import activation_at
from routilux.monitoring.timetravel import record_of
from routilux.service.jsonable import jsonable

if TYPE_CHECKING:
    from routilux.job_state import JobState

__all__ = ["activation", "compare_with", "flow_jobs", "rerun"]

TERMINAL = frozenset({"completed", "failed", "cancelled", "lost"})


def _job(source: Any, job_id: str | None = None) -> JobState:
    """The followed job (or ``job_id``), running or finished, while this kernel still has it."""
    job_id = job_id or source.job_id
    if job_id is None:
        raise InvalidStateError(f"no job of flow {source.flow_id!r} has started yet")
    job = source._job if job_id == source.job_id else None
    if job is None:
        job = source.registry.monitor_collector.job_state(job_id) or source.flow.get_job(job_id)
    if job is None:
        raise InvalidStateError(f"job {job_id} is no longer in this kernel's memory")
    return job


def activation(source: Any, args: dict[str, Any]) -> dict[str, Any]:
    """``{seq}`` -> the recorded activation (input, emits, shared data) at that trace seq."""
    return jsonable(activation_at(record_of(_job(source)), args.get("seq")).to_dict())


def parse_input(raw: Any) -> dict[str, Any] | None:
    """The edited input: JSON text (its parse error is the reason), an object, or null."""
    if raw is None or isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        raise ValidationError("the input must be JSON text or an object")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"The input is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(value, dict):
        raise ValidationError(f"The input must be a JSON object of payload keys, got "
                              f"{type(value).__name__}")
    return value


def rerun(source: Any, args: dict[str, Any]) -> JobState:
    """``{seq, data?}`` -> the fork (a new job of the flow, already running)."""
    return _job(source).rerun_from(args.get("seq"), parse_input(args.get("data")))


def flow_jobs(source: Any, args: dict[str, Any]) -> list[dict[str, Any]]:
    """The other jobs of this flow the collector still holds (to pick one to compare with)."""
    collector = source.registry.monitor_collector
    out = []
    for job_id in reversed(collector.list_jobs()):
        if job_id == source.job_id:
            continue
        job = collector.job_state(job_id)
        if job is None or job.flow_id != source.flow_id:
            continue
        out.append({"job_id": job_id, "status": str(job.status), "label": job.label,
                    "created_at": job.to_dict()["created_at"],
                    "parent_job_id": job.parent_job_id})
    return out


def compare_with(source: Any, args: dict[str, Any]) -> dict[str, Any]:
    """``{job_id}`` -> compare(followed job, that job) as JSON."""
    other = args.get("job_id")
    if not isinstance(other, str) or not other:
        raise ValidationError("pick a job to compare with")
    return jsonable(compare(_job(source), _job(source, other)).to_dict())
