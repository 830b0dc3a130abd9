"""Metrics and traces collected from real jobs, as the seed's guide uses them."""

from __future__ import annotations

import collections
import threading
import tracemalloc
from typing import Any

import pytest

from routilux import ErrorHandler, Flow, Routine
from routilux.monitoring import MonitoringRegistry, get_event_manager
from routilux.monitoring.monitor_collector import ExecutionEvent, RoutineMetrics

from .helpers import Boom, Counter, Sink, pipeline, ping_pong


def test_seed_guide_usage_works_as_written() -> None:
    MonitoringRegistry.enable()
    try:
        assert MonitoringRegistry.is_enabled()
        registry = MonitoringRegistry.get_instance()
        collector = registry.monitor_collector
        flow, _ = pipeline("seed-guide")
        job_state = flow.execute("r1", {"values": [5, 500]}, timeout=10)
        job_id = job_state.job_id
        metrics = collector.get_metrics(job_id)
        assert metrics["duration_ms"] > 0 and metrics.duration_ms == metrics["duration_ms"]
        assert metrics["status"] == "completed"
        trace = collector.get_execution_trace(job_id)
        assert trace and all(isinstance(e, ExecutionEvent) for e in trace)
        for event in trace:
            assert event["event_type"] == event.event_type
            assert "routine_id" in event.to_dict()
        assert {e["routine_id"] for e in trace} >= {"r1", "r2", "r3"}
        routine_metrics = collector.get_routine_metrics(job_id, "r1")
        assert isinstance(routine_metrics, RoutineMetrics)
        assert routine_metrics["execution_count"] == 1
        assert routine_metrics["duration_ms"] >= 0
        bp = registry.breakpoint_manager.set_breakpoint(
            job_id=job_id, routine_id="r2", slot_name="inp",
            condition="data.get('value', 0) > 100")
        assert bp.type == "slot" and bp.enabled
        registry.breakpoint_manager.remove_breakpoint(bp.breakpoint_id)
        collector.set_max_events_per_job(500)
        assert collector.max_events_per_job == 500
        status = get_event_manager().get_status(job_id)
        assert set(status) >= {"subscriber_count", "queue_size", "max_size"}
    finally:
        MonitoringRegistry.disable()
        MonitoringRegistry.get_instance().monitor_collector.set_max_events_per_job(1000)
    assert not MonitoringRegistry.is_enabled()


def test_metrics_count_what_happened(registry: MonitoringRegistry) -> None:
    flow, sink = pipeline("counts")
    job = flow.execute("r1", {"values": [1, 2, 3]}, timeout=10)
    m = registry.monitor_collector.get_metrics(job.job_id)
    assert m is not None
    d = m.to_dict()
    for key in ("job_id", "flow_id", "status", "start_time", "end_time", "duration", "duration_ms",
                "total_routines", "completed_routines", "failed_routines", "total_events",
                "total_slot_calls", "total_event_emits", "routine_metrics", "errors"):
        assert key in d and key in m
    assert m.flow_id == "counts" and m.status == "completed"
    assert m.total_routines == 3 and m.completed_routines == 3 and m.failed_routines == 0
    assert m.total_slot_calls == 1 + 3 + 3       # entry, r2 x3, r3 x3
    assert m.total_event_emits == 3 + 3
    assert m.total_events == len(registry.monitor_collector.get_execution_trace(job.job_id))
    assert m.routine_metrics["r2"].execution_count == 3
    assert m.duration == pytest.approx(m.end_time - m.start_time)
    assert d["start_time"].endswith("Z") and d["end_time"].endswith("Z")   # ISO 8601 UTC
    assert sink.received[-3:] == [1, 2, 3]
    types = [e.event_type for e in registry.monitor_collector.get_execution_trace(job.job_id)]
    assert types[0] == "job_start" and types[-1] == "job_completed"
    assert types.count("routine_start") == types.count("routine_complete") == 7


def test_trace_payloads_are_summarised_not_stored_raw(registry: MonitoringRegistry) -> None:
    flow = Flow("big-payload")
    flow.add_routine(Counter(), "c")
    job = flow.execute("c", {"count": 0, "blob": "x" * 100_000, "many": list(range(10_000))},
                       timeout=10)
    slot_call = next(e for e in registry.monitor_collector.get_execution_trace(job.job_id)
                     if e.event_type == "slot_call")
    assert len(slot_call.data["blob"]) < 300
    assert len(slot_call.data["many"]) <= 21
    assert slot_call.data["count"] == 0


