"""Per-job execution traces and metrics, recorded cheaply on the engine's worker threads.

Hot path (every hook call, see :mod:`routilux.monitoring.monitor_hooks`): find the job's record
and append one short tuple to its buffer, without a lock for sequential jobs (see
:class:`~routilux.monitoring.job_record.JobRecord`). Nothing is counted, summarised or turned into
objects until someone reads: totals and routine metrics are folded out of the entries, and
:class:`ExecutionEvent` objects, payload summaries and :class:`JobMetrics` are built on demand.
Only while someone subscribes live is an event dict built at record time (for
:class:`~routilux.monitoring.event_manager.JobEventManager`), under the record's lock together
with the append, so subscribers see the buffer's order.

Payloads of ``slot_call`` and ``event_emit`` events are the dicts the engine delivered, kept
without copying: the engine never changes a dict it showed to the hooks, a handler that takes the
dict itself gets its own copy, and a debugger's ``set_variable`` edits a copy too (see
:mod:`routilux.hooks`). So later changes do not rewrite earlier events. Values *nested* in a
payload (a list, a dict, an object) are still shared with the handler and summarised only when
read: mutating one in place after it was recorded shows in the trace read later.

Buffer entries: :mod:`routilux.monitoring.job_record`. Times in the buffer are
``time.perf_counter()`` values (routine events reuse the engine's own reads), turned into epoch
seconds when read.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Callable

from routilux.errors import ValidationError
from routilux.monitoring.event_manager import JobEventManager
from routilux.monitoring.job_record import W, JobRecord, expand, full
from routilux.monitoring.records import DictAccess, ExecutionEvent, JobMetrics, RoutineMetrics, iso
from routilux.monitoring.summary import summarize, summarize_mapping

__all__ = ["DictAccess", "ExecutionEvent", "JobMetrics", "MonitorCollector", "RoutineMetrics", "iso"]

DEFAULT_MAX_EVENTS = 1000
# Jobs whose traces and metrics are kept (finished ones are dropped oldest first). A job with a
# full ring is at most ~190 KB, so this bounds the collector near 40 MB; the SQLite history keeps more.
DEFAULT_MAX_JOBS = 200
MAX_ERRORS = 100
TERMINAL = frozenset({"completed", "failed", "cancelled", "lost"})

# indexes into an expanded entry (job_record.expand)
_SEQ, _TS, _TYPE, _RID, _DATA, _DUR, _STATUS, _SLOT, _EVENT, _ACT, _EXTRA = range(11)


class MonitorCollector:
    """Collects traces and metrics per job; read them with the ``get_*`` methods."""

    def __init__(
        self, max_events_per_job: int = DEFAULT_MAX_EVENTS, *,
        event_manager: JobEventManager | None = None, max_jobs: int = DEFAULT_MAX_JOBS,
    ) -> None:
        self._max_events = max_events_per_job
        self._max_jobs = max_jobs
        self._jobs: OrderedDict[str, JobRecord] = OrderedDict()
        self._lock = threading.Lock()
        self.event_manager = event_manager if event_manager is not None else JobEventManager()
        self.event_manager.set_source(self)

    def live_changed(self, live: bool) -> None:
        """The event manager got its first subscriber or lost its last: switch every record
        between the lock-free path and the ordered, publishing one."""
        for rec in list(self._jobs.values()):
            rec.fast = not live and not rec.locked

    def set_locked(self, rec: JobRecord, locked: bool) -> None:
        """Whether hop hooks of this job may race (concurrent strategy): they must lock."""
        rec.locked = locked
        rec.fast = not locked and not self.event_manager.live
        # A first subscriber may have flipped `live` (and swept the records) between our read
        # and our write; read again so a stale True cannot stick.
        if self.event_manager.live:
            rec.fast = False

    # ---- configuration ----------------------------------------------------------------------
    def set_max_events_per_job(self, n: int) -> None:
        """Size of each job's ring buffer (existing jobs keep their newest ``n`` events)."""
        if n < 1:
            raise ValueError("max_events_per_job must be at least 1")
        self._max_events = n
        with self._lock:
            for rec in self._jobs.values():
                with rec.lock:
                    rec.resize(n)

    @property
    def max_events_per_job(self) -> int:
        """Size of each job's ring buffer."""
        return self._max_events

    def set_max_jobs(self, n: int) -> None:
        """How many jobs to keep (default 200); beyond it the oldest *finished* jobs are
        forgotten, at once and as new jobs start. Running and pinned jobs are never dropped."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValidationError(f"max_jobs must be an integer of at least 1, got {n!r}",
                                  detail={"field": "max_jobs"})
        with self._lock:
            self._max_jobs = n
            self._evict_locked()

    def set_pinned(self, job_id: str, pinned: bool = True) -> None:
        """Pin a job: its record is never evicted by :meth:`set_max_jobs` (unpin to allow it)."""
        rec = self._jobs.get(job_id)
        if rec is not None:
            rec.pinned = bool(pinned)
            if not pinned:
                with self._lock:
                    self._evict_locked()

    @property
    def max_jobs(self) -> int:
        """How many jobs are kept (see :meth:`set_max_jobs`)."""
        return self._max_jobs

    # ---- recording (engine threads) -------------------------------------------------------
    def record_for(self, job_id: str, flow_id: str | None = None) -> JobRecord:
        """The job's record, created on first sight (a job may predate ``enable()``)."""
        rec = self._jobs.get(job_id)
        if rec is None:
            with self._lock:
                rec = self._jobs.get(job_id)
                if rec is None:
                    rec = JobRecord(job_id, flow_id, self._max_events)
                    rec.owner = self
                    rec.start_time = time.time()
                    self._jobs[job_id] = rec
                    self._evict_locked()
        return rec

    def _evict_locked(self) -> None:
        if len(self._jobs) <= self._max_jobs:
            return
        for jid in [j for j, r in self._jobs.items() if r.status in TERMINAL and not r.pinned]:
            del self._jobs[jid]
            if len(self._jobs) <= self._max_jobs:
                return

    def append_locked(self, rec: JobRecord, fields: tuple[Any, ...]) -> None:
        """Append one event's ``W`` fields (a layout of :mod:`~routilux.monitoring.job_record`)
        under the job's lock, delivering it to live subscribers in order."""
        em = self.event_manager
        with rec.lock:
            ring = rec.ring
            ring += fields
            # A lock-free writer that has not seen a new subscriber yet may append right after
            # us; look our event up then (publish_late delivers theirs).
            n = len(ring)
            seq = (rec.base + n // W if ring[n - W] is fields[0]
                   else rec.seq_of(fields[0], fields[1]))
            if n > rec.high:
                rec.trim()
            if em.live and seq is not None and em.wants(rec.job_id, rec.flow_id):
                em._deliver(rec.job_id, rec.flow_id, self._entry_dict(rec, expand(seq, fields, 0)))

    def publish_late(self, rec: JobRecord, fields: tuple[Any, ...]) -> None:
        """Deliver an event a lock-free writer appended while a subscriber was registering
        (subscribers drop it if their history already had it)."""
        em = self.event_manager
        with rec.lock:
            seq = rec.seq_of(fields[0], fields[1])
            if seq is not None and em.wants(rec.job_id, rec.flow_id):
                em._deliver(rec.job_id, rec.flow_id, self._entry_dict(rec, expand(seq, fields, 0)))

    @staticmethod
    def trim(rec: JobRecord) -> None:
        """The lock-free writer's buffer passed its high-water mark: fold and trim it."""
        with rec.lock:
            rec.trim()

    def record(
        self, rec: JobRecord, event_type: str, routine_id: str | None, data: Any = None,
        duration: float | None = None, status: str | None = None, slot_name: str | None = None,
        event_name: str | None = None, activation_id: int | None = None, extra: Any = None,
    ) -> None:
        """Append one event to the job's ring (locked; for the less frequent event types)."""
        self.append_locked(rec, full(time.perf_counter(), event_type, routine_id, data, duration,
                                     status, slot_name, event_name, activation_id, extra))

    def job_started(self, job_id: str, flow_id: str | None, total_routines: int,
                    extra: dict[str, Any] | None = None) -> JobRecord:
        """A job started: (re)create its record and trace ``job_start`` (``extra``: fields for
        that event, e.g. a fork's ``parent_job_id`` and ``forked_from``)."""
        rec = self.record_for(job_id, flow_id)
        rec.flow_id = flow_id
        rec.total_routines = total_routines
        rec.status = "running"
        self.record(rec, "job_start", None, status="running", extra=extra)
        return rec

    def job_status(self, job_id: str, status: str, reason: str | None = None) -> None:
        """Trace ``job_paused`` / ``job_resumed`` (ignored once the job has ended: the engine
        reports a resume after waking the job, which may finish first)."""
        rec = self.record_for(job_id)
        with rec.lock:   # (re-entrant) atomic with job_ended's status change
            if rec.status in TERMINAL:
                return
            rec.status = status
            self.record(rec, "job_paused" if status == "paused" else "job_resumed", None,
                        status=status, extra={"reason": reason} if reason else None)

    def job_ended(self, job_id: str, status: str, error: Any = None) -> None:
        """Trace the terminal event and stamp the end time."""
        rec = self.record_for(job_id)
        etype = {"completed": "job_completed", "cancelled": "job_cancelled"}.get(status, "job_failed")
        extra = {"error": str(error)[:1000]} if error else None
        with rec.lock:
            rec.status = status
            rec.end_time = time.time()
            self.record(rec, etype, None, status=status, extra=extra)

    @staticmethod
    def note_error(rec: JobRecord, routine_id: str, slot_name: str, t_end: float,
                   error: BaseException) -> None:
        """Keep the details of a failed activation (its metrics come from its trace entry)."""
        with rec.lock:
            if len(rec.errors) < MAX_ERRORS:
                rec.errors.append({
                    "routine_id": routine_id, "slot_name": slot_name,
                    "error_type": type(error).__name__, "message": str(error)[:1000],
                    "timestamp": iso(t_end + rec.offset),
                })

    # ---- history for subscribers ----------------------------------------------------------
    def subscribe_with_history(
        self, job_id: str, register: Callable[[list[dict[str, Any]]], None]
    ) -> bool:
        """Run ``register(history)`` atomically with respect to new events of ``job_id``."""
        with self._lock:
            rec = self._jobs.get(job_id)
            if rec is None:
                # Not started yet: registering under the collector lock means job creation
                # (which takes it) cannot slip events in between.
                register([])
                return True
        with rec.lock:
            register([self._entry_dict(rec, e) for e in rec.entries()])
        return True

    # ---- reading ------------------------------------------------------------------------------
    @staticmethod
    def _entry_dict(rec: JobRecord, e: tuple[Any, ...]) -> dict[str, Any]:
        """``ExecutionEvent.to_dict()`` of an expanded entry, built directly (live-event path)."""
        data = e[_DATA]
        out = {
            "type": "event", "event_id": f"{rec.job_id}:{e[_SEQ]}", "seq": e[_SEQ],
            "job_id": rec.job_id, "flow_id": rec.flow_id, "routine_id": e[_RID],
            "event_type": e[_TYPE], "timestamp": iso(e[_TS] + rec.offset),
            "data": {} if data is None else summarize_mapping(data) if isinstance(data, dict)
            else {"value": summarize(data)},
            "duration": e[_DUR], "status": e[_STATUS], "slot_name": e[_SLOT],
            "event_name": e[_EVENT], "activation_id": e[_ACT],
        }
        if e[_EXTRA]:
            out.update(e[_EXTRA])
        return out

    @staticmethod
    def _to_event(rec: JobRecord, e: tuple[Any, ...]) -> ExecutionEvent:
        data = e[_DATA]
        if data is None:
            summary: dict[str, Any] = {}
        elif isinstance(data, dict):
            summary = summarize_mapping(data)
        else:
            summary = {"value": summarize(data)}
        return ExecutionEvent(
            event_id=f"{rec.job_id}:{e[_SEQ]}", job_id=rec.job_id, routine_id=e[_RID],
            event_type=e[_TYPE], timestamp=e[_TS] + rec.offset, data=summary, duration=e[_DUR],
            status=e[_STATUS], seq=e[_SEQ], flow_id=rec.flow_id, slot_name=e[_SLOT],
            event_name=e[_EVENT], activation_id=e[_ACT], extra=dict(e[_EXTRA] or {}),
        )

    def get_execution_trace(self, job_id: str, limit: int | None = None) -> list[ExecutionEvent]:
        """The job's retained events, oldest first (the newest ``limit`` when given)."""
        rec = self._jobs.get(job_id)
        if rec is None:
            return []
        entries = rec.entries()
        if limit is not None:
            entries = entries[-limit:] if limit > 0 else []
        return [self._to_event(rec, e) for e in entries]

    @staticmethod
    def _routine_metrics(rec: JobRecord, rid: str, m: tuple[Any, ...]) -> RoutineMetrics:
        count, total, low, high, errors, last_t0, last_duration = m
        status = "failed" if errors else "completed" if count else "pending"
        return RoutineMetrics(
            routine_id=rid, execution_count=count, total_duration=total,
            avg_duration=total / count if count else 0.0, min_duration=low, max_duration=high,
            error_count=errors, last_execution=last_t0 + last_duration + rec.offset,
            status=status,
        )

    def get_routine_metrics(self, job_id: str, routine_id: str) -> RoutineMetrics | None:
        """One routine's metrics in one job, or ``None`` if it never ran there."""
        rec = self._jobs.get(job_id)
        if rec is None:
            return None
        rec.settle()
        m = rec.routines.get(routine_id)
        return None if m is None else self._routine_metrics(rec, routine_id, m)

    def get_metrics(self, job_id: str) -> JobMetrics | None:
        """The job's metrics, or ``None`` for a job this collector never saw."""
        rec = self._jobs.get(job_id)
        if rec is None:
            return None
        with rec.lock:   # folds what the lock-free writer appended since the last read
            base, ring = rec.settle()
            routines = list(rec.routines.items())
            errors = list(rec.errors)
            totals = (base + len(ring) // W, rec.slot_calls, rec.emits)
        rms = {rid: self._routine_metrics(rec, rid, m) for rid, m in routines}
        start, end = rec.start_time, rec.end_time
        duration = None
        if start is not None:
            duration = (end if end is not None else time.time()) - start
        return JobMetrics(
            job_id=job_id, flow_id=rec.flow_id, status=rec.status, start_time=start,
            end_time=end, duration=duration,
            duration_ms=None if duration is None else duration * 1000.0,
            total_routines=max(rec.total_routines, len(rms)),
            completed_routines=sum(1 for r in rms.values() if r.execution_count and not r.error_count),
            failed_routines=sum(1 for r in rms.values() if r.error_count),
            total_events=totals[0], total_slot_calls=totals[1], total_event_emits=totals[2],
            routine_metrics=rms, errors=errors,
        )

    def trace_producer(self, job_id: str) -> Callable[[], list[dict[str, Any]]]:
        """Snapshot the job's ring now; the returned callable builds the event dicts later
        (so a history store can summarise payloads on its own thread, not the engine's)."""
        rec = self._jobs.get(job_id)
        if rec is None:
            return list
        entries = rec.entries()
        return lambda: [self._entry_dict(rec, e) for e in entries]

    def inputs_producer(self, job_id: str) -> Callable[[], list[dict[str, Any]]]:
        """Snapshot the job's recorded activations now (cheap); the returned callable turns them
        into JSON later, on a history store's writer thread."""
        from routilux.monitoring.recorded import activations

        rec = self._jobs.get(job_id)
        if rec is None:
            return list
        acts = activations(rec)
        return lambda: [a.to_dict() for a in acts]

    def recorded_activations(self, job_id: str) -> list[Any]:
        """The job's retained :class:`~routilux.monitoring.recorded.RecordedActivation` s."""
        from routilux.monitoring.recorded import activations

        rec = self._jobs.get(job_id)
        return [] if rec is None else activations(rec)

    def job_state(self, job_id: str) -> Any:
        """The live JobState of a job this collector saw (``None`` once it was collected)."""
        rec = self._jobs.get(job_id)
        ref = rec.job_ref if rec is not None else None
        return ref() if ref is not None else None

    def get_job_status(self, job_id: str) -> str | None:
        """The last status seen for a job, or ``None``."""
        rec = self._jobs.get(job_id)
        return None if rec is None else rec.status

    def ring_length(self, job_id: str) -> int:
        """Events currently retained for a job (what the ring buffer bounds)."""
        rec = self._jobs.get(job_id)
        return 0 if rec is None else len(rec)

    def list_jobs(self) -> list[str]:
        """Ids of the jobs this collector holds, oldest first."""
        return list(self._jobs)

    def clear(self, job_id: str | None = None) -> None:
        """Forget one job (or every job)."""
        with self._lock:
            if job_id is None:
                self._jobs.clear()
            else:
                self._jobs.pop(job_id, None)
