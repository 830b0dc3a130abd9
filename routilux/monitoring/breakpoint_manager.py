"""Breakpoints on routines, slots and events, scoped to one job or to every job of a flow.

The engine consults breakpoints at every activation, so lookups go through copy-on-write indexes
(``scope -> routine_id -> [Breakpoint]``) that the hot path reads without a lock: with no
breakpoint for a job or its flow, a check is one or two dict lookups. Conditions are compiled when
the breakpoint is set (see :mod:`routilux.monitoring.conditions`); one that fails at evaluation
does not match, and its error is kept on the breakpoint (``last_error``).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from routilux.errors import NotFoundError, ValidationError
from routilux.monitoring.conditions import Condition, ConditionEvalError, compile_condition

__all__ = ["Breakpoint", "BreakpointManager"]

BREAKPOINT_TYPES = ("routine", "slot", "event")
_UNSET: Any = object()


@dataclass
class Breakpoint:
    """Where (and on what condition) a job should pause."""

    breakpoint_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    job_id: str | None = None
    flow_id: str | None = None
    type: str = "routine"
    routine_id: str = ""
    slot_name: str | None = None
    event_name: str | None = None
    condition: str | None = None
    enabled: bool = True
    hit_count: int = 0
    last_error: str | None = None
    _compiled: Condition | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.type not in BREAKPOINT_TYPES:
            raise ValidationError(
                f"breakpoint type {self.type!r} is unknown; use one of {', '.join(BREAKPOINT_TYPES)}",
                detail={"field": "type"},
            )
        if not self.routine_id or not isinstance(self.routine_id, str):
            raise ValidationError("a breakpoint needs routine_id (the routine's id in the flow)",
                                  detail={"field": "routine_id"})
        if self.type == "slot" and not self.slot_name:
            raise ValidationError("a slot breakpoint needs slot_name", detail={"field": "slot_name"})
        if self.type == "event" and not self.event_name:
            raise ValidationError("an event breakpoint needs event_name", detail={"field": "event_name"})
        if self.condition is not None and self.condition.strip() == "":
            self.condition = None
        self._compiled = compile_condition(self.condition) if self.condition is not None else None

    def matches(self, data: Mapping[str, Any] | None, shared: Mapping[str, Any] | None) -> bool:
        """Whether the condition holds (``True`` without a condition); errors mean no match."""
        if self._compiled is None:
            return True
        try:
            return self._compiled.evaluate(data, shared)
        except ConditionEvalError as exc:
            self.last_error = str(exc)
            return False

    def to_dict(self) -> dict[str, Any]:
        """The breakpoint's JSON shape (DESIGN.md §6)."""
        return {
            "breakpoint_id": self.breakpoint_id, "job_id": self.job_id, "flow_id": self.flow_id,
            "type": self.type, "routine_id": self.routine_id, "slot_name": self.slot_name,
            "event_name": self.event_name, "condition": self.condition, "enabled": self.enabled,
            "hit_count": self.hit_count, "last_error": self.last_error,
        }


# index: scope id -> routine id -> tuple of enabled breakpoints
_Index = dict[str, dict[str, tuple[Breakpoint, ...]]]