def test_errors_are_recorded(registry: MonitoringRegistry) -> None:
    flow = Flow("errors")
    flow.add_routine(Boom(), "boom")
    job = flow.execute("boom", timeout=10)
    assert str(job.status) == "failed"
    m = registry.monitor_collector.get_metrics(job.job_id)
    assert m.status == "failed" and m.failed_routines == 1
    assert m.errors[0]["routine_id"] == "boom" and m.errors[0]["error_type"] == "ValueError"
    assert m.routine_metrics["boom"].error_count == 1
    trace = registry.monitor_collector.get_execution_trace(job.job_id)
    err = next(e for e in trace if e.event_type == "routine_error")
    assert "boom" in err.to_dict()["error"]
    assert trace[-1].event_type == "job_failed"


def test_continue_strategy_records_error_and_completes(registry: MonitoringRegistry) -> None:
    flow = Flow("errors-continue")
    flow.add_routine(Boom(), "boom")
    flow.set_error_handler(ErrorHandler(strategy="continue"))
    job = flow.execute("boom", timeout=10)
    assert str(job.status) == "completed"
    assert registry.monitor_collector.get_metrics(job.job_id).errors


def test_ring_buffer_keeps_the_newest_events(registry: MonitoringRegistry) -> None:
    collector = registry.monitor_collector
    collector.set_max_events_per_job(50)
    flow = ping_pong("ring")
    job = flow.execute("a", {"n": 1000}, timeout=30)
    trace = collector.get_execution_trace(job.job_id)
    m = collector.get_metrics(job.job_id)
    assert len(trace) == 50
    assert trace[-1].event_type == "job_completed"
    assert [e.seq for e in trace] == list(range(m.total_events - 49, m.total_events + 1))
    assert m.total_slot_calls == 1001 and m.total_event_emits == 1000
    assert len(collector.get_execution_trace(job.job_id, limit=10)) == 10


def test_a_million_event_job_stays_within_the_ring(registry: MonitoringRegistry) -> None:
    collector = registry.monitor_collector
    flow = Flow("million")
    flow.add_routine(Counter(), "c")
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        job = flow.execute("c", {"count": 1_000_000 - 5}, timeout=120)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(job.status) == "completed"
    m = collector.get_metrics(job.job_id)
    assert m.total_events == 1_000_000 and m.total_event_emits == 1_000_000 - 5
    assert collector.ring_length(job.job_id) == 1000
    # 1000 retained events (tuple + small payload dict each) are a few hundred KB; keeping
    # all 1,000,000 would be hundreds of MB.
    assert after - before < 5_000_000, f"retained {after - before} bytes"
    assert peak - before < 10_000_000, f"peak {peak - before} bytes"


class _Slow(Routine):
    """Activation 'a' stays running until the test releases it; 'b' returns at once."""

    def __init__(self) -> None:
        super().__init__()
        self.a_running = threading.Event()
        self.release_a = threading.Event()
        self.define_slot("inp", self.handle)

    def handle(self, value: str) -> None:
        if value == "a":
            self.a_running.set()
            assert self.release_a.wait(10)


class _Two(Routine):
    def __init__(self, slow: _Slow) -> None:
        super().__init__()
        self.slow = slow
        self.define_slot("trigger", self.run)
        self.define_event("out", ["value"])

    def run(self) -> None:
        self.emit("out", value="a")
        assert self.slow.a_running.wait(10)
        self.emit("out", value="b")


def test_concurrent_runs_of_one_routine_are_timed_separately(registry: MonitoringRegistry) -> None:
    flow = Flow("overlap", execution_strategy="concurrent", max_workers=4)
    slow = _Slow()
    flow.add_routine(_Two(slow), "src")
    flow.add_routine(slow, "slow")
    flow.connect("src", "out", "slow", "inp")
    sub = registry.event_manager.subscribe_flow("overlap", max_queue=1000)
    job = flow.start("src")
    # Release 'a' only once 'b' (started after 'a') has completed.
    completions = 0
    while completions < 1:
        item = sub.get(timeout=10)
        assert item is not None
        if item["event_type"] == "routine_complete" and item["routine_id"] == "slow":
            completions += 1
    slow.release_a.set()
    assert job.wait(10) and str(job.status) == "completed"
    rm = registry.monitor_collector.get_routine_metrics(job.job_id, "slow")
    assert rm.execution_count == 2
    # 'b' was timed from its own start, not from 'a''s: far shorter than 'a'.
    assert rm.min_duration < rm.max_duration / 2
    assert rm.total_duration == pytest.approx(rm.min_duration + rm.max_duration)
    sub.close()


