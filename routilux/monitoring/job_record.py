"""One job's monitoring record: its trace buffer and the metrics folded out of it.

Budget: with monitoring on a hop may cost at most twice a hop with it off (DESIGN.md §9), and
what a hop *retains* dominates that cost on this kind of VM (new memory means page faults, cache
misses and GC passes over a growing heap). So a hop records four events made of values that
already exist, and everything else is derived later:

* no sequence number is stored: an event's seq is its position (``base + index + 1``, ``base``
  counting the events trimmed away), which is also the order of appends;
* no counter or metric is updated per hop: totals and per-routine metrics are *folded* out of the
  events, once each, when someone reads them or just before old events are trimmed;
* payloads are not copied: the engine never changes a payload dict it showed to the hooks (a
  handler that takes the dict itself gets its own copy, see :mod:`routilux.hooks`), so the trace
  keeps the very dict that was delivered.

The buffer is flat: each event is six consecutive fields (``W``), so recording one extends a list
by a short-lived tuple (freed at once, reused from the allocator's free list) instead of keeping a
tuple per event (new memory, and one more object for every GC pass to walk). Event layouts
(``ts``/``t0`` are ``time.perf_counter()`` values; epoch = ``ts + record.offset``):

* ``ts, "slot_call", routine_id, payload, slot_name, source_activation_id``
* ``t0, "routine_start", routine_id, slot_name, activation_id, (input, source_activation_id,
  shared)``: ``input`` is the merged payload the handler got (see
  :mod:`~routilux.monitoring.recorded`), ``source_activation_id`` the activation whose emit fed
  this one (``None`` for an entry; read back as the event's ``source_activation_id`` extra field),
  ``shared`` a shallow copy of the job's shared data when it had any, else ``None``
* ``t0, "routine_complete", routine_id, slot_name, activation_id, duration`` (its time is
  ``t0 + duration``: routine events reuse the engine's own clock reads)
* ``ts, "event_emit", routine_id, payload, event_name, activation_id``
* any other type: ``ts, type, routine_id, (data, duration, status, slot_name, event_name,
  activation_id, extra), None, None``; a ``routine_error`` also counts in its routine's metrics.

Writers: for a sequential job (``fast``) only the job's worker appends, without a lock, and takes
the lock only to trim (once per ``cap // 4`` events or so). Otherwise writers hold ``lock``.
Extending a list by a tuple is one C-level operation (atomic under the GIL), so a job-level event
appended by another thread never tears an event. Readers take ``lock`` and copy the list, also in
one C-level operation.
"""

from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ["W", "JobRecord", "expand", "full"]

W = 6   # fields per event in the flat buffer


def full(ts: float, event_type: str, routine_id: str | None, data: Any, duration: float | None,
         status: str | None, slot_name: str | None, event_name: str | None,
         activation_id: int | None, extra: Any) -> tuple[Any, ...]:
    """The buffer fields of an event of any type (the per-hop types have shorter layouts)."""
    return (ts, event_type, routine_id,
            (data, duration, status, slot_name, event_name, activation_id, extra), None, None)


def expand(seq: int, ring: list[Any], i: int) -> tuple[Any, ...]:
    """The event at ``ring[i:i + W]`` as ``(seq, ts, type, routine_id, data, duration, status,
    slot, event, activation, extra)``."""
    ts, etype, rid, a, b, c = ring[i:i + W]
    if etype == "slot_call":
        return (seq, ts, etype, rid, a, None, None, b, None, c, None)
    if etype == "routine_start":
        src = c[1]
        return (seq, ts, etype, rid, None, None, "running", a, None, b,
                None if src is None else {"source_activation_id": src})
    if etype == "routine_complete":
        return (seq, ts + c, etype, rid, None, c, "completed", a, None, b, None)
    if etype == "event_emit":
        return (seq, ts, etype, rid, a, None, None, None, b, c, None)
    return (seq, ts, etype, rid, *a)


