"""Live event fan-out: ordering, gap markers, history first, callbacks, flow subscriptions."""

from __future__ import annotations

import threading
from typing import Any

from routilux import Flow
from routilux.monitoring import JobEventManager, MonitoringRegistry, get_event_manager

from .helpers import Counter, pipeline


def _read_until_completed(sub: Any, out: list[dict[str, Any]], timeout: float = 30.0) -> None:
    while True:
        item = sub.get(timeout=timeout)
        assert item is not None, f"no event within {timeout}s after {len(out)} events"
        out.append(item)
        if item.get("event_type") in ("job_completed", "job_failed", "job_cancelled"):
            return


def test_three_subscribers_get_all_10000_events_in_order_and_a_stuck_one_gets_a_gap(
    registry: MonitoringRegistry,
) -> None:
    flow = Flow("volume")
    counter = Counter()
    counter.gate = threading.Event()
    flow.add_routine(counter, "c")
    # job_start, slot_call, routine_start, N emits, routine_complete, job_completed
    n_emits = 10_000 - 5
    em = registry.event_manager
    job = flow.start("c", {"count": n_emits}, job_id="volume-job")
    readers = [em.subscribe(job.job_id, max_queue=20_000) for _ in range(3)]
    stuck = em.subscribe(job.job_id)  # default queue of 100, never read until the end
    got: list[list[dict[str, Any]]] = [[] for _ in readers]
    threads = [threading.Thread(target=_read_until_completed, args=(s, g)) for s, g in zip(readers, got)]
    for t in threads:
        t.start()
    counter.gate.set()
    assert job.wait(60)
    for t in threads:
        t.join(60)
        assert not t.is_alive()
    for events in got:
        assert len(events) == 10_000
        assert [e["seq"] for e in events] == list(range(1, 10_001))
        assert all(e["type"] == "event" for e in events)
        assert [e["event_type"] for e in events[:3]] == ["job_start", "slot_call", "routine_start"]
        assert events[-1]["event_type"] == "job_completed"
    stuck_items = stuck.drain()
    # 100 events, then a marker for the 9,899 lost, then the job's end, which is never dropped
    assert [e.get("type") for e in stuck_items[:100]] == ["event"] * 100
    assert stuck_items[100] == {"type": "gap", "dropped": 9_899}
    assert stuck_items[101]["event_type"] == "job_completed"
    assert len(stuck_items) == 102
    status = em.get_status(job.job_id)
    assert status["subscriber_count"] == 4
    assert status["max_size"] == 20_000
    for s in (*readers, stuck):
        s.close()
    assert em.get_status(job.job_id)["subscriber_count"] == 0
    assert em.live is False


def test_gap_marker_sits_where_events_were_lost() -> None:
    em = JobEventManager()
    sub = em.subscribe("j", max_queue=3)
    for i in range(1, 8):
        em.publish("j", {"seq": i})
    assert [sub.get_nowait() for _ in range(2)] == [{"seq": 1}, {"seq": 2}]
    em.publish("j", {"seq": 8})  # room again: the marker goes in before it
    assert sub.drain() == [{"seq": 3}, {"type": "gap", "dropped": 4}, {"seq": 8}]
    assert sub.total_dropped == 4
    assert sub.get(timeout=0.01) is None


def test_a_full_queue_still_takes_the_jobs_terminal_event_after_its_gap() -> None:
    em = JobEventManager()
    sub = em.subscribe("j", max_queue=3)
    for i in range(1, 7):
        em.publish("j", {"seq": i, "event_type": "slot_call"})
    em.publish("j", {"seq": 7, "event_type": "job_completed"})  # queue full: kept all the same
    assert sub.drain() == [
        {"seq": 1, "event_type": "slot_call"}, {"seq": 2, "event_type": "slot_call"},
        {"seq": 3, "event_type": "slot_call"}, {"type": "gap", "dropped": 3},
        {"seq": 7, "event_type": "job_completed"},
    ]


def test_new_subscriber_gets_history_first_without_repeats(registry: MonitoringRegistry) -> None:
    flow, _ = pipeline("hist")
    job = flow.execute("r1", {"values": [1, 2]}, timeout=10)
    assert str(job.status) == "completed"
    trace = registry.monitor_collector.get_execution_trace(job.job_id)
    sub = registry.event_manager.subscribe(job.job_id, max_queue=1000)
    replay = sub.drain()
    assert [e["seq"] for e in replay] == [e.seq for e in trace]
    assert replay == [e.to_dict() for e in trace]   # live dicts and trace reads agree exactly
    assert replay[-1]["event_type"] == "job_completed"
    sub.close()


