"""Error strategies: RETRY is scheduled (never slept on a worker), SKIP drops emits, validation."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from routilux import ErrorHandler, ErrorStrategy, Flow, Routine, ValidationError


class Flaky(Routine):
    """Fails ``failures`` times (emitting first), then succeeds; records attempt times."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.attempts: list[float] = []
        self.define_slot("trigger", self.run)
        self.define_event("out")

    def run(self, value: Any) -> None:
        self.attempts.append(time.monotonic())
        self.emit("out", value=value)
        if len(self.attempts) <= self.failures:
            raise ConnectionError(f"attempt {len(self.attempts)} failed")


class Record(Routine):
    """Records (value, time) of each call."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[Any, float]] = []
        self.called = threading.Event()
        self.define_slot("trigger", self.run)

    def run(self, value: Any) -> None:
        self.seen.append((value, time.monotonic()))
        self.called.set()


class Split(Routine):
    """Emits ``a`` then ``b``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("a")
        self.define_event("b")

    def run(self) -> None:
        self.emit("a", value="flaky")
        self.emit("b", value="other")


def retry_flow(failures: int, handler: ErrorHandler) -> tuple[Flow, Flaky, Record, Record]:
    flow = Flow()  # sequential: a single worker per job
    flaky, after, other = Flaky(failures), Record(), Record()
    flaky.set_error_handler(handler)
    flow.add_routine(Split(), "split")
    flow.add_routine(flaky, "flaky")
    flow.add_routine(after, "after")
    flow.add_routine(other, "other")
    flow.connect("split", "a", "flaky", "trigger")
    flow.connect("split", "b", "other", "trigger")
    flow.connect("flaky", "out", "after", "trigger")
    return flow, flaky, after, other


def test_retry_backoff_is_scheduled_and_the_worker_stays_free() -> None:
    handler = ErrorHandler(ErrorStrategy.RETRY, max_retries=3, retry_delay=0.15, retry_backoff=2.0)
    flow, flaky, after, other = retry_flow(2, handler)
    js = flow.execute("split", timeout=10)
    assert js.status == "completed", js.error
    assert len(flaky.attempts) == 3
    gap1 = flaky.attempts[1] - flaky.attempts[0]
    gap2 = flaky.attempts[2] - flaky.attempts[1]
    assert 0.14 <= gap1 < 1.0 and 0.29 <= gap2 < 1.5, (gap1, gap2)
    # The single sequential worker ran the other task during the first backoff.
    assert other.seen and flaky.attempts[0] < other.seen[0][1] < flaky.attempts[1]
    # Emits of failed attempts were discarded: downstream saw exactly one delivery.
    assert [v for v, _ in after.seen] == ["flaky"]
    assert js.routine_states["flaky"]["status"] == "completed"
    assert [r["status"] for r in js.execution_history if r["routine_id"] == "flaky"] == [
        "retrying", "retrying", "completed"]


def test_retry_exhausted_fails_the_job() -> None:
    handler = ErrorHandler(ErrorStrategy.RETRY, max_retries=2, retry_delay=0.01, retry_backoff=1)
    flow, flaky, after, _ = retry_flow(10, handler)
    js = flow.execute("split", timeout=10)
    assert js.status == "failed"
    assert len(flaky.attempts) == 3
    assert "attempt 3 failed" in js.error
    assert after.seen == []


def test_non_retryable_exception_fails_at_once() -> None:
    handler = ErrorHandler("retry", max_retries=5, retry_delay=0.01,
                           retryable_exceptions=(TimeoutError,))
    flow, flaky, _, _ = retry_flow(1, handler)
    js = flow.execute("split", timeout=10)
    assert js.status == "failed" and len(flaky.attempts) == 1


def test_retry_counters_are_per_job() -> None:
    handler = ErrorHandler(ErrorStrategy.RETRY, max_retries=1, retry_delay=0.01)
    flow, flaky, _, _ = retry_flow(0, handler)
    flaky.failures = 1  # only the very first attempt (of the first job) fails
    a = flow.execute("split", timeout=10)
    b = flow.execute("split", timeout=10)
    assert a.status == b.status == "completed"
    assert a.routine_states["flaky"].get("retry_count") == 1
    assert "retry_count" not in b.routine_states["flaky"]


def test_cancel_during_retry_backoff_is_immediate() -> None:
    handler = ErrorHandler(ErrorStrategy.RETRY, max_retries=3, retry_delay=30)
    flow, flaky, _, other = retry_flow(5, handler)
    js = flow.start("split")
    done = threading.Event()
    js.add_done_callback(lambda _: done.set())
    assert other.called.wait(5)  # runs only after flaky failed and went into backoff
    assert [t["routine_id"] for t in js.pending_tasks()] == ["flaky"]
    flow.cancel(js)
    assert done.wait(1) and js.status == "cancelled"


def test_skip_drops_the_failed_activations_emits() -> None:
    flow, flaky, after, other = retry_flow(1, ErrorHandler(ErrorStrategy.SKIP))
    js = flow.execute("split", timeout=5)
    assert js.status == "completed"
    assert after.seen == [] and other.seen
    assert js.routine_states["flaky"]["status"] == "skipped"
    assert "attempt 1 failed" in js.routine_states["flaky"]["error"]


def test_continue_keeps_emits_made_before_the_error() -> None:
    flow, flaky, after, _ = retry_flow(1, ErrorHandler(ErrorStrategy.CONTINUE))
    js = flow.execute("split", timeout=5)
    assert js.status == "completed" and [v for v, _ in after.seen] == ["flaky"]


def test_bad_handler_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="use one of: stop, continue, skip, retry"):
        ErrorHandler("explode")
    with pytest.raises(ValidationError):
        ErrorHandler("retry", retry_backoff=0)
    with pytest.raises(ValidationError, match="(?i)unknown"):
        ErrorHandler.from_dict({"strategy": "retry", "tries": 3})
    eh = ErrorHandler.from_dict({"strategy": "retry", "max_retries": 2, "retry_delay": 0.5})
    assert eh.to_dict() == {"strategy": "retry", "max_retries": 2, "retry_delay": 0.5,
                            "retry_backoff": 2.0}
    assert eh.delay_for(1) == 0.5 and eh.delay_for(3) == 2.0


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"max_retries": float("nan")}, "max_retries"),
        ({"max_retries": float("inf")}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"max_retries": "3"}, "max_retries"),
        ({"retry_delay": float("nan")}, "retry_delay"),
        ({"retry_delay": float("inf")}, "retry_delay"),
        ({"retry_delay": None}, "retry_delay"),
        ({"retry_backoff": float("-inf")}, "retry_backoff"),
        ({"retry_backoff": "fast"}, "retry_backoff"),
    ],
)
def test_non_finite_or_mistyped_retry_settings_are_refused_with_the_field(
    settings: dict[str, Any], field: str
) -> None:
    # Regression (HTTP fuzz): NaN slipped past the range checks (every comparison is False)
    # and int(nan)/int(inf) then raised ValueError/OverflowError, a 500 through the API.
    with pytest.raises(ValidationError, match=field) as info:
        ErrorHandler("retry", **settings)
    assert info.value.detail["field"] == field


def test_whole_float_retry_counts_still_work() -> None:
    # YAML and JSON writers may turn 3 into 3.0; that stays accepted.
    assert ErrorHandler("retry", max_retries=3.0).max_retries == 3
