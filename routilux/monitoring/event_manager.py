"""Live fan-out of job events to subscribers, each through its own bounded queue.

Guarantees (DESIGN.md §4):

* every subscriber of a job gets that job's events in the order they were recorded;
* a subscriber that falls behind loses the overflow (never the job's terminal event) but is told:
  an explicit ``{"type": "gap", "dropped": n}`` marker sits in its stream exactly where the events
  were lost, while other subscribers lose nothing;
* a new subscriber first receives the job's recent history (the collector's ring buffer), with no
  event missed or repeated between history and live delivery;
* publishing never blocks the engine's worker thread on a subscriber.

Consumers either block on :meth:`Subscription.get` / :meth:`Subscription.drain`, or pass a
``notify`` callable that is called (on the publishing thread, so it must be quick and must not
block, e.g. ``IOLoop.add_callback``) whenever the queue goes from empty to non-empty; the consumer
then drains the queue itself. The manager knows nothing about tornado or any event loop.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict, deque
from typing import Any, Callable, Iterable, Iterator, Protocol

__all__ = ["JobEventManager", "Subscription", "get_event_manager"]

DEFAULT_MAX_QUEUE = 100
_EXTERNAL_HISTORY = 1000     # events kept per job published through publish() directly
_EXTERNAL_JOBS = 256         # jobs whose external history is kept

_ids = itertools.count(1)
# A job's last word is never dropped: a client waiting for the end would otherwise wait forever.
# At most one per job, so a full queue grows by at most two (gap marker + this event).
_TERMINAL = frozenset({"job_completed", "job_failed", "job_cancelled", "job_lost"})


class HistorySource(Protocol):
    """What the manager needs from the collector: an atomic "history + register" step."""

    def subscribe_with_history(
        self, job_id: str, register: Callable[[list[dict[str, Any]]], None]
    ) -> bool:
        """Call ``register(history)`` while no new event of ``job_id`` can be recorded.

        Returns ``False`` (without calling) when the source does not know the job.
        """


class Subscription:
    """One subscriber's bounded, ordered queue of event dicts (and gap markers)."""

    def __init__(
        self, manager: JobEventManager, key: tuple[str, str | None], max_queue: int,
        notify: Callable[[], None] | None,
    ) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        self.subscription_id = next(_ids)
        self.kind, self.target = key
        self.max_queue = max_queue
        self._manager = manager
        self._notify = notify
        self._items: deque[dict[str, Any]] = deque()
        self._dropped = 0           # events lost since the last marker was queued
        self.total_dropped = 0
        self.total_delivered = 0
        self._cond = threading.Condition(threading.Lock())
        self.closed = False
        self._min_seq = 0   # events up to this seq came with the history; skip live repeats

    # ---- producer side (worker threads) ----------------------------------------------------
    def _offer(self, event: dict[str, Any]) -> None:
        notify = False
        with self._cond:
            if self.closed:
                return
            if self._min_seq and event.get("seq", self._min_seq + 1) <= self._min_seq:
                return
            items = self._items
            if event.get("type") == "gap":
                # A gap relayed from upstream (a kernel agent that had to drop events) stands for
                # ``dropped`` events, not one: merge it into this subscriber's own pending gap.
                was_empty = not items and not self._dropped
                lost = int(event.get("dropped") or 0)
                self._dropped += lost
                self.total_dropped += lost
                self._cond.notify()
                notify = was_empty and self._notify is not None
            elif len(items) >= self.max_queue and event.get("event_type") not in _TERMINAL:
                self._dropped += 1
                self.total_dropped += 1
                return
            else:
                was_empty = not items and not self._dropped
                if self._dropped:
                    items.append({"type": "gap", "dropped": self._dropped})
                    self._dropped = 0
                items.append(event)
                self._cond.notify()
                notify = was_empty and self._notify is not None
        if notify:
            self._call_notify()

    def _preload(self, history: Iterable[dict[str, Any]]) -> None:
        """Queue the history first; what does not fit becomes a gap at its head."""
        history = list(history)
        with self._cond:
            seqs = [e.get("seq") for e in history if isinstance(e.get("seq"), int)]
            self._min_seq = max(seqs, default=0)
            overflow = max(0, len(history) - self.max_queue)
            if overflow:
                self._items.append({"type": "gap", "dropped": overflow})
                self.total_dropped += overflow
            self._items.extend(history[overflow:])

    def _call_notify(self) -> None:
        try:
            self._notify()  # type: ignore[misc]
        except Exception:  # a broken consumer must never break the job that publishes
            pass

    # ---- consumer side --------------------------------------------------------------------
    def _pop_locked(self) -> dict[str, Any] | None:
        if self._items:
            self.total_delivered += 1
            return self._items.popleft()
        if self._dropped:
            gap = {"type": "gap", "dropped": self._dropped}
            self._dropped = 0
            return gap
        return None

    def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next event (or gap marker); ``None`` when none arrives within ``timeout``."""
        with self._cond:
            item = self._pop_locked()
            if item is None and not self.closed:
                self._cond.wait_for(lambda: self._items or self._dropped or self.closed, timeout)
                item = self._pop_locked()
            return item

    def get_nowait(self) -> dict[str, Any] | None:
        """The next event, or ``None`` when the queue is empty."""
        with self._cond:
            return self._pop_locked()

    def drain(self, max_items: int | None = None) -> list[dict[str, Any]]:
        """Everything queued (up to ``max_items``), in order, including any pending gap marker."""
        out: list[dict[str, Any]] = []
        with self._cond:
            while max_items is None or len(out) < max_items:
                item = self._pop_locked()
                if item is None:
                    break
                out.append(item)
        return out

    def qsize(self) -> int:
        """Items waiting (a pending gap marker counts as one)."""
        with self._cond:
            return len(self._items) + (1 if self._dropped else 0)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Blocking iteration until the subscription is closed and drained."""
        while True:
            item = self.get(timeout=None if not self.closed else 0)
            if item is None:
                return
            yield item

    def close(self) -> None:
        """Unsubscribe; a consumer blocked in :meth:`get` wakes up."""
        self._manager.unsubscribe(self)

    def _mark_closed(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JobEventManager:
    """Routes each job's events to its subscribers (per job, per flow, or all jobs)."""

    def __init__(self, source: HistorySource | None = None) -> None:
        self._lock = threading.Lock()
        self._source = source
        # Copy-on-write tuples: the publishing hot path reads them without taking the lock.
        self._job_subs: dict[str, tuple[Subscription, ...]] = {}
        self._flow_subs: dict[str, tuple[Subscription, ...]] = {}
        self._all_subs: tuple[Subscription, ...] = ()
        self._external: OrderedDict[str, deque[dict[str, Any]]] = OrderedDict()
        # True while any subscription exists: recorders read this one attribute per event and
        # build nothing for subscribers while it is False. Set *before* a subscriber registers.
        self.live = False
        self._pending = 0

    def set_source(self, source: HistorySource | None) -> None:
        """Attach the collector whose ring buffer provides history for new subscribers
        (and which is told, through ``live_changed(bool)``, when subscribers come and go)."""
        self._source = source

    # ---- subscribing ------------------------------------------------------------------------
    def subscribe(
        self, job_id: str, max_queue: int = DEFAULT_MAX_QUEUE, *,
        notify: Callable[[], None] | None = None, history: bool = True,
    ) -> Subscription:
        """Subscribe to one job's events; its recent history is queued first."""
        sub = Subscription(self, ("job", job_id), max_queue, notify)
        with self._lock:
            self._pending += 1   # keeps `live` True until this subscriber is registered
            self._set_live(True)

        def register(events: list[dict[str, Any]]) -> None:
            if history:
                sub._preload(events)
            with self._lock:
                self._job_subs[job_id] = self._job_subs.get(job_id, ()) + (sub,)
                self._pending -= 1

        source = self._source
        if job_id in self._external or source is None or not source.subscribe_with_history(
            job_id, register
        ):
            with self._lock:  # external publishers append history under this lock
                past = list(self._external.get(job_id, ())) if history else []
                sub._preload(past)
                self._job_subs[job_id] = self._job_subs.get(job_id, ()) + (sub,)
                self._pending -= 1
        if sub.qsize() and notify is not None:
            sub._call_notify()
        return sub

    def subscribe_flow(
        self, flow_id: str, max_queue: int = DEFAULT_MAX_QUEUE, *,
        notify: Callable[[], None] | None = None,
    ) -> Subscription:
        """Subscribe to the live events of every job of ``flow_id`` (no history)."""
        sub = Subscription(self, ("flow", flow_id), max_queue, notify)
        with self._lock:
            self._set_live(True)
            self._flow_subs[flow_id] = self._flow_subs.get(flow_id, ()) + (sub,)
        return sub

    def subscribe_all(
        self, max_queue: int = DEFAULT_MAX_QUEUE, *, notify: Callable[[], None] | None = None
    ) -> Subscription:
        """Subscribe to the live events of every job (e.g. a kernel agent forwarding upstream)."""
        sub = Subscription(self, ("all", None), max_queue, notify)
        with self._lock:
            self._set_live(True)
            self._all_subs = self._all_subs + (sub,)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Remove a subscription (idempotent)."""
        with self._lock:
            if sub.kind == "all":
                self._all_subs = tuple(s for s in self._all_subs if s is not sub)
            else:
                table = self._job_subs if sub.kind == "job" else self._flow_subs
                rest = tuple(s for s in table.get(sub.target, ()) if s is not sub)  # type: ignore[arg-type]
                if rest:
                    table[sub.target] = rest  # type: ignore[index]
                else:
                    table.pop(sub.target, None)  # type: ignore[arg-type]
            self._update_live_locked()
        sub._mark_closed()

    def _update_live_locked(self) -> None:
        self._set_live(bool(self._job_subs or self._flow_subs or self._all_subs or self._pending))

    def _set_live(self, live: bool) -> None:
        # Called with self._lock held. The source flips its records' fast path *before* any
        # history snapshot is taken, so no event can slip between history and live delivery.
        if live == self.live:
            return
        self.live = live
        notify = getattr(self._source, "live_changed", None)
        if notify is not None:
            notify(live)

    # ---- publishing -------------------------------------------------------------------------
    def wants(self, job_id: str, flow_id: str | None) -> bool:
        """Whether anyone listens to this job (cheap: the collector asks before building dicts)."""
        return bool(self._all_subs) or job_id in self._job_subs or (
            flow_id is not None and flow_id in self._flow_subs
        )

    def _deliver(self, job_id: str, flow_id: str | None, event: dict[str, Any]) -> None:
        """Hand one event to every interested subscriber (caller keeps per-job ordering)."""
        for sub in self._job_subs.get(job_id, ()):
            sub._offer(event)
        if flow_id is not None:
            for sub in self._flow_subs.get(flow_id, ()):
                sub._offer(event)
        for sub in self._all_subs:
            sub._offer(event)

    def publish(self, job_id: str, event: dict[str, Any], flow_id: str | None = None) -> None:
        """Publish an event of a job this process does not run (e.g. relayed from a kernel).

        Such jobs get their own bounded history here, so late subscribers still see it.
        """
        with self._lock:
            ring = self._external.get(job_id)
            if ring is None:
                ring = self._external[job_id] = deque(maxlen=_EXTERNAL_HISTORY)
                while len(self._external) > _EXTERNAL_JOBS:
                    self._external.popitem(last=False)
            ring.append(event)
            self._deliver(job_id, flow_id, event)

    def close_job(self, job_id: str) -> None:
        """Close every subscription of ``job_id`` (consumers drain what is queued, then stop)."""
        with self._lock:
            subs = self._job_subs.pop(job_id, ())
            self._update_live_locked()
        for sub in subs:
            sub._mark_closed()

    # ---- introspection ----------------------------------------------------------------------
    def get_status(self, job_id: str) -> dict[str, Any]:
        """``{subscriber_count, queue_size, max_size, dropped, subscribers: [...]}`` for a job."""
        subs = self._job_subs.get(job_id, ())
        sizes = [s.qsize() for s in subs]
        return {
            "job_id": job_id,
            "subscriber_count": len(subs),
            "queue_size": max(sizes, default=0),
            "max_size": max((s.max_queue for s in subs), default=DEFAULT_MAX_QUEUE),
            "dropped": sum(s.total_dropped for s in subs),
            "subscribers": [
                {"subscription_id": s.subscription_id, "queue_size": q, "max_size": s.max_queue,
                 "dropped": s.total_dropped}
                for s, q in zip(subs, sizes)
            ],
        }

    def subscriber_count(self, job_id: str | None = None) -> int:
        """Subscribers of one job, or of everything when ``job_id`` is ``None``."""
        if job_id is not None:
            return len(self._job_subs.get(job_id, ()))
        return (sum(map(len, self._job_subs.values())) + sum(map(len, self._flow_subs.values()))
                + len(self._all_subs))


_default: JobEventManager | None = None
_default_lock = threading.Lock()


def get_event_manager() -> JobEventManager:
    """The process-wide manager that :class:`~routilux.monitoring.MonitoringRegistry` feeds."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = JobEventManager()
    return _default
