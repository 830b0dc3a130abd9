"""One job's monitoring record: its trace ring buffer, counters and raw routine metrics.

The ring holds one tuple per event (``deque(maxlen)``). Per-hop events use short layouts that
create as few objects as possible, because with monitoring on whatever a hop retains is new
memory (on the shared VM a fresh 4 KB page costs ~3 us to fault in):

* ``(seq, ts, "slot_call", routine_id, payload, slot_name, source_activation_id)``

Payloads (slot_call, event_emit) are shallow copies taken at record time, so a handler or a
debugger changing the dict later does not rewrite history; values nested inside them are shared
with the handler and summarised only when read, so mutating those in place still shows.
* ``(seq, ts, "routine_start", routine_id, slot_name, activation_id)``
* ``(seq, t0, "routine_complete", routine_id, slot_name, activation_id, duration)``, its time
  is ``t0 + duration``
* ``(seq, ts, "event_emit", routine_id, payload, event_name, activation_id)``
* any other type: ``(seq, ts, type, routine_id, data, duration, status, slot_name, event_name,
  activation_id, extra)``

``ts``/``t0`` are ``time.perf_counter()`` values (routine events reuse the engine's own reads);
epoch seconds = ``ts + record.offset``.

Measured alternatives that did not pay off (wall clock, 200-routine chain): a flat deque of
fields (no tuple per event: less GC work, but ``extend`` of seven items cost as much), payloads
kept apart from the tuples (so the GC could untrack them), and seqs stored as ``seq & 255``
(a cached small int instead of a new int per event).

Writers: for a sequential job (``fast``) only the job's worker thread appends, without a lock;
otherwise writers hold ``lock``. Events recorded meanwhile by other threads (job-level events)
append whole tuples; ``deque.append`` is atomic, so entries never tear, and readers order by seq.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from operator import itemgetter
from typing import Any

__all__ = ["JobRecord", "count_value", "expand"]

_FULL = 11
_by_seq = itemgetter(0)


def expand(e: tuple[Any, ...]) -> tuple[Any, ...]:
    """``(seq, ts, type, routine_id, data, duration, status, slot, event, activation, extra)``."""
    if len(e) == _FULL:
        return e
    etype = e[2]
    if etype == "slot_call":
        return (e[0], e[1], etype, e[3], e[4], None, None, e[5], None, e[6], None)
    if etype == "routine_start":
        return (e[0], e[1], etype, e[3], None, None, "running", e[4], None, e[5], None)
    if etype == "routine_complete":
        return (e[0], e[1] + e[6], etype, e[3], None, e[6], "completed", e[4], None, e[5], None)
    return (e[0], e[1], etype, e[3], e[4], None, None, None, e[5], e[6], None)  # event_emit


def count_value(counter: itertools.count[int]) -> int:
    """How many values an ``itertools.count(1)`` has handed out (read without consuming)."""
    return int(repr(counter)[6:-1]) - 1


class JobRecord:
    """Per-job state: trace ring, counters, raw routine metrics (see the module docstring)."""

    __slots__ = (
        "job_id", "flow_id", "status", "start_time", "end_time", "lock", "ring", "counter",
        "slot_counter", "emit_counter", "routines", "errors", "total_routines", "job_ref",
        "locked", "owner", "fast", "offset", "emitted", "emitted_copy",
    )

    def __init__(self, job_id: str, flow_id: str | None, maxlen: int) -> None:
        self.job_id = job_id
        self.flow_id = flow_id
        self.status = "running"
        self.start_time: float | None = None
        self.end_time: float | None = None
        self.lock = threading.RLock()  # re-entrant: entries() may lock under a holder
        self.ring: deque[tuple[Any, ...]] = deque(maxlen=maxlen)
        self.counter = itertools.count(1)        # seq of the next event
        self.slot_counter = itertools.count(1)
        self.emit_counter = itertools.count(1)
        # routine_id -> (count, total, min, max, errors, last_t0, last_duration); a tuple is
        # replaced on each update, which frees the old one instead of growing memory
        self.routines: dict[str, tuple[Any, ...]] = {}
        self.errors: list[dict[str, Any]] = []
        self.total_routines = 0
        self.job_ref: Any = None   # weakref to the JobState, for controllers
        self.locked = True         # until on_job_start says the job is sequential
        self.owner: Any = None     # the collector this record belongs to
        self.fast = False          # not locked and nobody subscribed: hooks append lock-free
        # Taken once per record: wall-clock steps during a job do not reorder its trace.
        self.offset = time.time() - time.perf_counter()
        # The last emit's payload and its copy (lock-free writers only): the delivery that
        # follows at once hands the receiver that same dict, so its slot_call reuses the copy
        # (one copy per hop, not two)
        self.emitted: Any = None
        self.emitted_copy: Any = None

    def entries(self) -> list[tuple[Any, ...]]:
        """The retained events, expanded (see :func:`expand`), in seq order."""
        for _ in range(100):
            try:
                ring = list(self.ring)   # one C-level copy: atomic under the GIL
                break
            except RuntimeError:  # "deque mutated during iteration": a writer got in; retry
                continue
        else:
            with self.lock:
                ring = list(self.ring)
        # Lock-free writers can interleave next(seq) and append; seq is the true order.
        if any(ring[i][0] > ring[i + 1][0] for i in range(len(ring) - 1)):
            ring.sort(key=_by_seq)
        return [expand(e) for e in ring]

    def resize(self, maxlen: int) -> None:
        """Keep the newest ``maxlen`` events from now on (caller holds ``lock``)."""
        self.ring = deque(self.entries(), maxlen=maxlen)

    def __len__(self) -> int:
        """Events currently retained (at most the ring's ``maxlen``)."""
        return len(self.ring)