def test_unknown_job_reads_as_nothing(registry: MonitoringRegistry) -> None:
    c = registry.monitor_collector
    assert c.get_metrics("nope") is None
    assert c.get_execution_trace("nope") == []
    assert c.get_routine_metrics("nope", "r1") is None


def test_clear_forgets_a_job(registry: MonitoringRegistry) -> None:
    flow, _ = pipeline("clear")
    job = flow.execute("r1", {"values": [1]}, timeout=10)
    registry.monitor_collector.clear(job.job_id)
    assert registry.monitor_collector.get_metrics(job.job_id) is None


def test_event_and_metrics_objects_read_like_dicts(registry: MonitoringRegistry) -> None:
    flow, _ = pipeline("dictlike")
    job = flow.execute("r1", {"values": [1]}, timeout=10)
    event = registry.monitor_collector.get_execution_trace(job.job_id)[0]
    assert event.get("nope", 42) == 42 and "event_type" in event
    with pytest.raises(KeyError):
        event["nope"]
    as_dict: dict[str, Any] = event.to_dict()
    assert as_dict["timestamp"].endswith("Z") and as_dict["type"] == "event"
    rm = registry.monitor_collector.get_routine_metrics(job.job_id, "r2")
    assert rm["avg_duration_ms"] == rm.avg_duration * 1000


def test_concurrent_job_counts_are_exact(registry: MonitoringRegistry) -> None:
    registry.monitor_collector.set_max_events_per_job(100_000)
    flow, sink = pipeline("conc-counts", strategy="concurrent")
    job = flow.execute("r1", {"values": list(range(2000))}, timeout=60)
    assert str(job.status) == "completed"
    m = registry.monitor_collector.get_metrics(job.job_id)
    assert m.total_slot_calls == 1 + 2000 + 2000 and m.total_event_emits == 4000
    assert m.routine_metrics["r2"].execution_count == 2000
    assert m.routine_metrics["r3"].execution_count == 2000
    trace = registry.monitor_collector.get_execution_trace(job.job_id)
    assert len(trace) == m.total_events
    assert [e.seq for e in trace] == list(range(1, m.total_events + 1))
    assert sorted(sink.received) == list(range(2000))


def test_reading_a_record_under_its_own_lock_cannot_deadlock() -> None:
    """subscribe_with_history and resize read entries() while holding the record's lock."""
    import threading

    from routilux.monitoring.job_record import JobRecord

    rec = JobRecord("j", "f", 10)
    rec.ring += (0.0, "routine_start", "r", "in", 1, ({}, None, None))
    got: list[object] = []

    def read_while_holding() -> None:
        with rec.lock:
            got.append([e[:3] for e in rec.entries()])

    reader = threading.Thread(target=read_while_holding, daemon=True)
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), "entries() deadlocked under its own record lock"
    assert got == [[(1, 0.0, "routine_start")]]


def test_a_trimmed_buffer_keeps_seqs_totals_and_metrics_exact() -> None:
    """Entries are folded into the metrics once each, whether read first or trimmed first."""
    from routilux.monitoring.job_record import JobRecord

    rec = JobRecord("j", "f", 10)
    for i in range(100):
        rec.ring += (float(i), "slot_call", "r", {"i": i}, "in", None)
        rec.ring += (float(i), "routine_complete", "r", "in", i, 0.5 + i)
        if i == 37:
            assert rec.entries()[-1][0] == 76     # a read in between folds part of it
        if len(rec.ring) > rec.high:
            rec.trim()
    entries = rec.entries()
    assert [e[0] for e in entries] == list(range(191, 201))   # the newest 10, seq by position
    assert rec.total_events == 200 and rec.slot_calls == 100
    count, total, low, high, errors, last_t0, last = rec.routines["r"]
    assert (count, low, high, errors, last_t0, last) == (100, 0.5, 99.5, 0, 99.0, 99.5)
    assert total == sum(0.5 + i for i in range(100))
    assert len(rec) == 10 and len(rec.ring) <= rec.high