class JobRecord:
    """Per-job state: trace buffer, folded totals and routine metrics (see the module docstring)."""

    __slots__ = (
        "job_id", "flow_id", "status", "start_time", "end_time", "lock", "ring", "base", "cap",
        "high", "folded", "slot_calls", "emits", "routines", "errors", "total_routines",
        "job_ref", "locked", "owner", "fast", "offset", "pinned",
    )

    def __init__(self, job_id: str, flow_id: str | None, maxlen: int) -> None:
        self.job_id = job_id
        self.flow_id = flow_id
        self.status = "running"
        self.start_time: float | None = None
        self.end_time: float | None = None
        self.lock = threading.RLock()  # re-entrant: entries() may lock under a holder
        self.ring: list[Any] = []   # W fields per event
        self.base = 0           # events trimmed away so far (the seq of the first is base + 1)
        self.folded = 0         # ring[:folded] is counted in the totals and metrics below
        self.cap = self.high = 0
        self.set_cap(maxlen)
        self.slot_calls = 0
        self.emits = 0
        # routine_id -> (count, total, min, max, errors, last_t0, last_duration)
        self.routines: dict[str, tuple[Any, ...]] = {}
        self.errors: list[dict[str, Any]] = []
        self.total_routines = 0
        self.job_ref: Any = None   # weakref to the JobState, for controllers
        self.locked = True         # until on_job_start says the job is sequential
        self.owner: Any = None     # the collector this record belongs to
        self.fast = False          # not locked and nobody subscribed: hooks append lock-free
        # Taken once per record: wall-clock steps during a job do not reorder its trace.
        self.offset = time.time() - time.perf_counter()
        self.pinned = False        # never evicted by the collector's job limit

    def set_cap(self, maxlen: int) -> None:
        """Keep the newest ``maxlen`` events (trimmed in chunks: at most ~1.25x are held)."""
        self.cap = maxlen
        self.high = (maxlen + max(16, maxlen // 4)) * W   # in buffer fields

    # ---- writing (see the module docstring for who holds the lock) ---------------------------
    def trim(self) -> None:
        """Fold, then drop the events beyond the newest ``cap`` (caller holds ``lock``)."""
        ring = self.ring
        n = len(ring)
        cut = n - self.cap * W
        if cut <= 0:
            return
        self.fold(n)
        del ring[:cut]
        self.base += cut // W
        self.folded -= cut

    def fold(self, upto: int) -> None:
        """Count ``ring[folded:upto]`` into the totals and metrics (caller holds ``lock``)."""
        start = self.folded
        if upto <= start:
            return
        ring = self.ring
        routines = self.routines
        for i in range(start, upto, W):
            etype = ring[i + 1]
            if etype == "routine_complete":
                t0, _, rid, _, _, duration = ring[i:i + W]
                failed = 0
            elif etype == "slot_call":
                self.slot_calls += 1
                continue
            elif etype == "event_emit":
                self.emits += 1
                continue
            elif etype == "routine_error":
                t_end, rid, duration = ring[i], ring[i + 2], ring[i + 3][1]
                t0 = t_end - duration
                failed = 1
            else:
                continue
            m = routines.get(rid)
            if m is None:
                routines[rid] = (1, duration, duration, duration, failed, t0, duration)
            else:
                count, total, low, high, errors, _, _ = m
                routines[rid] = (count + 1, total + duration, min(low, duration),
                                 max(high, duration), errors + failed, t0, duration)
        self.folded = upto

    def seq_of(self, ts: Any, event_type: str) -> int | None:
        """The seq of the event whose time object is ``ts`` (an identity match, from the end;
        caller holds ``lock``)."""
        ring = self.ring
        for i in range(len(ring) - W, -1, -W):
            if ring[i] is ts and ring[i + 1] is event_type:
                return self.base + i // W + 1
        return None

    # ---- reading --------------------------------------------------------------------------
    def settle(self) -> tuple[int, list[tuple[Any, ...]]]:
        """Fold everything appended so far; return ``(base, snapshot of the ring)``."""
        with self.lock:
            ring = self.ring[:]   # one C-level copy: a lock-free writer cannot tear it
            self.fold(len(ring))
            return self.base, ring

    def entries(self) -> list[tuple[Any, ...]]:
        """The newest ``cap`` events, expanded (see :func:`expand`), oldest first."""
        base, ring = self.settle()
        first = max(0, len(ring) // W - self.cap)
        return [expand(base + k + 1, ring, k * W) for k in range(first, len(ring) // W)]

    @property
    def total_events(self) -> int:
        """Events ever recorded for this job (including those trimmed away)."""
        return self.base + len(self.ring) // W

    def resize(self, maxlen: int) -> None:
        """Keep the newest ``maxlen`` events from now on (caller holds ``lock``)."""
        self.set_cap(maxlen)
        self.trim()

    def __len__(self) -> int:
        """Events currently retained (at most ``cap``)."""
        return min(len(self.ring) // W, self.cap)