class BreakpointManager:
    """Holds breakpoints and answers "should this activation / emit pause?" quickly."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._all: dict[str, Breakpoint] = {}
        self._by_job: _Index = {}
        self._by_flow: _Index = {}
        self.active = False   # any enabled breakpoint anywhere (the hot path's one check)
        # Routine ids with any routine/slot (resp. event) breakpoint, whatever the scope: a
        # hop whose routine is not in here skips breakpoint matching with one set lookup.
        self.routine_ids: frozenset[str] = frozenset()
        self.event_routine_ids: frozenset[str] = frozenset()
        # Called (with the lock held) after every change, e.g. by the monitoring hooks, which
        # cache "is anything to check" so a hop without breakpoints reads one attribute.
        self._listeners: list[Callable[[], None]] = []

    # ---- editing ------------------------------------------------------------------------------
    def add_breakpoint(self, breakpoint: Breakpoint) -> Breakpoint:
        """Register a breakpoint (its condition was validated when it was built)."""
        if breakpoint.job_id is None and breakpoint.flow_id is None:
            raise ValidationError(
                "a breakpoint needs job_id (one job) or flow_id (every job of that flow)",
                detail={"field": "job_id"},
            )
        with self._lock:
            self._all[breakpoint.breakpoint_id] = breakpoint
            self._reindex_locked()
        return breakpoint

    def set_breakpoint(
        self, job_id: str | None = None, flow_id: str | None = None, routine_id: str = "",
        slot_name: str | None = None, event_name: str | None = None, type: str | None = None,
        condition: str | None = None, enabled: bool = True,
    ) -> Breakpoint:
        """Create and register a breakpoint; ``type`` defaults from what is given.

        ``event_name`` -> ``"event"``, ``slot_name`` -> ``"slot"``, else ``"routine"``.
        Raises :class:`~routilux.errors.ConditionError` for a condition outside the language.
        """
        if type is None:
            type = "event" if event_name else "slot" if slot_name else "routine"
        bp = Breakpoint(job_id=job_id, flow_id=flow_id, type=type, routine_id=routine_id,
                        slot_name=slot_name, event_name=event_name, condition=condition,
                        enabled=enabled)
        return self.add_breakpoint(bp)

    def remove_breakpoint(self, breakpoint_id: str, job_id: str | None = None) -> Breakpoint:
        """Remove a breakpoint (``job_id``, when given, must match). NotFoundError if absent."""
        with self._lock:
            bp = self._get_locked(breakpoint_id, job_id)
            del self._all[breakpoint_id]
            self._reindex_locked()
        return bp

    def update(
        self, breakpoint_id: str, *, enabled: bool | None = None, condition: Any = _UNSET,
        job_id: str | None = None,
    ) -> Breakpoint:
        """Enable/disable a breakpoint or change its condition (``None`` removes it)."""
        compiled = _UNSET
        if condition is not _UNSET and condition is not None and str(condition).strip():
            compiled = compile_condition(condition)  # validate before changing anything
        with self._lock:
            bp = self._get_locked(breakpoint_id, job_id)
            if enabled is not None:
                bp.enabled = bool(enabled)
            if condition is not _UNSET:
                if compiled is _UNSET:
                    bp.condition, bp._compiled = None, None
                else:
                    bp.condition, bp._compiled = condition, compiled
                bp.last_error = None
            self._reindex_locked()
        return bp

    def get_breakpoint(self, breakpoint_id: str, job_id: str | None = None) -> Breakpoint:
        """One breakpoint by id (``job_id``, when given, must match); NotFoundError if absent."""
        with self._lock:
            return self._get_locked(breakpoint_id, job_id)

    def get_breakpoints(self, job_id: str | None = None, flow_id: str | None = None) -> list[Breakpoint]:
        """Breakpoints that apply to ``job_id`` (its own plus ``flow_id``'s), or all of them."""
        with self._lock:
            items = list(self._all.values())
        if job_id is None and flow_id is None:
            return items
        return [
            bp for bp in items
            if (job_id is not None and bp.job_id == job_id)
            or (flow_id is not None and bp.job_id is None and bp.flow_id == flow_id)
        ]

    def clear_breakpoints(self, job_id: str | None = None, flow_id: str | None = None) -> int:
        """Remove the breakpoints of a job, of a flow, or all; returns how many."""
        with self._lock:
            doomed = [
                bid for bid, bp in self._all.items()
                if (job_id is None and flow_id is None)
                or (job_id is not None and bp.job_id == job_id)
                or (flow_id is not None and bp.job_id is None and bp.flow_id == flow_id)
            ]
            for bid in doomed:
                del self._all[bid]
            self._reindex_locked()
        return len(doomed)

    def _get_locked(self, breakpoint_id: str, job_id: str | None) -> Breakpoint:
        bp = self._all.get(breakpoint_id)
        if bp is None or (job_id is not None and bp.job_id not in (None, job_id)):
            raise NotFoundError(
                f"no breakpoint {breakpoint_id!r}" + (f" for job {job_id!r}" if job_id else "")
                + "; list them with get_breakpoints()",
                detail={"breakpoint_id": breakpoint_id},
            )
        return bp

    def _reindex_locked(self) -> None:
        by_job: _Index = {}
        by_flow: _Index = {}
        for bp in self._all.values():
            if not bp.enabled:
                continue
            index, key = (by_job, bp.job_id) if bp.job_id is not None else (by_flow, bp.flow_id)
            per_routine = index.setdefault(key, {})  # type: ignore[arg-type]
            per_routine[bp.routine_id] = per_routine.get(bp.routine_id, ()) + (bp,)
        # swap whole dicts: readers on worker threads see the old or the new, never half
        enabled = [bp for bp in self._all.values() if bp.enabled]
        self.routine_ids = frozenset(bp.routine_id for bp in enabled if bp.type != "event")
        self.event_routine_ids = frozenset(bp.routine_id for bp in enabled if bp.type == "event")
        self._by_job, self._by_flow = by_job, by_flow
        self.active = bool(by_job or by_flow)
        for listener in self._listeners:
            listener()

    # ---- matching (worker threads) ----------------------------------------------------------
    def candidates(self, job_id: str, flow_id: str | None, routine_id: str) -> Iterable[Breakpoint]:
        """Enabled breakpoints that could apply to ``routine_id`` in this job (may be empty)."""
        by_job, by_flow = self._by_job, self._by_flow
        found: tuple[Breakpoint, ...] = ()
        if by_job:
            per = by_job.get(job_id)
            if per:
                found = per.get(routine_id, ())
        if by_flow and flow_id is not None:
            per = by_flow.get(flow_id)
            if per:
                found = found + per.get(routine_id, ())
        return found

    @property
    def empty(self) -> bool:
        """True when no enabled breakpoint exists anywhere."""
        return not self.active

    def match_activation(
        self, job_id: str, flow_id: str | None, routine_id: str, slot_name: str,
        data: Mapping[str, Any] | None, shared: Mapping[str, Any] | None,
    ) -> Breakpoint | None:
        """The first routine/slot breakpoint that fires before this activation (hit counted)."""
        for bp in self.candidates(job_id, flow_id, routine_id):
            if bp.type == "routine" or (bp.type == "slot" and bp.slot_name == slot_name):
                if bp.matches(data, shared):
                    self._hit(bp)
                    return bp
        return None

    def match_emit(
        self, job_id: str, flow_id: str | None, routine_id: str, event_name: str,
        data: Mapping[str, Any] | None, shared: Mapping[str, Any] | None,
    ) -> Breakpoint | None:
        """The first event breakpoint that fires for this emit (hit counted)."""
        for bp in self.candidates(job_id, flow_id, routine_id):
            if bp.type == "event" and bp.event_name == event_name and bp.matches(data, shared):
                self._hit(bp)
                return bp
        return None

    def _hit(self, bp: Breakpoint) -> None:
        with self._lock:
            bp.hit_count += 1
