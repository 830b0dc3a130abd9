"""Debug sessions: the controller's view of a job that pauses at breakpoints and steps.

A :class:`DebugSession` is shared between the job's worker thread (which pauses in it, see
:mod:`routilux.monitoring.debugger`) and any controlling thread (a notebook cell, an HTTP handler),
which calls :meth:`~DebugSession.step_over`, :meth:`~DebugSession.variables` and friends. Every
operation is thread-safe; the step commands raise :class:`~routilux.errors.InvalidStateError` when
the job is not paused.

Step modes (what the worker does after it is released):

``None``        run until the next breakpoint (``continue``/``resume``)
``activation``  pause before the job's next activation (``step_over`` at routine level, ``step_out``)
``enter``       trace the current handler and pause at its first line (``step_into``)
``enter_next``  the same for the next activation's handler (``step_into`` from a user pause)
``enter_delivery`` the same for the handler that receives the delivery of the event the job is
                paused at (``step_into`` from an event pause); other activations run meanwhile
``break_delivery`` an event breakpoint fired inside an ``async def`` handler (which cannot block
                the event loop): pause before the activation that its delivery starts
``emit_over``   paused at an emit: deliver it, then pause at the next line of the code that
                emitted (becomes ``line_over`` once the worker has the emitting frame traced)
``line_over``   inside a handler: pause at the next line of the same frame (or its caller)
``line_into``   inside a handler: pause at the next line anywhere, entering calls
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable

from routilux.errors import InvalidStateError, ValidationError
from routilux.monitoring.summary import summarize, summarize_mapping

if TYPE_CHECKING:
    from routilux.runtime import Activation

__all__ = ["DebugSession", "DebugSessionStore"]

LINE_MODES = frozenset({"enter", "line_over", "line_into"})
ENDED = frozenset({"completed", "failed", "cancelled", "lost"})
MAX_PY_FRAMES = 50


class DebugSession:
    """The debugging state of one job: where it is paused and how it should step next."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.created_at = time.time()
        self._cond = threading.Condition(threading.Lock())
        self.status = "running"
        self.paused_at: dict[str, Any] | None = None
        self.pause_reason: str | None = None
        self.breakpoint_id: str | None = None
        self.step_mode: str | None = None
        self.pause_count = 0
        # Set by the worker while it is paused here:
        self._activation: Activation | None = None
        self._frame: FrameType | None = None
        self._emit_frame: FrameType | None = None   # paused at an emit: the code that emitted
        self._locals: Any = None          # frame locals (dict written back on resume, or proxy)
        self._payload: dict[str, Any] | None = None   # what set_variable(scope="local") edits
        self._job_state: Any = None
        self._pausing = False             # worker entered here but has not paused the job yet
        self._early_release = False       # a command came while _pausing: worker resumes itself
        self._pending_hit: Callable[[], None] | None = None   # publishes breakpoint_hit
        self._resumes_recorded = 0        # job_resumed events traced (see _resume_recorded)
        # Worker-side helpers (see debugger.py)
        self._pause_lock = threading.Lock()   # one paused worker per job at a time
        self._step_frame: FrameType | None = None
        self._tracer: Any = None
        # enter_delivery: (emitting activation, event name, id floor) of the delivery to enter
        self._delivery: tuple[Any, str, int] | None = None
        # break_delivery: the event breakpoint that fired inside a coroutine (see debugger.py)
        self._delivery_breakpoint: Any = None

    # ---- worker side ------------------------------------------------------------------------
    def _enter(
        self, activation: Activation | None, job_state: Any, location: dict[str, Any], reason: str,
        breakpoint_id: str | None, frame: FrameType | None, payload: dict[str, Any] | None,
        hit: Callable[[], None] | None = None, emit_frame: FrameType | None = None,
    ) -> None:
        """The worker pauses here (called right *before* ``runtime.pause()``, see
        :func:`~routilux.monitoring.debugger.pause_worker`): from now on commands are accepted."""
        with self._cond:
            self._pending_hit = hit
            if self.status in ENDED:   # ended just now: runtime.pause() will refuse too
                return
            self._pausing = True
            self._early_release = False
            self._activation = activation
            self._job_state = job_state
            self._frame = frame
            self._emit_frame = emit_frame
            self._locals = frame.f_locals if frame is not None else None
            self._payload = payload
            self.paused_at = location
            self.pause_reason = reason
            self.breakpoint_id = breakpoint_id
            self.status = "paused"
            self.pause_count += 1
            self._cond.notify_all()

    def _take_pending_hit(self) -> Callable[[], None] | None:
        """The breakpoint_hit publisher of the pause in progress (once), or ``None``."""
        with self._cond:
            hit, self._pending_hit = self._pending_hit, None
            return hit

    def _job_paused(self) -> bool:
        """The worker paused the job; ``True`` if a command released the session meanwhile
        (its ``runtime.resume()`` came too early to release anything: the worker resumes)."""
        with self._cond:
            self._pausing = False
            early, self._early_release = self._early_release, False
            return early

    def _resume_recorded(self) -> None:
        """The job's ``job_resumed`` was traced (called by the monitoring hooks)."""
        with self._cond:
            self._resumes_recorded += 1
            self._cond.notify_all()

    def _wait_resume_recorded(self, seen: int, timeout: float) -> None:
        """Block the released worker until the resume that released it is traced.

        The engine reports a resume from the resuming thread after waking the worker; without
        this wait the worker could finish the job (or pause again) before ``job_resumed`` is
        recorded, and the trace would show the events out of order.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._resumes_recorded > seen or self.status in ENDED,
                                timeout)

    def _leave(self) -> None:
        """The worker was released (by a step command, a resume or a cancel)."""
        with self._cond:
            if self.status == "paused":
                self.status = "running"
                self.paused_at = None
            self._activation = self._frame = self._emit_frame = None
            self._locals = self._payload = None
            self.breakpoint_id = None
            self._pausing = self._early_release = False
            self._pending_hit = None

    def _note_status(self, status: str, job_state: Any = None) -> None:
        """A job status change seen through the hooks (user pause/resume, job end)."""
        # The engine fires status hooks after releasing its lock, so a note can be stale (a
        # "running" arriving after another worker already paused again): trust the runtime.
        runtime = getattr(job_state if job_state is not None else self._job_state, "runtime", None)
        if runtime is not None and status in ("paused", "running") and (
            runtime.is_paused != (status == "paused")
        ):
            return
        with self._cond:
            if job_state is not None:
                self._job_state = job_state
            if status == "paused":
                if self._pausing or self.status == "paused":
                    return  # our own worker is pausing; _enter() will describe where
                self.status = "paused"
                self.pause_reason = "pause"
                self.pause_count += 1
            elif status == "running":
                # A resume's note can arrive after the worker already entered its next pause
                if self.status == "paused" and not self._pausing:
                    self.status = "running"
                    self.paused_at = None
            elif status in ENDED:
                self.status = status
                self.paused_at = None
                self.step_mode = None
                self._delivery = None
            self._cond.notify_all()

    # ---- queries ------------------------------------------------------------------------------
    @property
    def is_paused(self) -> bool:
        """True while the job is paused (at a breakpoint, a step, or by the user)."""
        return self.status == "paused"

    def wait_until_paused(self, timeout: float | None = None) -> bool:
        """Block until the job is paused (``True``), it ended or ``timeout`` passed (``False``)."""
        with self._cond:
            self._cond.wait_for(lambda: self.status == "paused" or self.status in ENDED, timeout)
            return self.status == "paused"

    def wait_until_ended(self, timeout: float | None = None) -> bool:
        """Block until the job reached a terminal status."""
        with self._cond:
            return self._cond.wait_for(lambda: self.status in ENDED, timeout)

    def to_dict(self) -> dict[str, Any]:
        """``{job_id, status, paused_at, pause_reason, breakpoint_id, step_mode, pause_count}``."""
        with self._cond:
            return {
                "job_id": self.job_id, "status": self.status,
                "paused_at": dict(self.paused_at) if self.paused_at else None,
                "pause_reason": self.pause_reason if self.status == "paused" else None,
                "breakpoint_id": self.breakpoint_id, "step_mode": self.step_mode,
                "pause_count": self.pause_count,
            }

    def variables(self) -> dict[str, Any]:
        """``{"local": ..., "shared": ...}``: payload (or frame locals) and the job's shared data."""
        with self._cond:
            if self._locals is not None:
                local = {k: v for k, v in dict(self._locals).items() if not k.startswith("__")}
            elif self._payload is not None:
                local = dict(self._payload)
            else:
                local = {}
            shared = self._shared_locked()
            shared_copy = dict(shared) if shared is not None else {}
        return {"local": summarize_mapping(local), "shared": summarize_mapping(shared_copy)}

    def _shared_locked(self) -> dict[str, Any] | None:
        js = self._job_state
        if js is None and self._activation is not None:
            js = self._activation.job_state
        return None if js is None else js.shared_data

    def set_variable(self, name: str, value: Any, scope: str = "local") -> dict[str, Any]:
        """Change a payload key or frame local (``local``) or a shared-data key (``shared``).

        A payload edit changes what the handler receives; a frame-local edit takes effect when
        the handler continues. Returns ``{"name", "value", "scope"}`` (value summarised).
        """
        if scope not in ("local", "shared"):
            raise ValidationError(f"scope {scope!r} is unknown; use 'local' or 'shared'",
                                  detail={"field": "scope"})
        if not isinstance(name, str) or not name:
            raise ValidationError("variable name must be a non-empty string", detail={"field": "name"})
        with self._cond:
            self._require_paused_locked("set a variable")
            if scope == "shared":
                shared = self._shared_locked()
                if shared is None:
                    raise InvalidStateError(f"job {self.job_id} has no shared data to edit yet")
                shared[name] = value
            elif self._frame is not None:
                self._set_frame_local(name, value)
            elif self._payload is not None:
                act = self._activation
                if act is not None and act.data is self._payload and not (
                    self.paused_at or {}
                ).get("event_name"):
                    # Paused before a handler: the trace keeps the delivered dict (hooks.py),
                    # so the handler gets an edited copy.
                    act.data = self._payload = dict(self._payload)
                self._payload[name] = value
            else:
                raise InvalidStateError(
                    f"job {self.job_id} is paused outside any activation; only scope='shared' "
                    "can be edited now"
                )
        return {"name": name, "value": summarize(value), "scope": scope}

    def _set_frame_local(self, name: str, value: Any) -> None:
        frame = self._frame
        assert frame is not None
        code = frame.f_code
        known = set(code.co_varnames) | set(code.co_cellvars) | set(code.co_freevars)
        if name not in known:
            raise ValidationError(
                f"{code.co_name}() has no local variable {name!r}; its locals are "
                f"{', '.join(sorted(known)) or 'none'}", detail={"field": "name"},
            )
        # 3.13+: f_locals is a write-through proxy. 3.10-3.12: it is the frame's locals dict,
        # which the trace trampoline copies back into the fast locals when the paused trace
        # call returns (as pdb relies on); never re-read frame.f_locals from this thread,
        # which would overwrite the edit with the old fast values.
        self._locals[name] = value

    def call_stack(self) -> dict[str, Any]:
        """``{"frames": [...]}``: Python frames inside the handler (innermost first), then the
        chain of activations that led here (which emit fed which slot)."""
        with self._cond:
            act, in_frame = self._activation, self._frame
            frame = in_frame or self._emit_frame   # at an emit: the frames that emitted
            at = self.paused_at or {}
        frames: list[dict[str, Any]] = []
        if act is None:
            return {"frames": frames}
        if frame is not None:
            from routilux.monitoring.debugger import is_internal_file

            f: FrameType | None = frame
            while f is not None and len(frames) < MAX_PY_FRAMES:
                if is_internal_file(f.f_code.co_filename):
                    break
                frames.append({
                    "kind": "python", "routine_id": act.routine_id, "slot_name": act.slot_name,
                    "event_name": None, "function": f.f_code.co_name,
                    "file": f.f_code.co_filename, "line": f.f_lineno,
                })
                f = f.f_back
        first = True
        a: Activation | None = act
        while a is not None:
            handler = a.handler
            code = _code_of(handler)
            entry = {
                "kind": "activation", "routine_id": a.routine_id, "slot_name": a.slot_name,
                "event_name": a.source_event, "function": _name_of(handler),
                "file": code.co_filename if code else None,
                "line": code.co_firstlineno if code else None,
                "activation_id": a.activation_id,
            }
            if first and in_frame is None and at.get("event_name"):
                entry["emitting"] = at["event_name"]  # paused on this activation's emit
                entry["line"] = at.get("line", entry["line"])
            frames.append(entry)
            first = False
            a = a.parent
        return {"frames": frames}

    # ---- commands -----------------------------------------------------------------------------
    def _require_paused_locked(self, what: str) -> None:
        if self.status != "paused":
            raise InvalidStateError(
                f"cannot {what}: job {self.job_id} is {self.status}, not paused; wait for a "
                "breakpoint (wait_until_paused) or pause the job first",
                detail={"job_id": self.job_id, "status": self.status},
            )

    def _release(self, mode: str | None, what: str) -> dict[str, Any]:
        with self._cond:
            self._require_paused_locked(what)
            if self._pausing:
                self._early_release = True
            self.step_mode = mode
            self._step_frame = self._frame if mode == "line_over" else None
            self.status = "running"
            self.paused_at = None
            js = self._job_state
            if js is None and self._activation is not None:
                js = self._activation.job_state
        runtime = getattr(js, "runtime", None)
        if runtime is not None:
            try:
                runtime.resume()
            except InvalidStateError:
                pass  # it ended meanwhile; nothing to release
        return {"job_id": self.job_id, "status": "running"}

    def step_over(self) -> dict[str, Any]:
        """Run the paused activation (or line, or emit) and pause before the next one.

        At routine level: pause before the job's next activation. Inside a handler: at its next
        line. At an emit (event breakpoint): deliver, then pause at the emitting code's next line
        (or, when the handler ends there, before the job's next activation)."""
        with self._cond:
            if self._frame is not None:
                mode = "line_over"
            elif self._emit_frame is not None:
                mode = "emit_over"
            else:
                mode = "activation"
        return self._release(mode, "step over")

    def step_into(self) -> dict[str, Any]:
        """Enter the handler and pause at its first line (inside a handler: into calls)."""
        with self._cond:
            if self._frame is not None:
                mode = "line_into"
            elif self.paused_at and self.paused_at.get("event_name") and self._payload is not None:
                mode = "enter_delivery"   # paused at an emit: step into the handler it feeds
            elif self._activation is not None:
                act = self._activation
                if act.slot.is_async and not getattr(act.runtime, "runs_remotely", False):
                    raise InvalidStateError(
                        f"cannot step into {act.routine_id}.{act.slot.name}: line stepping is not "
                        "available inside an async def handler (it runs on the shared event "
                        "loop); use step_over to run it and pause before the next activation",
                        detail={"job_id": self.job_id, "routine_id": act.routine_id,
                                "slot_name": act.slot.name, "reason": "async_handler"},
                    )
                mode = "enter"
            else:
                mode = "enter_next"
        return self._release(mode, "step into")

    def step_out(self) -> dict[str, Any]:
        """Leave the handler (stop line stepping) and pause before the job's next activation."""
        return self._release("activation", "step out")

    def resume(self) -> dict[str, Any]:
        """Run until the next breakpoint (also called ``continue``)."""
        return self._release(None, "resume")

    continue_ = resume

    def __repr__(self) -> str:
        return f"DebugSession(job_id={self.job_id!r}, status={self.status!r}, paused_at={self.paused_at!r})"


