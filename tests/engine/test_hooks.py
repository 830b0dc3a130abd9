"""Every hook point fires with its documented keywords; before_activation can pause and edit."""

from __future__ import annotations

import inspect
import json
import threading
from pathlib import Path
from typing import Any

from routilux import ErrorHandler, ErrorStrategy, ExecutionHooks, Flow, JobState, Routine
from routilux.hooks import install_hooks
from routilux.runtime import Activation

from .helpers import pipeline

HOOK_NAMES = [n for n in vars(ExecutionHooks) if n.startswith(("on_", "before_"))]


def documented_keywords(name: str) -> set[str]:
    params = inspect.signature(getattr(ExecutionHooks, name)).parameters.values()
    assert all(p.kind is p.KEYWORD_ONLY for p in params if p.name != "self")
    return {p.name for p in params if p.name != "self"}


class Recorder(ExecutionHooks):
    """Records (hook, kwargs) for every call, checking the keyword names on the way in."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __getattribute__(self, name: str) -> Any:
        if name in HOOK_NAMES:
            def record(*args: Any, **kwargs: Any) -> None:
                assert not args, f"{name} got positional args"
                assert set(kwargs) == documented_keywords(name), (name, set(kwargs))
                with object.__getattribute__(self, "lock"):
                    object.__getattribute__(self, "calls").append((name, kwargs))
                    object.__getattribute__(self, "after")(name, kwargs)
            return record
        return object.__getattribute__(self, name)

    def after(self, name: str, kwargs: dict[str, Any]) -> None:
        """Subclass hook."""

    def names(self) -> list[str]:
        return [n for n, _ in self.calls]


def test_every_hook_point_fires_with_documented_keywords() -> None:
    rec = Recorder()
    flow = pipeline()
    undo = install_hooks(rec)
    try:
        js = flow.execute("ingest", {"data": [1, 2]}, timeout=5)
    finally:
        undo()
    assert js.status == "completed"
    per_routine = ["before_activation", "on_routine_start"]
    assert rec.names() == [
        "on_job_start",
        "on_slot_call",  # entry trigger
        *per_routine, "on_event_emit", "on_slot_call", "on_routine_end",  # ingest
        *per_routine, "on_event_emit", "on_slot_call", "on_routine_end",  # process
        *per_routine, "on_routine_end",  # validate
        "on_job_end",
    ]
    entry = rec.calls[1][1]
    assert entry["routine_id"] == "ingest" and entry["source"] is None
    assert entry["data"] == {"data": [1, 2]} and entry["job_state"] is js
    emit = rec.calls[4][1]
    assert (emit["routine_id"], emit["event_name"], emit["data"]) == ("ingest", "output",
                                                                      {"items": [2, 4]})
    to_process = rec.calls[5][1]
    assert to_process["routine_id"] == "process" and to_process["source"] is emit["activation"]
    act: Activation = rec.calls[8][1]["activation"]
    assert (act.routine_id, act.slot_name, act.source_event, act.depth) == (
        "process", "trigger", "output", 1)
    assert act.parent is emit["activation"] and act.job_state is js and act.flow is flow
    assert act.runtime.job_state is js and act.handler == flow.routines["process"].run
    end = rec.calls[-2][1]
    assert end["error"] is None and end["duration"] >= 0
    assert rec.calls[-1][1]["job_state"].status == "completed"


def test_routine_end_reports_the_error() -> None:
    rec = Recorder()
    undo = install_hooks(rec)
    try:
        js = pipeline(fail=True).execute("ingest", {"data": [1]}, timeout=5)
    finally:
        undo()
    assert js.status == "failed"
    ends = [kw for n, kw in rec.calls if n == "on_routine_end"]
    assert isinstance(ends[-1]["error"], RuntimeError)
    assert rec.names()[-1] == "on_job_end"


def test_before_activation_can_pause_the_worker_and_edit_data() -> None:
    parked = threading.Event()

    class Debugger(Recorder):
        def after(self, name: str, kwargs: dict[str, Any]) -> None:
            if name == "before_activation" and kwargs["activation"].routine_id == "process":
                act = kwargs["activation"]
                act.data["items"] = [100]
                self.lock.release()  # let other hooks record while this worker is parked
                try:
                    act.runtime.pause("breakpoint")
                    parked.set()
                    assert act.runtime.wait_while_paused(10) is True
                finally:
                    self.lock.acquire()

    dbg = Debugger()
    flow = pipeline()
    undo = install_hooks(dbg)
    try:
        js = flow.start("ingest", {"data": [1, 2]})
        assert parked.wait(5)
        assert js.status == "paused"
        assert ("on_job_status", "paused") in [(n, kw.get("status")) for n, kw in dbg.calls]
        assert [t["routine_id"] for t in js.pending_tasks()] == ["process"]
        flow.resume(js)
        assert js.wait(5)
    finally:
        undo()
    assert js.status == "completed"
    assert js.shared_data["validated"] == {"total": 100, "count": 1}
    assert ("on_job_status", "running") in [(n, kw.get("status")) for n, kw in dbg.calls]


def test_cancel_while_parked_in_before_activation_drops_the_activation() -> None:
    parked = threading.Event()

    class Debugger(ExecutionHooks):
        def before_activation(self, *, activation: Activation) -> None:
            if activation.routine_id == "process":
                activation.runtime.pause()
                parked.set()
                assert activation.runtime.wait_while_paused(10) is False

    flow = pipeline()
    undo = install_hooks(Debugger())
    try:
        js = flow.start("ingest", {"data": [1]})
        assert parked.wait(5)
        flow.cancel(js)
        assert js.wait(1)
    finally:
        undo()
    assert js.status == "cancelled"
    assert "process" not in js.routine_states


def test_save_while_parked_resumes_the_parked_activation_exactly_once(tmp_path: Path) -> None:
    parked = threading.Event()
    runs: list[int] = []

    class Count(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.run, merge_strategy="append")

        def run(self, value: list[int]) -> None:
            runs.append(value[-1])

    class Debugger(ExecutionHooks):
        def before_activation(self, *, activation: Activation) -> None:
            if activation.routine_id == "count" and activation.data["value"] == [1]:
                activation.runtime.pause()
                parked.set()
                activation.runtime.wait_while_paused(10)

    def build() -> Flow:
        flow = Flow("parked")
        flow.add_routine(Count(), "count")
        return flow

    flow = build()
    undo = install_hooks(Debugger())
    try:
        js = flow.start("count", {"value": 1})
        assert parked.wait(5)
        js.save(tmp_path / "j.json")
        flow.cancel(js)
    finally:
        undo()
    saved = json.loads((tmp_path / "j.json").read_text())
    assert saved["pending_tasks"][0]["premerged"] is True
    loaded = JobState.load(tmp_path / "j.json")
    build().resume(loaded)
    assert loaded.wait(5) and loaded.status == "completed"
    assert runs == [1]


def test_raising_hooks_never_kill_a_job() -> None:
    class Broken(ExecutionHooks):
        pass

    for name in HOOK_NAMES:
        def boom(*_: Any, **__: Any) -> None:
            raise RuntimeError("observer bug")
        setattr(Broken, name, boom)
    flow = pipeline()
    undo = install_hooks(Broken())
    try:
        js = flow.execute("ingest", {"data": [1]}, timeout=5)
        js2 = flow.start("ingest", {"data": [1]})
        flow.pause(js2) if not js2.is_terminal else None
        if not js2.is_terminal:
            flow.resume(js2)
        assert js2.wait(5)
    finally:
        undo()
    assert js.status == "completed" and js2.status == "completed"


def test_parent_chain_stays_bounded_on_a_long_chain() -> None:
    longest = [0]

    class Measure(ExecutionHooks):
        def before_activation(self, *, activation: Activation) -> None:
            n, a = 0, activation
            while a is not None:
                n, a = n + 1, a.parent
            longest[0] = max(longest[0], n)

    class Loop(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", self.run)
            self.define_event("again")

        def run(self, i: int) -> None:
            if i < 1000:
                self.emit("again", i=i + 1)

    flow = Flow()
    flow.add_routine(Loop(), "loop")
    flow.connect("loop", "again", "loop", "trigger")
    flow.routines["loop"].set_error_handler(ErrorHandler(ErrorStrategy.STOP))
    undo = install_hooks(Measure())
    try:
        js = flow.execute("loop", {"i": 0}, timeout=10)
    finally:
        undo()
    assert js.status == "completed"
    assert 64 <= longest[0] <= 128


class _Keeper(ExecutionHooks):
    """An observer that keeps the payload dicts it is shown, with a snapshot of each."""

    def __init__(self) -> None:
        self.kept: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def on_slot_call(self, *, job_state: JobState, routine_id: str, slot_name: str,
                     data: dict[str, Any], source: Activation | None) -> None:
        self.kept.append((data, dict(data)))

    def on_event_emit(self, *, activation: Activation | None, job_state: JobState,
                      routine_id: str, event_name: str, data: dict[str, Any]) -> None:
        self.kept.append((data, dict(data)))


class _Scribbler(Routine):
    """Takes its payload dict itself, scribbles on it, and fails on the first attempt."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run,
                         merge_strategy=lambda old, new: new.update(merged=True) or new)
        self.define_event("out", ["seen"])
        self.seen: list[dict[str, Any]] = []

    def run(self, data: dict[str, Any]) -> None:
        self.seen.append(dict(data))
        data["x"] = "scribbled"
        data.setdefault("attempts", 0)
        data["attempts"] += 1
        if data["attempts"] == 1:
            raise RuntimeError("first attempt fails")
        self.emit("out", seen=len(self.seen))


