"""Time travel in Python: recorded inputs, re-run from an activation, replay, pin, compare."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from routilux import Flow, Routine
from routilux.errors import InvalidStateError, ValidationError
from routilux.monitoring import MonitoringRegistry, SqliteHistoryStore, compare
from routilux.monitoring.timetravel import annotate

from .timetravel_flow import BROKEN, CALLS, order_flow


def _acts(registry: MonitoringRegistry, job: Any) -> list[Any]:
    return registry.monitor_collector.recorded_activations(job.job_id)


def _fixed_input(act: Any) -> dict[str, Any]:
    data = copy.deepcopy(act.input)
    data["items"][2]["price"] = 4.0
    return data


@pytest.fixture
def broken(registry: MonitoringRegistry) -> tuple[Flow, Any]:
    flow = order_flow()
    job = flow.execute("load", BROKEN, timeout=10)
    assert job.status == "failed"
    return flow, job


def test_each_activation_records_its_input_emits_and_shared_data(registry, broken):
    _, job = broken
    acts = _acts(registry, job)
    assert [a.routine_id for a in acts] == ["load", "clean", "price"]
    trace = {e.seq: e for e in registry.monitor_collector.get_execution_trace(job.job_id)}
    for act in acts:   # addressed by the seq of its routine_start event
        assert trace[act.seq].event_type == "routine_start"
        assert trace[act.seq].routine_id == act.routine_id
    load, clean, price = acts
    assert load.input == BROKEN and load.shared == {}
    assert [e.event_name for e in load.emits] == ["out"]
    assert clean.input == load.emits[0].data
    assert price.input["items"][0]["name"] == "tea"          # what price actually got
    assert price.shared == {"cleaned": 3}                     # shared data as price began
    assert price.status == "failed" and "NoneType" in price.error and price.emits == []


def test_recorded_inputs_are_bounded_by_the_trace_ring(registry):
    flow = order_flow("ring")
    registry.monitor_collector.set_max_events_per_job(6)
    job = flow.execute("load", BROKEN, timeout=10)
    acts = _acts(registry, job)
    assert len(acts) <= 2 and acts[-1].routine_id == "price"
    with pytest.raises(ValidationError, match="trimmed"):
        job.rerun_from(3)


def test_rerun_from_an_activation_with_an_edited_input_skips_upstream(registry, broken):
    flow, job = broken
    price = _acts(registry, job)[2]
    CALLS.clear()
    fork = job.rerun_from(price.seq, _fixed_input(price))
    assert fork.wait(10) and fork.status == "completed"
    assert CALLS == {"price": 1, "total": 1, "report": 1}   # load and clean did not run again
    assert flow.routines["report"].reports[-1] == {"total": 12.0, "count": 3, "cleaned": 3}
    assert fork.parent_job_id == job.job_id
    assert fork.forked_from == {"job_id": job.job_id, "seq": price.seq}
    start = registry.monitor_collector.get_execution_trace(fork.job_id)[0]
    assert start.event_type == "job_start"   # the fork's trace links to its parent
    assert start.to_dict()["forked_from"] == {"job_id": job.job_id, "seq": price.seq}
    assert start.to_dict()["parent_job_id"] == job.job_id
    shape = fork.to_dict()
    assert shape["parent_job_id"] == job.job_id
    assert shape["forked_from"] == {"job_id": job.job_id, "seq": price.seq}


def test_rerun_without_data_uses_the_recorded_input(registry, broken):
    _, job = broken
    price = _acts(registry, job)[2]
    CALLS.clear()
    fork = job.rerun_from(price.seq)
    assert fork.wait(10) and fork.status == "failed"   # same input, same bug
    assert CALLS == {"price": 1}


def test_flow_rerun_from_by_routine_and_slot(registry, broken):
    flow, job = broken
    price = _acts(registry, job)[2]
    fork = flow.rerun_from(job, "price", "inp", _fixed_input(price))
    assert fork.wait(10) and fork.status == "completed"
    assert fork.forked_from == {"job_id": job.job_id, "seq": price.seq}


@pytest.mark.parametrize("seq,reason", [(1, "job_start"), (999, "no trace event"),
                                        (0, "positive integer"), ("3", "positive integer")])
def test_bad_seq_says_why(registry, broken, seq, reason):
    _, job = broken
    with pytest.raises(ValidationError, match=reason):
        job.rerun_from(seq)


def test_payload_that_does_not_fit_the_slot_is_refused(registry, broken):
    _, job = broken
    price = _acts(registry, job)[2]
    with pytest.raises(ValidationError, match="lacks \\['items'\\]"):
        job.rerun_from(price.seq, {"things": []})
    with pytest.raises(ValidationError, match="object of payload keys"):
        job.rerun_from(price.seq, [1, 2])   # type: ignore[arg-type]


def test_rerun_needs_monitoring_when_the_job_ran():
    flow = order_flow("unmonitored")
    job = flow.execute("load", BROKEN, timeout=10)
    with pytest.raises(InvalidStateError, match="monitoring was off"):
        job.rerun_from(3)


def test_replay_runs_the_same_entry_and_params(registry, broken):
    _, job = broken
    CALLS.clear()
    again = job.replay()
    assert again.wait(10) and again.status == "failed"
    assert CALLS == {"load": 1, "clean": 1, "price": 1}
    assert again.replay_of == job.job_id
    assert compare(job, again).same


def test_compare_reports_exactly_the_routine_and_path_that_differ(registry):
    flow = order_flow("cmp")
    CALLS.clear()
    a = flow.execute("load", {**copy.deepcopy(BROKEN), "note": "a"}, timeout=10)
    b = flow.execute("load", {**copy.deepcopy(BROKEN), "note": "b"}, timeout=10)
    diff = compare(a, b)
    assert diff.differing_routines == ["load"]
    assert diff.routine("load").first_difference.path == "note"
    c = flow.execute("load", copy.deepcopy(BROKEN), timeout=10)
    d = flow.execute("load", copy.deepcopy(BROKEN), timeout=10)
    assert compare(c, d).same and compare(c, d).differing_routines == []


def test_compare_a_fix_with_the_broken_run(registry, broken):
    _, job = broken
    price = _acts(registry, job)[2]
    fork = job.rerun_from(price.seq, _fixed_input(price))
    fork.wait(10)
    diff = compare(job, fork).to_dict()
    assert diff["origins"] == ["price"]
    first = diff["routines"][0]
    assert first["routine_id"] == "price"
    assert first["first_difference"]["path"] == "items[2].price"
    assert (first["first_difference"]["a"], first["first_difference"]["b"]) == (None, 4.0)
    assert first["status"] == {"a": "failed", "b": "completed", "changed": True}
    assert diff["status"]["changed"]


def test_compare_of_different_flows_is_a_value_error(registry, broken):
    _, job = broken
    other = order_flow("elsewhere").execute("load", BROKEN, timeout=10)
    with pytest.raises(ValueError, match="different flows"):
        compare(job, other)


def test_pinned_jobs_survive_twice_the_job_limit(registry):
    collector = registry.monitor_collector
    collector.set_max_jobs(5)
    flow = order_flow("pins")
    keep = flow.execute("load", BROKEN, timeout=10)
    assert annotate(keep, label="the broken one", pinned=True, registry=registry) == {
        "job_id": keep.job_id, "label": "the broken one", "pinned": True}
    for _ in range(10):
        flow.execute("load", BROKEN, timeout=10)
    assert keep.job_id in collector.list_jobs()
    assert len(collector.list_jobs()) == 5
    assert keep.rerun_from(_acts(registry, keep)[2].seq).wait(10)


class Odd(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)

    def run(self, **kw: Any) -> None:
        pass


def test_history_stores_recorded_inputs_as_json_with_marked_reprs(registry, tmp_path):
    store = SqliteHistoryStore(str(tmp_path / "h.db"))
    registry.attach_history_store(store)
    flow = Flow("odd")
    flow.add_routine(Odd(), "odd")
    job = flow.execute("odd", {"when": object.__new__(Odd), "n": 1}, timeout=10)
    assert store.flush()
    (rec,) = store.get_inputs(job.job_id)
    assert rec["routine_id"] == "odd" and rec["input"]["n"] == 1
    assert set(rec["input"]["when"]) == {"__repr__"}
    assert "Odd" in rec["input"]["when"]["__repr__"]
    annotate(job, pinned=True, registry=registry)
    for _ in range(3):
        flow.execute("odd", {"n": 2}, timeout=10)
    store.prune(max_jobs=1)
    assert store.flush()
    assert store.get_job(job.job_id)["pinned"] is True
    assert store.count_jobs() == 2   # the pinned one and the newest
    store.close()


def test_replaying_a_fork_forks_again_from_the_same_point(registry, broken):
    _, job = broken
    price = _acts(registry, job)[2]
    fork = job.rerun_from(price.seq, _fixed_input(price))
    fork.wait(10)
    CALLS.clear()
    again = fork.replay()
    assert again.wait(10) and again.status == "completed"
    assert CALLS == {"price": 1, "total": 1, "report": 1}
    assert again.forked_from == fork.forked_from and again.replay_of == fork.job_id
    assert _acts(registry, again)[0].shared == {"cleaned": 3}
    assert compare(fork, again).same