def test_history_bigger_than_the_queue_starts_with_a_gap(registry: MonitoringRegistry) -> None:
    flow, _ = pipeline("hist2")
    job = flow.execute("r1", {"values": list(range(20))}, timeout=10)
    total = len(registry.monitor_collector.get_execution_trace(job.job_id))
    sub = registry.event_manager.subscribe(job.job_id, max_queue=10)
    items = sub.drain()
    assert items[0] == {"type": "gap", "dropped": total - 10}
    assert len(items) == 11 and items[-1]["event_type"] == "job_completed"


def test_subscriber_joining_mid_job_misses_nothing(registry: MonitoringRegistry) -> None:
    flow = Flow("midjob")
    counter = Counter()
    counter.gate = threading.Event()
    flow.add_routine(counter, "c")
    registry.monitor_collector.set_max_events_per_job(100_000)
    job = flow.start("c", {"count": 3000})
    first = registry.event_manager.subscribe(job.job_id, max_queue=100_000)
    counter.gate.set()
    late = None
    seen: list[dict[str, Any]] = []
    # Join while events are flowing: after the first few hundred arrive.
    while True:
        item = first.get(timeout=10)
        assert item is not None
        seen.append(item)
        if late is None and len(seen) == 300:
            late = registry.event_manager.subscribe(job.job_id, max_queue=100_000)
        if item["event_type"] == "job_completed":
            break
    assert late is not None
    late_items: list[dict[str, Any]] = []
    _read_until_completed(late, late_items)
    assert [e["seq"] for e in late_items] == [e["seq"] for e in seen]


def test_notify_callback_fires_on_empty_to_non_empty_and_drain_gets_all(
    registry: MonitoringRegistry,
) -> None:
    flow, _ = pipeline("notify")
    calls: list[int] = []
    done = threading.Event()
    received: list[dict[str, Any]] = []
    job_id = "notify-job"

    holder: dict[str, Any] = {}

    def notify() -> None:
        # What a server does: schedule a drain elsewhere; here, drain on the spot.
        calls.append(1)
        for item in holder["sub"].drain():
            received.append(item)
            if item.get("event_type") == "job_completed":
                done.set()

    holder["sub"] = registry.event_manager.subscribe(job_id, max_queue=1000, notify=notify)
    flow.start("r1", {"values": [1, 2, 3]}, job_id=job_id)
    assert done.wait(10)
    assert [e["seq"] for e in received] == list(range(1, len(received) + 1))
    assert 1 <= len(calls) <= len(received)
    holder["sub"].close()


def test_flow_subscription_sees_every_job_of_the_flow(registry: MonitoringRegistry) -> None:
    flow, _ = pipeline("fan")
    sub = registry.event_manager.subscribe_flow("fan", max_queue=1000)
    other = registry.event_manager.subscribe_flow("not-this-flow")
    a = flow.execute("r1", {"values": [1]}, timeout=10)
    b = flow.execute("r1", {"values": [2]}, timeout=10)
    items = sub.drain()
    assert {e["job_id"] for e in items} == {a.job_id, b.job_id}
    assert sum(1 for e in items if e["event_type"] == "job_completed") == 2
    assert other.drain() == []
    sub.close()
    other.close()


def test_external_publish_keeps_history_for_late_subscribers() -> None:
    em = JobEventManager()
    for i in range(1, 4):
        em.publish("remote-job", {"seq": i, "event_type": "slot_call"}, flow_id="f")
    sub = em.subscribe("remote-job")
    em.publish("remote-job", {"seq": 4, "event_type": "job_completed"}, flow_id="f")
    assert [e["seq"] for e in sub.drain()] == [1, 2, 3, 4]


def test_closing_wakes_a_blocked_reader() -> None:
    em = JobEventManager()
    sub = em.subscribe("j")
    result: list[Any] = []
    t = threading.Thread(target=lambda: result.append(sub.get(timeout=30)))
    t.start()
    sub.close()
    t.join(5)
    assert not t.is_alive() and result == [None]
    assert sub.closed


def test_get_event_manager_is_the_global_registry_manager() -> None:
    assert get_event_manager() is MonitoringRegistry.get_instance().event_manager
    status = get_event_manager().get_status("no-such-job")
    assert status["subscriber_count"] == 0 and status["queue_size"] == 0 and status["max_size"] == 100
