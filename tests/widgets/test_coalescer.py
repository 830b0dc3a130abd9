"""The flush thread: at most ``hz`` flushes per view per second, urgent ones at once."""

from __future__ import annotations

import threading
import time

import pytest

from routilux_jupyter.widgets._coalescer import Coalescer


class Counter:
    """A flushable that records when it was flushed."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.flushed = threading.Event()

    def _flush(self) -> None:
        self.times.append(time.monotonic())
        self.flushed.set()


def test_a_storm_of_marks_becomes_a_few_flushes(coalescer: Coalescer) -> None:
    view = Counter()
    start = time.monotonic()
    marks = 0
    while time.monotonic() - start < 0.55:
        coalescer.mark_dirty(view)
        marks += 1
    assert view.flushed.wait(2)
    assert marks > 1000
    # 0.55 s at 10 Hz: the first flush at once, then one per 100 ms.
    assert 2 <= len(view.times) <= 8
    gaps = [b - a for a, b in zip(view.times, view.times[1:])]
    assert all(g >= coalescer.interval * 0.9 for g in gaps), gaps


def test_urgent_flush_does_not_wait_for_the_tick(coalescer: Coalescer) -> None:
    view = Counter()
    coalescer.mark_dirty(view)
    assert view.flushed.wait(2)
    view.flushed.clear()
    t0 = time.monotonic()
    coalescer.mark_dirty(view, urgent=True)
    assert view.flushed.wait(2)
    assert time.monotonic() - t0 < coalescer.interval


def test_a_failing_view_does_not_stop_the_others(coalescer: Coalescer) -> None:
    class Broken:
        def _flush(self) -> None:
            raise RuntimeError("boom")

    broken, good = Broken(), Counter()
    coalescer.mark_dirty(broken)
    coalescer.mark_dirty(good)
    assert good.flushed.wait(2)


def test_forgotten_views_are_not_flushed(coalescer: Coalescer) -> None:
    a, b = Counter(), Counter()
    coalescer.mark_dirty(a)
    assert a.flushed.wait(2)
    a.flushed.clear()
    coalescer.mark_dirty(a)  # due only after the interval
    coalescer.forget(a)
    coalescer.mark_dirty(b, urgent=True)
    assert b.flushed.wait(2)
    assert not a.flushed.wait(coalescer.interval * 2)


def test_rate_outside_the_useful_range_is_refused() -> None:
    with pytest.raises(ValueError, match="5-10 Hz"):
        Coalescer(hz=0)
