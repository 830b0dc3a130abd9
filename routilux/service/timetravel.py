"""Time travel in the service: re-run, replay, pin/label and diff jobs, as plain Python.

* ``POST /api/jobs/{id}/rerun {seq, data?}`` -> :meth:`TimeTravelService.rerun_job`
* ``POST /api/jobs/{id}/replay`` -> :meth:`TimeTravelService.replay_job`
* ``PUT /api/jobs/{id} {label?, pinned?}`` -> :meth:`TimeTravelService.annotate_job`
* ``GET /api/jobs/{a}/diff/{b}`` -> :meth:`TimeTravelService.diff_jobs`
* ``GET /api/jobs/{id}/activations[?seq=]`` -> :meth:`TimeTravelService.get_activations`

Re-run and replay need the job's owner (the flow and the recorded inputs live there): a job
whose kernel is gone answers :class:`~routilux.errors.OwnerUnavailableError` (503; the history
is read-only). Pins, labels, diffs and recorded activations also work from the history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from routilux.errors import (
    InvalidStateError,
    NotFoundError,
    OwnerUnavailableError,
    ValidationError,
)
from routilux.service.jsonable import jsonable

if TYPE_CHECKING:
    from routilux.job_state import JobState
    from routilux.service.history import History
    from routilux.service.owner import Owner

__all__ = ["JobPatch", "JobRerun", "TimeTravelOwner", "TimeTravelService", "parse_job_patch",
           "parse_rerun"]


@dataclass(frozen=True)
class JobRerun:
    """``POST /api/jobs/{id}/rerun``: fork from the activation at ``seq`` (``data``: edited input)."""

    seq: int
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class JobPatch:
    """``PUT /api/jobs/{id}``: only the given fields change (``set_label`` tells null from absent)."""

    label: str | None = None
    set_label: bool = False
    pinned: bool | None = None


def _object(body: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ValidationError(
            f"The request body for {what} must be a JSON object, got {type(body).__name__}.",
            detail={"field": None})
    return body


def parse_rerun(body: Any) -> JobRerun:
    """Check ``{seq, data?}``: ``seq`` a positive integer, ``data`` an object or null."""
    body = _object(body, "a re-run")
    unknown = sorted(set(body) - {"seq", "data"})
    if unknown:
        raise ValidationError(f"Unknown field(s) {unknown} in a re-run; send {{seq, data?}}.",
                              detail={"field": unknown[0]})
    seq = body.get("seq")
    if seq is None:
        raise ValidationError("Missing required field 'seq' (the trace seq of the activation's "
                              "routine_start event, e.g. 7).", detail={"field": "seq"})
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValidationError(f"'seq' must be a positive integer, got {seq!r}.",
                              detail={"field": "seq"})
    data = body.get("data")
    if data is not None and not isinstance(data, Mapping):
        raise ValidationError(f"'data' must be an object of payload keys (the slot's input), "
                              f"got {type(data).__name__}.", detail={"field": "data"})
    return JobRerun(seq, None if data is None else dict(data))


def parse_job_patch(body: Any) -> JobPatch:
    """Check ``{label?, pinned?}`` (at least one of them)."""
    body = _object(body, "a job update")
    unknown = sorted(set(body) - {"label", "pinned"})
    if unknown:
        raise ValidationError(f"Unknown field(s) {unknown} in a job update; send "
                              "{label?, pinned?}.", detail={"field": unknown[0]})
    if not body:
        raise ValidationError("Send 'label' and/or 'pinned' to update a job.",
                              detail={"field": None})
    label = body.get("label")
    if label is not None and (not isinstance(label, str) or len(label) > 200):
        raise ValidationError(f"'label' must be a string of at most 200 characters or null, got "
                              f"{label!r}.", detail={"field": "label"})
    pinned = body.get("pinned")
    if "pinned" in body and not isinstance(pinned, bool):
        raise ValidationError(f"'pinned' must be true or false, got {pinned!r}.",
                              detail={"field": "pinned"})
    return JobPatch(label=label, set_label="label" in body, pinned=pinned)


class TimeTravelOwner:
    """The time-travel operations of :class:`~routilux.service.local_owner.LocalOwner`
    (a mixin: it uses the owner's ``_job``, ``jobs``, ``job_dict``, ``_job_ended``)."""

    _monitoring: Any

    def _adopt_fork(self, job: JobState) -> dict[str, Any]:
        self.jobs.add(job)  # type: ignore[attr-defined]
        job.add_done_callback(self._job_ended)  # type: ignore[attr-defined]
        # Reported as started (a short job may already have ended; GET it for its status now).
        return {**self.job_dict(job), "status": "running"}  # type: ignore[attr-defined]

    def rerun_job(self, job_id: str, rerun: JobRerun) -> dict[str, Any]:
        job = self._job(job_id)  # type: ignore[attr-defined]
        return self._adopt_fork(job.rerun_from(rerun.seq, rerun.data))

    def replay_job(self, job_id: str) -> dict[str, Any]:
        job = self._job(job_id)  # type: ignore[attr-defined]
        return self._adopt_fork(job.replay())

    def annotate_job(self, job_id: str, patch: JobPatch) -> dict[str, Any]:
        from routilux.monitoring.timetravel import annotate

        job = self._job(job_id)  # type: ignore[attr-defined]
        annotate(job, label=patch.label if patch.set_label else ...,
                 pinned=... if patch.pinned is None else patch.pinned,
                 registry=self._monitoring, history=False)
        return self.job_dict(job)  # type: ignore[attr-defined]

    def get_run(self, job_id: str) -> dict[str, Any]:
        from routilux.monitoring.timetravel import recorded_run

        return jsonable(recorded_run(self._job(job_id)))  # type: ignore[attr-defined]


class TimeTravelService:
    """The time-travel operations of :class:`~routilux.service.service.RoutiluxService`
    (a mixin: it uses the service's ``_job_owner``, ``history`` and ``_job_not_found``)."""

    history: History | None

    def _history_job(self, job_id: str) -> dict[str, Any]:
        past = self.history.get_job(job_id) if self.history is not None else None
        if past is None:
            raise self._job_not_found(job_id)  # type: ignore[attr-defined]
        return past

    def _forking_owner(self, job_id: str, action: str) -> Owner:
        owner = self._job_owner(job_id)  # type: ignore[attr-defined]
        if owner is not None:
            return owner
        past = self._history_job(job_id)
        where = (past.get("owner") or {})
        if where.get("kind") == "kernel":
            raise OwnerUnavailableError(
                f"Job {job_id!r} ran in kernel {where.get('kernel_id')}, which is no longer "
                f"connected; the history is read-only, so it cannot {action}. Run the notebook "
                "again (with `%load_ext routilux`) and re-run from a new job.",
                detail={"job_id": job_id, "kernel_id": where.get("kernel_id")})
        raise InvalidStateError(
            f"Job {job_id!r} is only in the history (its process restarted or it was dropped "
            f"from memory); the history is read-only, so it cannot {action}.",
            detail={"job_id": job_id, "status": past.get("status")})

    def rerun_job(self, job_id: str, body: Any) -> dict[str, Any]:
        """Fork a job from one of its activations; returns the new job (status ``running``)."""
        rerun = parse_rerun(body)
        return self._forking_owner(job_id, "be re-run").rerun_job(job_id, rerun)

    def replay_job(self, job_id: str) -> dict[str, Any]:
        """Run a job's flow again with the same entry routine, slot and params."""
        return self._forking_owner(job_id, "be replayed").replay_job(job_id)

    def annotate_job(self, job_id: str, body: Any) -> dict[str, Any]:
        """Set ``label`` and/or ``pinned``; pinned jobs are never evicted nor pruned."""
        patch = parse_job_patch(body)
        owner = self._job_owner(job_id)  # type: ignore[attr-defined]
        if owner is None:
            job = dict(self._history_job(job_id))
        else:
            job = owner.annotate_job(job_id, patch)
        fields: dict[str, Any] = {}
        if patch.set_label:
            fields["label"] = patch.label
        if patch.pinned is not None:
            fields["pinned"] = patch.pinned
        job.update(fields)
        annotate = getattr(self.history, "annotate", None)
        if annotate is not None:   # the server's history is the record that survives restarts
            annotate(job_id, fields)
        return job

    def get_run(self, job_id: str) -> dict[str, Any]:
        """``{job_id, flow_id, status, forked_from, activations: [...]}`` (live or history)."""
        owner = self._job_owner(job_id)  # type: ignore[attr-defined]
        if owner is not None:
            return owner.get_run(job_id)
        past = self._history_job(job_id)
        inputs = getattr(self.history, "get_inputs", None)
        return {"job_id": job_id, "flow_id": past.get("flow_id"), "status": past.get("status"),
                "forked_from": past.get("forked_from"),
                "activations": inputs(job_id) if inputs is not None else []}

    def get_activations(self, job_id: str, seq: Any = None) -> dict[str, Any]:
        """``{activations: [...], total}``: recorded inputs and emits (one when ``seq`` given)."""
        acts = self.get_run(job_id)["activations"]
        if seq is not None:
            try:
                wanted = int(seq)
            except (TypeError, ValueError):
                raise ValidationError(f"'seq' must be an integer, got {seq!r}.",
                                      detail={"field": "seq"}) from None
            acts = [a for a in acts if a.get("seq") == wanted]
            if not acts:
                raise NotFoundError(f"Job {job_id!r} has no recorded activation at seq {wanted}.",
                                    detail={"job_id": job_id, "seq": wanted})
        return {"activations": acts, "total": len(acts)}

    def diff_jobs(self, job_a: str, job_b: str) -> dict[str, Any]:
        """Compare two runs of one flow (different flows: ValidationError, 400)."""
        from routilux.monitoring.compare import compare_runs

        return jsonable(compare_runs(self.get_run(job_a), self.get_run(job_b)).to_dict())
