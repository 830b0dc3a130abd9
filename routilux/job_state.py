"""JobState: the observable state of one job (status, per-routine state, history, shared data).

Waiting is event-driven: the job's runtime sets ``_done`` when the job becomes terminal, and
``wait()``, ``await job_state`` and ``JobState.wait_for_completion`` all block on that.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
import weakref
from collections import deque
from datetime import datetime, timezone
from enum import Enum
from time import time
from typing import TYPE_CHECKING, Any, Callable, Generator

from routilux.errors import InvalidStateError, ValidationError

if TYPE_CHECKING:
    from routilux.flow import Flow
    from routilux.runtime import JobRuntime

__all__ = ["ExecutionStatus", "JobState", "RoutineStatus"]

_FORMAT = "routilux.job_state/1"
DEFAULT_HISTORY_LIMIT = 1000


class ExecutionStatus(str, Enum):
    """Status of a job. ``lost``: its owning process went away before it ended."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LOST = "lost"

    def __str__(self) -> str:
        return self.value


class RoutineStatus(str, Enum):
    """Status of one routine inside a job (``routine_states[rid]["status"]``)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    ERROR_CONTINUED = "error_continued"
    SKIPPED = "skipped"
    RETRYING = "retrying"

    def __str__(self) -> str:
        return self.value


TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "lost"})


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")


def _ts(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc)


class JobState:
    """State of one job of a flow. Created by ``flow.start()``; never shared between jobs.

    Times are ``datetime`` objects in UTC (``to_dict()`` gives ISO 8601 strings).
    ``execution_history`` holds the last ``history_limit`` activations (default 1000).
    """

    def __init__(self, flow_id: str = "", job_id: str | None = None, *,
                 history_limit: int = DEFAULT_HISTORY_LIMIT) -> None:
        self.job_id: str = job_id or uuid.uuid4().hex
        self.flow_id: str = flow_id
        self.status: str = "pending"
        self.routine_states: dict[str, dict[str, Any]] = {}
        self.shared_data: dict[str, Any] = {}
        self.error: str | None = None
        # Bounded like the history: a CONTINUE routine failing forever must not grow memory.
        self.errors: deque[dict[str, Any]] = deque(maxlen=history_limit)
        self.cancel_reason: str | None = None
        self._history: deque[tuple[Any, ...]] = deque(maxlen=history_limit)
        self._created_ts: float = time()
        self._updated_ts: float = self._created_ts
        self._started_ts: float | None = None
        self._completed_ts: float | None = None
        self._done = threading.Event()
        self._cb_lock = threading.Lock()
        self._callbacks: list[Callable[[JobState], Any]] = []
        self._runtime: JobRuntime | None = None
        self._flow_ref: weakref.ref[Flow] | None = None   # set by the runtime; outlives it
        self._saved: dict[str, Any] | None = None
        #: Where the job's handlers run ("thread", "dask", ...) and facts for views
        #: (a Dask job's ``dashboard_link``).
        self.executor: str = "thread"
        self.executor_info: dict[str, Any] = {"name": "thread"}
        # Time travel (routilux.forking, routilux.monitoring.timetravel): where a fork came
        # from, how the job was entered (for replay), and the user's label / pin.
        self.parent_job_id: str | None = None
        self.forked_from: dict[str, Any] | None = None
        self.replay_of: str | None = None
        self.entry: dict[str, Any] | None = None
        self.label: str | None = None
        self.pinned: bool = False

    # ----------------------------------------------------------------- times
    @property
    def created_at(self) -> datetime:
        """When the job object was created (UTC)."""
        return _dt(self._created_ts)  # type: ignore[return-value]

    @property
    def started_at(self) -> datetime | None:
        """When the job started running (UTC)."""
        return _dt(self._started_ts)

    @property
    def completed_at(self) -> datetime | None:
        """When the job became terminal (UTC)."""
        return _dt(self._completed_ts)

    @property
    def updated_at(self) -> datetime:
        """Last status change or last finished activation (UTC)."""
        ts = self._updated_ts
        if self._history:
            ts = max(ts, self._history[-1][3])
        return _dt(ts)  # type: ignore[return-value]

    # ----------------------------------------------------------------- status
    @property
    def runtime(self) -> JobRuntime | None:
        """The job's live :class:`~routilux.runtime.JobRuntime` while it runs in this process.

        ``None`` once the job is terminal and for a job read with :meth:`load` (until
        ``flow.resume``). Observers use it to pause, resume or inspect the running job; it is
        never saved.
        """
        return self._runtime

    @property
    def flow(self) -> Flow | None:
        """The :class:`~routilux.flow.Flow` this job runs (or ran) on, also after it ended.

        Held weakly, so a finished job never keeps its flow alive: ``None`` once that flow was
        garbage-collected, and for a job read with :meth:`load` until ``flow.resume(job)``.
        """
        ref = self._flow_ref
        return None if ref is None else ref()

    @property
    def is_terminal(self) -> bool:
        """True once the job completed, failed, was cancelled or lost."""
        return self.status in TERMINAL_STATUSES

    def _set_status(self, status: str) -> None:
        self.status = status
        self._updated_ts = time()
        if status == "running" and self._started_ts is None:
            self._started_ts = self._updated_ts

    def _set_executor(self, executor: Any) -> None:
        self.executor = executor.name
        try:
            self.executor_info = dict(executor.describe())
        except Exception:  # a backend that cannot describe itself still runs
            self.executor_info = {"name": executor.name}

    def _set_completed(self) -> None:
        self._completed_ts = self._updated_ts

    def _fire_done(self) -> None:
        self._runtime = None  # let the runtime (queue, buffers, activations) be collected
        with self._cb_lock:
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            try:
                cb(self)
            except Exception:
                import logging

                logging.getLogger(__name__).exception("JobState done-callback raised")

    def add_done_callback(self, fn: Callable[[JobState], Any]) -> None:
        """Call ``fn(job_state)`` once the job is terminal (at once if it already is)."""
        with self._cb_lock:
            if not self._done.is_set():
                self._callbacks.append(fn)
                return
        fn(self)

    # ----------------------------------------------------------------- waiting
    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job is terminal; ``False`` if ``timeout`` seconds passed first."""
        if self._done.is_set():
            return True
        if self._runtime is None and self._saved is None and self.is_terminal:
            return True
        return self._done.wait(timeout)

    def __await__(self) -> Generator[Any, None, JobState]:
        """``await job_state`` in an async cell: resolves to the job state once terminal."""
        if not self._done.is_set():
            import asyncio

            loop = asyncio.get_running_loop()
            fut = loop.create_future()

            def _resolve(_: JobState) -> None:
                def _set() -> None:
                    if not fut.done():
                        fut.set_result(None)

                try:
                    loop.call_soon_threadsafe(_set)
                except RuntimeError:  # the loop closed while the job ran
                    pass

            self.add_done_callback(_resolve)
            yield from fut.__await__()
        return self

    @staticmethod
    def wait_for_completion(flow: Flow | None, job_state: JobState, timeout: float | None = None,
                            **_legacy: Any) -> bool:
        """Compatibility with routilux 0.10: ``job_state.wait(timeout)`` (no polling)."""
        return job_state.wait(timeout)

    # ----------------------------------------------------------------- routine state and data
    @property
    def execution_history(self) -> list[dict[str, Any]]:
        """The recent activations, oldest first, as dicts (materialised on access)."""
        out = []
        for rid, slot, status, ts, error in list(self._history):
            rec = {"routine_id": rid, "slot_name": slot, "status": status, "timestamp": _iso(ts)}
            if error is not None:
                rec["error"] = error
            out.append(rec)
        return out

    @property
    def history_limit(self) -> int | None:
        """How many history records are kept."""
        return self._history.maxlen

    def get_routine_state(self, routine_id: str) -> dict[str, Any] | None:
        """``routine_states[routine_id]`` (a copy) or ``None``."""
        state = self.routine_states.get(routine_id)
        return dict(state) if state is not None else None

    def update_routine_state(self, routine_id: str, state: dict[str, Any]) -> None:
        """Merge ``state`` into ``routine_states[routine_id]``."""
        self.routine_states.setdefault(routine_id, {}).update(state)

    def update_shared_data(self, key: str, value: Any) -> None:
        """Set one shared-data key (visible to every routine of this job only)."""
        self.shared_data[key] = value

    def get_shared_data(self, key: str, default: Any = None) -> Any:
        """Read one shared-data key."""
        return self.shared_data.get(key, default)

    def pending_tasks(self) -> list[dict[str, Any]]:
        """Activations not yet run: ``{routine_id, slot_name, data, attempt, premerged}``."""
        rt = self._runtime
        if rt is not None:
            return rt.pending_tasks()
        return list((self._saved or {}).get("pending", []))

    # ----------------------------------------------------------------- time travel
    def rerun_from(self, seq: int, data: dict[str, Any] | None = None) -> JobState:
        """Fork: a new job of this flow from the activation at trace ``seq``, with its recorded
        input (or ``data``) and the shared data it began with. Needs monitoring on when this
        job ran (see :mod:`routilux.monitoring.timetravel`)."""
        from routilux.monitoring.timetravel import rerun_from

        return rerun_from(self, seq, data)

    def replay(self) -> JobState:
        """A new job of this flow with the same entry routine, slot and params."""
        from routilux.forking import replay

        return replay(self)

    # ----------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the job shape of DESIGN.md §6, minus owner)."""
        return {
            "job_id": self.job_id,
            "flow_id": self.flow_id,
            "status": str(self.status),
            "created_at": _iso(self._created_ts),
            "updated_at": self.updated_at.isoformat().replace("+00:00", "Z"),
            "started_at": _iso(self._started_ts),
            "completed_at": _iso(self._completed_ts),
            "error": self.error,
            "executor": self.executor,
            "executor_info": dict(self.executor_info),
            "errors": [dict(e, timestamp=_iso(e["timestamp"])) for e in list(self.errors)],
            # list() copies in C (atomic under the GIL) while workers may add routines.
            "routine_states": {k: dict(v) for k, v in list(self.routine_states.items())},
            "shared_data_keys": sorted(str(k) for k in list(self.shared_data)),
            "parent_job_id": self.parent_job_id,
            "forked_from": dict(self.forked_from) if self.forked_from else None,
            "replay_of": self.replay_of,
            # Where the job entered (params left out: they can be large, and the entry
            # activation's input is in the recorded inputs anyway).
            "entry": None if self.entry is None else {
                "routine_id": self.entry.get("routine_id"), "slot_name": self.entry.get("slot_name")},
            "label": self.label,
            "pinned": self.pinned,
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the job to a JSON file, including its pending tasks and merge buffers.

        Save a *paused* (or finished) job to resume it exactly once later: a paused job's save
        waits until no handler is mid-run. A running job's snapshot is best effort.
        """
        rt = self._runtime
        snap = rt.snapshot() if rt is not None else (self._saved or {"pending": [], "buffers": []})
        doc = self.to_dict()
        doc["format"] = _FORMAT
        doc["errors"] = [dict(e) for e in list(self.errors)]
        doc["history_limit"] = self._history.maxlen
        doc["execution_history"] = [list(r) for r in self._history]
        doc["cancel_reason"] = self.cancel_reason
        for part, what in (("shared_data", "shared_data"),):
            _check_json(getattr(self, part), f"job {self.job_id} {what}")
        doc["shared_data"] = self.shared_data
        for task in snap["pending"]:
            _check_json(task["data"], f"pending task {task['routine_id']}.{task['slot_name']}")
        for buf in snap["buffers"]:
            _check_json(buf["data"], f"merge buffer of {buf['routine_id']}.{buf['slot_name']}")
        doc["pending_tasks"] = snap["pending"]
        doc["merge_buffers"] = snap["buffers"]
        text = json.dumps(doc, indent=1)
        tmp = f"{os.fspath(path)}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> JobState:
        """Read a file written by :meth:`save`; resume it with ``flow.resume(job_state)``."""
        with open(path, encoding="utf-8") as fh:
            try:
                doc = json.load(fh)
            except json.JSONDecodeError as exc:
                raise ValidationError(f"{path} is not a saved job state: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            raise ValidationError(
                f"{path} is not a routilux job state (expected format {_FORMAT!r}); "
                "write it with JobState.save()"
            )
        js = cls(doc["flow_id"], doc["job_id"], history_limit=doc.get("history_limit") or 1000)
        js.status = doc["status"]
        js.error = doc.get("error")
        js.cancel_reason = doc.get("cancel_reason")
        js.errors.extend(doc.get("errors") or [])
        js.shared_data = dict(doc.get("shared_data") or {})
        js.routine_states = {k: dict(v) for k, v in (doc.get("routine_states") or {}).items()}
        js._history.extend(tuple(r) for r in doc.get("execution_history") or [])
        js._created_ts = _ts(doc.get("created_at")) or js._created_ts
        js._updated_ts = _ts(doc.get("updated_at")) or js._created_ts
        js._started_ts = _ts(doc.get("started_at"))
        js._completed_ts = _ts(doc.get("completed_at"))
        js._saved = {"pending": list(doc.get("pending_tasks") or []),
                     "buffers": list(doc.get("merge_buffers") or [])}
        if js.is_terminal:
            js._done.set()
        return js

    # ----------------------------------------------------------------- tables (pandas)
    # Thin on purpose: the engine stays stdlib-only, so the logic (and the pandas import) lives
    # in routilux.monitoring.frames and loads only when a frame is asked for.
    def trace_frame(self, limit: int | None = None) -> Any:
        """This job's retained trace as a pandas DataFrame, one row per event (see
        :mod:`routilux.monitoring.frames`; needs ``pip install routilux[frames]``)."""
        from routilux.monitoring.frames import trace_frame

        return trace_frame(self, limit)

    def metrics_frame(self) -> Any:
        """This job's per-routine metrics as a pandas DataFrame, one row per routine."""
        from routilux.monitoring.frames import metrics_frame

        return metrics_frame(self)

    # ----------------------------------------------------------------- display
    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from routilux.display import mimebundle

        return mimebundle("job", self, include, exclude)

    def __repr__(self) -> str:
        return f"JobState(job_id={self.job_id!r}, flow_id={self.flow_id!r}, status={self.status!r})"


def _check_json(value: Any, where: str) -> None:
    def fail(obj: Any) -> Any:
        raise ValidationError(
            f"Cannot save {where}: a value of type {type(obj).__name__} is not JSON-serializable. "
            "Keep payloads and shared_data to JSON values (str, int, float, bool, None, list, "
            "dict with str keys), or convert them before saving",
            detail={"where": where, "type": type(obj).__name__},
        )

    try:
        json.dumps(value, default=fail)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError(f"Cannot save {where}: {exc}", detail={"where": where}) from None


def require_resumable(job_state: JobState) -> None:
    """Raise InvalidStateError unless ``job_state`` can be resumed from its saved snapshot."""
    if job_state.is_terminal:
        raise InvalidStateError(
            f"Job {job_state.job_id} is {job_state.status}; only paused or saved jobs resume"
        )