def _code_of(handler: Any) -> Any:
    """The code object a handler runs first (functions, bound methods, partials, callables)."""
    seen = 0
    while handler is not None and seen < 5:
        seen += 1
        code = getattr(handler, "__code__", None)
        if code is not None:
            return code
        func = getattr(handler, "__func__", None) or getattr(handler, "func", None)
        if func is None:
            call = getattr(type(handler), "__call__", None)
            func = getattr(call, "__func__", call) if call is not None and not isinstance(
                call, type(object.__call__)) else None
        handler = func
    return None


def _name_of(handler: Any) -> str | None:
    if handler is None:
        return None
    return getattr(handler, "__qualname__", None) or type(handler).__qualname__


class DebugSessionStore:
    """Debug sessions by job id (bounded: the oldest ended sessions are dropped)."""

    def __init__(self, max_sessions: int = 1000) -> None:
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, DebugSession] = OrderedDict()
        self._max = max_sessions
        # Called after sessions are added or removed (the monitoring hooks cache whether any
        # exist, so a hop of an undebugged process reads one attribute).
        self._listeners: list[Callable[[], None]] = []

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def get(self, job_id: str) -> DebugSession | None:
        """The session of a job, or ``None``."""
        return self._sessions.get(job_id)

    def get_or_create(self, job_id: str) -> DebugSession:
        """The session of a job, created when missing."""
        session = self._sessions.get(job_id)
        if session is not None:
            return session
        with self._lock:
            session = self._sessions.get(job_id)
            if session is None:
                session = self._sessions[job_id] = DebugSession(job_id)
                if len(self._sessions) > self._max:
                    for jid in [j for j, s in self._sessions.items() if s.status in ENDED]:
                        del self._sessions[jid]
                        if len(self._sessions) <= self._max:
                            break
            self._changed()
            return session

    def remove(self, job_id: str) -> DebugSession | None:
        """Forget a job's session; returns it (or ``None``)."""
        with self._lock:
            session = self._sessions.pop(job_id, None)
            self._changed()
            return session

    def list_all(self) -> list[DebugSession]:
        """Every session, oldest first."""
        return list(self._sessions.values())

    def clear(self) -> None:
        """Forget every session."""
        with self._lock:
            self._sessions.clear()
            self._changed()

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._sessions