class _Mutator(Routine):
    """Overwrites a key of the payload it received, after its slot_call was traced."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("out", ["x"])

    def run(self, data):
        self.emit("out", **data)
        data["x"] = "changed"


class _MutateOnArrival(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("inp", self.run)

    def run(self, data):
        data["x"] = "rewritten by the receiver"


@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_a_handler_mutating_its_payload_does_not_rewrite_the_trace(
    registry: MonitoringRegistry, strategy: str,
) -> None:
    flow = Flow(f"mutate-{strategy}", execution_strategy=strategy)
    flow.add_routine(_Mutator(), "m")
    flow.add_routine(_MutateOnArrival(), "r")
    flow.connect("m", "out", "r", "inp")
    job = flow.execute("m", {"x": "original"}, timeout=10)
    assert str(job.status) == "completed"
    trace = registry.monitor_collector.get_execution_trace(job.job_id)
    payloads = [(e.event_type, e.routine_id, e.data) for e in trace
                if e.event_type in ("slot_call", "event_emit")]
    # The emit hands the receiver the very dict it emitted (one target, no mapping): the
    # receiver rewriting it must not rewrite the emit's or the delivery's history either.
    assert payloads == [("slot_call", "m", {"x": "original"}), ("event_emit", "m", {"x": "original"}),
                        ("slot_call", "r", {"x": "original"})]


def test_a_status_note_arriving_after_the_end_changes_nothing() -> None:
    # The engine reports a resume after waking the job's workers, so a job can finish before
    # its job_resumed is recorded; the metrics must not go back to "running".
    from routilux.monitoring import MonitorCollector

    collector = MonitorCollector()
    collector.job_started("late", "f", 1)
    collector.job_status("late", "paused", "breakpoint")
    collector.job_ended("late", "completed")
    collector.job_status("late", "running")
    assert collector.get_metrics("late").status == "completed"
    types = [e.event_type for e in collector.get_execution_trace("late")]
    assert types == ["job_start", "job_paused", "job_completed"]


def test_the_collector_keeps_a_bounded_number_of_jobs(registry: MonitoringRegistry) -> None:
    from routilux.monitoring import MonitorCollector

    assert MonitorCollector().max_jobs == 200    # <= ~190 KB per full trace: tens of MB at most
    assert MonitoringRegistry(max_jobs=7).monitor_collector.max_jobs == 7
    collector = registry.monitor_collector
    flow, _ = pipeline("max-jobs")
    jobs = [flow.execute("r1", {"values": [i]}, timeout=10).job_id for i in range(6)]
    assert collector.list_jobs()[-6:] == jobs
    collector.set_max_jobs(4)     # applies at once, oldest finished jobs first
    assert collector.max_jobs == 4 and collector.list_jobs() == jobs[-4:]
    assert collector.get_metrics(jobs[0]) is None and collector.get_metrics(jobs[-1]) is not None
    flow.execute("r1", {"values": [9]}, timeout=10)
    assert len(collector.list_jobs()) == 4 and jobs[2] not in collector.list_jobs()
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="max_jobs"):
            collector.set_max_jobs(bad)    # type: ignore[arg-type]


def test_a_running_job_is_never_dropped_for_the_job_limit(registry: MonitoringRegistry) -> None:
    collector = registry.monitor_collector
    collector.set_max_jobs(1)
    counter = Counter()
    counter.gate = threading.Event()
    flow = Flow("max-jobs-running")
    flow.add_routine(counter, "c")
    running = flow.start("c", {"count": 3})
    finished, _ = pipeline("max-jobs-done")
    done = finished.execute("r1", {"values": [1]}, timeout=10)
    # over the limit, but only finished jobs may go, and the newest one is being recorded
    assert collector.list_jobs() == [running.job_id, done.job_id]
    counter.gate.set()
    assert running.wait(10)
    assert collector.get_metrics(running.job_id).total_event_emits == 3   # nothing lost


# ---- trace sanity: what the hop hooks record, checked against what the engine did ----------

def _within(ts: float, lo: float, hi: float, slack: float = 1e-3) -> bool:
    return lo - slack <= ts <= hi + slack


def test_a_sequential_trace_has_every_hop_in_order_with_consistent_times(
    registry: MonitoringRegistry,
) -> None:
    collector = registry.monitor_collector
    flow, sink = pipeline("sanity")
    job = flow.execute("r1", {"values": [1, 2, 3]}, timeout=10)
    assert str(job.status) == "completed" and sink.received == [1, 2, 3]
    trace = collector.get_execution_trace(job.job_id)
    m = collector.get_metrics(job.job_id)

    # FIFO, one worker: r1 emits three times (each emit queues an r2), then each r2 emits once
    # (queueing an r3), then the three r3 run.
    def hop(rid: str, emits: list[tuple[str, str]]) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = [("routine_start", rid)]
        for event, target in emits:
            out += [("event_emit", rid), ("slot_call", target)]
        return out + [("routine_complete", rid)]

    expected = [("job_start", None), ("slot_call", "r1")]
    expected += hop("r1", [("out", "r2")] * 3)
    expected += hop("r2", [("done", "r3")]) * 3
    expected += hop("r3", []) * 3
    expected += [("job_completed", None)]
    assert [(e.event_type, e.routine_id) for e in trace] == expected
    assert [e.seq for e in trace] == list(range(1, len(trace) + 1))

    # Links: a delivery names its emitter; emits and deliveries fall inside the emitter's run.
    starts = {e.activation_id: e for e in trace if e.event_type == "routine_start"}
    ends = {e.activation_id: e for e in trace if e.event_type == "routine_complete"}
    assert starts.keys() == ends.keys() and len(starts) == 7
    for e in trace:
        if e.event_type == "slot_call" and e.routine_id != "r1":
            src = e.activation_id   # (slot_call carries the emitting activation)
            assert starts[src].seq < e.seq < ends[src].seq
        if e.event_type == "event_emit":
            assert starts[e.activation_id].seq < e.seq < ends[e.activation_id].seq
    assert [e.data for e in trace if e.event_type == "slot_call" and e.routine_id == "r2"] == [
        {"value": 1}, {"value": 2}, {"value": 3}]
    assert [e.event_name for e in trace if e.event_type == "event_emit"] == ["out"] * 3 + ["done"] * 3

    # Times: one clock, non-decreasing in seq order, inside the job's window; a routine's
    # complete - start is exactly the duration the engine measured (up to float rounding).
    stamps = [e.timestamp for e in trace]
    assert stamps == sorted(stamps)
    assert all(_within(t, m.start_time, m.end_time) for t in stamps)
    for aid, end in ends.items():
        assert end.duration is not None and end.duration >= 0
        assert end.timestamp - starts[aid].timestamp == pytest.approx(end.duration, abs=5e-7)

    # Metrics agree with the trace.
    kinds = [e.event_type for e in trace]
    assert m.total_events == len(trace)
    assert m.total_slot_calls == kinds.count("slot_call") == 7
    assert m.total_event_emits == kinds.count("event_emit") == 6
    for rid, count in (("r1", 1), ("r2", 3), ("r3", 3)):
        rm = m.routine_metrics[rid]
        durations = [e.duration for e in ends.values() if e.routine_id == rid]
        assert rm.execution_count == len(durations) == count
        assert rm.total_duration == pytest.approx(sum(durations))
        assert (rm.min_duration, rm.max_duration) == (min(durations), max(durations))
        assert _within(rm.last_execution, m.start_time, m.end_time)
    assert m.duration == pytest.approx(m.end_time - m.start_time)


class _Overlap(Routine):
    """Waits (bounded) until ``width`` activations run at once, so a concurrent job overlaps."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(width)
        self.define_slot("inp", self.run)
        self.define_event("out", ["value"])

    def run(self, value):
        try:
            self.barrier.wait(5)
        except threading.BrokenBarrierError:
            pass   # the last few activations have no partners left
        self.emit("out", value=value)


