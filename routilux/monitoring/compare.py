"""compare(job_a, job_b): what differs between two runs of one flow, routine by routine.

Runs are compared from their recorded inputs (:mod:`~routilux.monitoring.recorded`), as JSON, so
live jobs, jobs of a kernel and jobs read back from the history compare alike. For each routine
the k-th activation in one run is paired with the k-th in the other; the first difference is
reported with a path into the payload (``items[2].price``): first in the inputs, then in the
emits. When one run is a fork of the other, the parent is compared from the fork point on. A routine whose emits differ although its inputs are equal is where behaviour changed
(``origins``); differences downstream of it are marked ``propagated``. Durations and statuses
are reported per routine; durations never count as a difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from routilux.errors import ValidationError

__all__ = ["PayloadDifference", "RoutineDiff", "RunDiff", "compare", "compare_runs",
           "first_difference"]

_MISSING = object()


@dataclass
class PayloadDifference:
    """The first place two payloads differ: ``path`` into them and both values there."""

    kind: str                 # "input", "emit", "emit_count" or "activation_count"
    activation: int           # index of the activation within the routine (0-based)
    path: str
    a: Any
    b: Any
    event_name: str | None = None
    seq_a: int | None = None
    seq_b: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "activation": self.activation, "path": self.path,
                "a": self.a, "b": self.b, "event_name": self.event_name,
                "seq_a": self.seq_a, "seq_b": self.seq_b}


@dataclass
class RoutineDiff:
    """One routine across two runs."""

    routine_id: str
    activations_a: int
    activations_b: int
    status_a: str | None
    status_b: str | None
    duration_a: float | None
    duration_b: float | None
    input_differs: bool = False
    emits_differ: bool = False
    first_difference: PayloadDifference | None = None
    propagated: bool = False

    @property
    def differs(self) -> bool:
        return (self.first_difference is not None or self.status_a != self.status_b)

    def to_dict(self) -> dict[str, Any]:
        change = (None if self.duration_a is None or self.duration_b is None
                  else self.duration_b - self.duration_a)
        return {
            "routine_id": self.routine_id, "differs": self.differs,
            "activations": {"a": self.activations_a, "b": self.activations_b},
            "status": {"a": self.status_a, "b": self.status_b,
                       "changed": self.status_a != self.status_b},
            "duration": {"a": self.duration_a, "b": self.duration_b, "change": change},
            "input_differs": self.input_differs, "emits_differ": self.emits_differ,
            "propagated": self.propagated,
            "first_difference": (None if self.first_difference is None
                                 else self.first_difference.to_dict()),
        }


@dataclass
class RunDiff:
    """Two runs of one flow, compared (see the module docstring)."""

    job_a: str
    job_b: str
    flow_id: str | None
    status_a: str | None
    status_b: str | None
    routines: list[RoutineDiff] = field(default_factory=list)

    @property
    def differing_routines(self) -> list[str]:
        return [r.routine_id for r in self.routines if r.differs]

    @property
    def origins(self) -> list[str]:
        return [r.routine_id for r in self.routines if r.differs and not r.propagated]

    @property
    def same(self) -> bool:
        return not self.differing_routines and self.status_a == self.status_b

    def routine(self, routine_id: str) -> RoutineDiff | None:
        return next((r for r in self.routines if r.routine_id == routine_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_a": self.job_a, "job_b": self.job_b, "flow_id": self.flow_id,
            "same": self.same,
            "status": {"a": self.status_a, "b": self.status_b,
                       "changed": self.status_a != self.status_b},
            "differing_routines": self.differing_routines, "origins": self.origins,
            "routines": [r.to_dict() for r in self.routines],
        }


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def first_difference(a: Any, b: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """``(path, value_a, value_b)`` of the first place two JSON values differ, else ``None``.

    A key present on one side only shows as ``None`` on the other.
    """
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in list(a) + [k for k in b if k not in a]:
            va, vb = a.get(key, _MISSING), b.get(key, _MISSING)
            if va is _MISSING or vb is _MISSING:
                return (_join(path, key), None if va is _MISSING else va,
                        None if vb is _MISSING else vb)
            found = first_difference(va, vb, _join(path, key))
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (va, vb) in enumerate(zip(a, b)):
            found = first_difference(va, vb, _join(path, i))
            if found is not None:
                return found
        if len(a) != len(b):
            i = min(len(a), len(b))
            return (_join(path, i), a[i] if i < len(a) else None, b[i] if i < len(b) else None)
        return None
    if a == b and type(a) is type(b):
        return None
    return (path, a, b)


def _status(acts: list[dict[str, Any]]) -> str | None:
    if not acts:
        return None
    if any(a.get("status") == "failed" for a in acts):
        return "failed"
    return "running" if any(a.get("status") == "running" for a in acts) else "completed"


def _duration(acts: list[dict[str, Any]]) -> float | None:
    values = [a["duration"] for a in acts if isinstance(a.get("duration"), (int, float))]
    return sum(values) if values else None


def _routine_diff(rid: str, xs: list[dict[str, Any]], ys: list[dict[str, Any]]) -> RoutineDiff:
    diff = RoutineDiff(rid, len(xs), len(ys), _status(xs), _status(ys), _duration(xs),
                       _duration(ys))
    for k, (x, y) in enumerate(zip(xs, ys)):
        found = first_difference(x.get("input"), y.get("input"))
        if found is not None:
            diff.input_differs = True
            if diff.first_difference is None:
                diff.first_difference = PayloadDifference("input", k, *found, seq_a=x.get("seq"),
                                                          seq_b=y.get("seq"))
        ex, ey = x.get("emits") or [], y.get("emits") or []
        for e, f in zip(ex, ey):
            found = None
            if e.get("event_name") != f.get("event_name"):
                found = ("", e.get("event_name"), f.get("event_name"))
            else:
                found = first_difference(e.get("data"), f.get("data"))
            if found is not None:
                diff.emits_differ = True
                if diff.first_difference is None:
                    diff.first_difference = PayloadDifference(
                        "emit", k, *found, event_name=e.get("event_name"), seq_a=e.get("seq"),
                        seq_b=f.get("seq"))
                break
        if len(ex) != len(ey):
            diff.emits_differ = True
            if diff.first_difference is None:
                diff.first_difference = PayloadDifference("emit_count", k, "", len(ex), len(ey))
    if len(xs) != len(ys) and diff.first_difference is None:
        diff.first_difference = PayloadDifference("activation_count", min(len(xs), len(ys)), "",
                                                  len(xs), len(ys))
    return diff


def _from_fork_point(run: Mapping[str, Any], other: Mapping[str, Any]) -> Mapping[str, Any]:
    """``run`` without what happened before ``other`` forked from it (the fork never ran that:
    it is not a difference)."""
    fork = other.get("forked_from") or {}
    if fork.get("job_id") != run.get("job_id") or not isinstance(fork.get("seq"), int):
        return run
    acts = [x for x in run.get("activations") or () if x.get("seq", 0) >= fork["seq"]]
    return {**run, "activations": acts}


def compare_runs(a: Mapping[str, Any], b: Mapping[str, Any]) -> RunDiff:
    """Compare two recorded runs ``{job_id, flow_id, status, activations: [...]}`` (JSON)."""
    if a.get("flow_id") != b.get("flow_id"):
        raise ValidationError(
            f"Jobs {a.get('job_id')} and {b.get('job_id')} ran different flows "
            f"({a.get('flow_id')!r} and {b.get('flow_id')!r}); compare runs of one flow.",
            detail={"flow_a": a.get("flow_id"), "flow_b": b.get("flow_id")})
    a, b = _from_fork_point(a, b), _from_fork_point(b, a)
    by_a: dict[str, list[dict[str, Any]]] = {}
    by_b: dict[str, list[dict[str, Any]]] = {}
    order: list[str] = []
    for acts, into in ((a.get("activations") or [], by_a), (b.get("activations") or [], by_b)):
        for act in acts:
            rid = act["routine_id"]
            if rid not in by_a and rid not in by_b:
                order.append(rid)
            into.setdefault(rid, []).append(act)
    out = RunDiff(str(a.get("job_id")), str(b.get("job_id")), a.get("flow_id"),
                  a.get("status"), b.get("status"))
    tainted = False   # a difference upstream already reached this point of the run
    for rid in order:
        diff = _routine_diff(rid, by_a.get(rid, []), by_b.get(rid, []))
        # Runs are in start order: once a routine differed, later input differences (and what
        # they cause) are explained by it unless a routine changes its output on equal input.
        if diff.differs:
            diff.propagated = tainted and (diff.input_differs or not diff.emits_differ)
            tainted = True
        out.routines.append(diff)
    return out


def compare(job_a: Any, job_b: Any) -> RunDiff:
    """Compare two jobs of one flow: JobStates that ran with monitoring on, or recorded runs.

    Different flows raise :class:`routilux.errors.ValidationError` (also a ``ValueError``).
    """
    from routilux.monitoring.timetravel import recorded_run

    runs = [j if isinstance(j, Mapping) else recorded_run(j) for j in (job_a, job_b)]
    return compare_runs(runs[0], runs[1])