def _scribble(hooks: ExecutionHooks | None) -> list[dict[str, Any]]:
    flow = Flow("scribble")
    s = _Scribbler()
    s.set_error_handler(ErrorHandler(ErrorStrategy.RETRY, max_retries=2, retry_delay=0.0))
    flow.add_routine(s, "s")
    undo = install_hooks(hooks)
    try:
        job = flow.execute("s", {"x": "original"}, timeout=10)
    finally:
        undo()
    assert job.status == "completed", job.error
    return s.seen


def test_observers_may_keep_payload_dicts_and_handlers_behave_the_same() -> None:
    # Handlers that take the dict itself (and a merge strategy that edits its input) get a
    # copy while hooks are installed, so what an observer kept is never changed afterwards...
    keeper = _Keeper()
    observed = _scribble(keeper)
    assert keeper.kept and all(kept == snapshot for kept, snapshot in keeper.kept)
    assert keeper.kept[0][1] == {"x": "original"}
    # ...and the handler cannot tell: the retry sees its own first attempt's changes either way.
    assert observed == _scribble(None) == [
        {"x": "original", "merged": True},
        {"x": "scribbled", "merged": True, "attempts": 1},
    ]


def test_an_observer_with_nothing_to_steer_is_not_asked_before_activations() -> None:
    class Sometimes(Recorder):
        gates_activations = False

        def after(self, name: str, kwargs: dict[str, Any]) -> None:
            if name == "on_routine_end" and kwargs["activation"].routine_id == "ingest":
                type(self).gates_activations = True   # from the next activation on

    hooks = Sometimes()
    flow = pipeline()
    undo = install_hooks(hooks)
    try:
        job = flow.execute("ingest", {"data": [1, 2]}, timeout=5)
    finally:
        undo()
    assert job.status == "completed"
    gated = [kw["activation"].routine_id for n, kw in hooks.calls if n == "before_activation"]
    assert gated == ["process", "validate"]
    assert hooks.names().count("on_routine_start") == 3