class _Fan(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("out", ["value"])

    def run(self, n):
        for i in range(n):
            self.emit("out", value=i)


def test_a_concurrent_fan_out_trace_is_complete_and_consistent(
    registry: MonitoringRegistry,
) -> None:
    collector = registry.monitor_collector
    flow = Flow("sanity-fan", execution_strategy="concurrent", max_workers=4)
    flow.add_routine(_Fan(), "fan")
    flow.add_routine(_Overlap(4), "work")
    flow.add_routine(Boom(), "boom_unused")      # a routine that never runs: not in metrics
    left, right = Sink(), Sink()
    flow.add_routine(left, "left")
    flow.add_routine(right, "right")
    flow.connect("fan", "out", "work", "inp")
    flow.connect("work", "out", "left", "inp")     # one emit, two targets
    flow.connect("work", "out", "right", "inp")
    n = 8
    job = flow.execute("fan", {"n": n}, timeout=20)
    assert str(job.status) == "completed"
    assert sorted(left.received) == sorted(right.received) == list(range(n))
    trace = collector.get_execution_trace(job.job_id)
    m = collector.get_metrics(job.job_id)

    assert [e.seq for e in trace] == list(range(1, len(trace) + 1)) and len(trace) == m.total_events
    assert trace[0].event_type == "job_start" and trace[-1].event_type == "job_completed"
    starts = {e.activation_id: e for e in trace if e.event_type == "routine_start"}
    ends = {e.activation_id: e for e in trace if e.event_type == "routine_complete"}
    assert starts.keys() == ends.keys() and len(starts) == 1 + n + 2 * n
    for aid, start in starts.items():
        end = ends[aid]
        assert start.routine_id == end.routine_id and start.seq < end.seq
        assert end.timestamp - start.timestamp == pytest.approx(end.duration, abs=5e-7)
        assert _within(start.timestamp, m.start_time, m.end_time)
        assert _within(end.timestamp, m.start_time, m.end_time)
    # The work activations really overlapped (the job used several workers at once).
    spans = sorted((starts[a].timestamp, ends[a].timestamp) for a in starts
                   if starts[a].routine_id == "work")
    assert any(b_start < a_end for (_, a_end), (b_start, _) in zip(spans, spans[1:]))
    # Each emit of work fed both targets, each delivery names that emit's activation.
    kinds = [e.event_type for e in trace]
    # (fan n, work n, and each Sink emits "done", wired nowhere: 2n)
    assert kinds.count("event_emit") == m.total_event_emits == n + n + 2 * n
    assert kinds.count("slot_call") == m.total_slot_calls == 1 + n + 2 * n
    fed = collections.Counter(e.activation_id for e in trace
                     if e.event_type == "slot_call" and e.routine_id in ("left", "right"))
    work_ids = {a for a, s in starts.items() if s.routine_id == "work"}
    assert set(fed) == work_ids and set(fed.values()) == {2}
    assert {rid: rm.execution_count for rid, rm in m.routine_metrics.items()} == {
        "fan": 1, "work": n, "left": n, "right": n}
    assert m.completed_routines == 4 and m.failed_routines == 0 and m.total_routines == 5


def test_readers_and_subscribers_racing_a_lock_free_writer_lose_nothing(
    registry: MonitoringRegistry,
) -> None:
    """A sequential job records lock-free and trims its small ring hundreds of times while other
    threads read metrics and traces and subscribers come and go (switching the writer between
    the lock-free and the locked path): every count stays exact, every seq in order."""
    import threading

    from .helpers import Counter, Sink

    collector = registry.monitor_collector
    collector.set_max_events_per_job(100)
    flow = Flow("race-writer")
    counter = Counter()
    counter.gate = threading.Event()
    sink = Sink()
    flow.add_routine(counter, "c")
    flow.add_routine(sink, "s")
    flow.connect("c", "tick", "s", "inp", param_mapping={"i": "value"})
    n = 3000
    job = flow.start("c", {"count": n}, job_id="race-writer-job")
    stop = threading.Event()
    problems: list[str] = []

    def read() -> None:
        while not stop.is_set():
            trace = collector.get_execution_trace(job.job_id)
            seqs = [e.seq for e in trace]
            if seqs != list(range(seqs[0], seqs[0] + len(seqs))) if seqs else False:
                problems.append(f"trace seqs not contiguous: {seqs[:5]}...")
            m = collector.get_metrics(job.job_id)
            if m is not None and len(trace) > m.total_events:
                problems.append("metrics behind the trace")

    def churn() -> None:
        while not stop.is_set():
            sub = registry.event_manager.subscribe(job.job_id, max_queue=100_000)
            last = 0
            for item in sub.drain():
                if item.get("type") == "event":
                    if item["seq"] <= last:
                        problems.append(f"subscriber saw seq {item['seq']} after {last}")
                    last = item["seq"]
            sub.close()

    threads = [threading.Thread(target=read, daemon=True),
               threading.Thread(target=churn, daemon=True)]
    for t in threads:
        t.start()
    try:
        counter.gate.set()
        assert job.wait(60), "job did not finish"
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert str(job.status) == "completed", job.error
    assert problems == []
    m = collector.get_metrics(job.job_id)
    # job_start, c: slot_call + start + n emits + complete, s: n x (slot_call + start + its own
    # emit of "done" + complete), job_completed
    assert m.total_events == 1 + 3 + n + 4 * n + 1
    assert (m.total_slot_calls, m.total_event_emits) == (1 + n, 2 * n)
    assert m.routine_metrics["s"].execution_count == n and sorted(sink.received) == list(range(n))
    trace = collector.get_execution_trace(job.job_id)
    assert [e.seq for e in trace] == list(range(m.total_events - 99, m.total_events + 1))
    assert trace[-1].event_type == "job_completed"
