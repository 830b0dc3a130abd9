"""Worker-side debugging: pausing a job's worker thread and line-stepping inside a handler.

Everything here runs on the job's worker thread, called from the monitoring hooks. A pause is
``runtime.pause()`` + ``runtime.wait_while_paused()``: the worker blocks on the job's condition
variable (no busy wait) until a step command, a resume or a cancel releases it.

Line stepping uses ``sys.settrace`` on the worker thread only, and only from a ``step_into`` until
the handler returns or the user continues/steps out; frames from routilux's own modules are never
traced, so stepping shows only user code. When the handler's frame is paused inside the trace
function, its locals dict is the one CPython copies back into the frame when the trace call
returns (3.10-3.12; on 3.13+ ``f_locals`` writes through), which is how ``set_variable`` edits a
local.
"""

from __future__ import annotations

import os
import sys
import threading
from functools import partial
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable

import routilux
from routilux.activation import reserve_activation_id
from routilux.errors import InvalidStateError
from routilux.monitoring.debug_session import LINE_MODES, DebugSession, _code_of

if TYPE_CHECKING:
    from routilux.monitoring.breakpoint_manager import Breakpoint
    from routilux.runtime import Activation

__all__ = ["StepTracer", "is_internal_file", "pause_worker"]

_PKG = os.path.dirname(os.path.abspath(routilux.__file__))
# Engine, monitoring and service code is never stepped into; user routines elsewhere are, and
# so are the routines routilux ships (they run as user routines of a flow).
_INTERNAL_DIRS = frozenset({_PKG, os.path.join(_PKG, "monitoring"), os.path.join(_PKG, "service")})
_USER_FILES = frozenset({os.path.join(_PKG, "builtin_routines.py")})
_internal_cache: dict[str, bool] = {}
# How long a released worker waits for its job_resumed to be traced (normally microseconds:
# the resuming thread reports it right after waking the worker).
RESUME_TRACE_WAIT = 0.5


def is_internal_file(filename: str) -> bool:
    """True for routilux's own engine/monitoring/service files (and frozen importlib), not for
    its built-in routines."""
    hit = _internal_cache.get(filename)
    if hit is None:
        path = os.path.abspath(filename)
        hit = filename.startswith("<frozen") or (
            os.path.dirname(path) in _INTERNAL_DIRS and path not in _USER_FILES)
        _internal_cache[filename] = hit
    return hit


def pause_worker(
    session: DebugSession, runtime: Any, activation: Activation | None, job_state: Any,
    location: dict[str, Any], reason: str, breakpoint_id: str | None = None,
    frame: FrameType | None = None, payload: dict[str, Any] | None = None,
    hit: Callable[[], None] | None = None, emit_frame: FrameType | None = None,
) -> bool:
    """Pause the job on this worker until released; ``False`` when the job ended meanwhile.

    Order matters to clients that act the moment they hear of a pause: the session is paused
    first, then the job (``runtime.pause``), and only the job's status hook publishes
    ``breakpoint_hit`` (``hit``) and ``job_paused``. A command that arrives before the job is
    paused is remembered, and the worker resumes the job itself.
    """
    with session._pause_lock:  # a second worker hitting a breakpoint waits its turn
        if runtime is None or runtime.is_cancelled or runtime.is_terminal:
            if hit is not None:
                hit()
            return False
        session._enter(activation, job_state, location, reason, breakpoint_id, frame, payload, hit,
                       emit_frame)
        resumes = session._resumes_recorded
        try:
            try:
                runtime.pause(reason)
            except InvalidStateError:  # ended between the check and the pause
                hit = session._take_pending_hit()
                if hit is not None:
                    hit()
                return False
            hit = session._take_pending_hit()
            if hit is not None:   # the job was paused already (no status hook ran): publish
                hit()
            if session._job_paused():
                try:
                    runtime.resume()
                except InvalidStateError:
                    pass
            ok = runtime.wait_while_paused()
            if ok:
                session._wait_resume_recorded(resumes, RESUME_TRACE_WAIT)
            return ok
        finally:
            session._leave()


def _is_delivery(target: tuple[Any, str, int] | None, act: Activation) -> bool:
    """Whether ``act`` was created by the emit that ``target`` describes (see event_emitted)."""
    return (target is not None and act.parent is target[0] and act.source_event == target[1]
            and act.activation_id > target[2])


def _user_frame() -> FrameType | None:
    """The innermost non-routilux frame on this thread (the user code that called in)."""
    f: FrameType | None = sys._getframe(1)
    while f is not None and is_internal_file(f.f_code.co_filename):
        f = f.f_back
    return f


class StepTracer:
    """Line-level stepping inside one activation's handler, on the worker thread."""

    def __init__(self, session: DebugSession, activation: Activation) -> None:
        self.session = session
        self.activation = activation
        self.target = _code_of(activation.handler)
        self.thread = threading.get_ident()
        self.handler_frame: FrameType | None = None
        self.frames: list[FrameType] = []
        self.active = False
        self._previous: Callable[..., Any] | None = None

    def attach(self, frame: FrameType) -> None:
        """Trace frames that are already running: ``frame`` and its callers out to the handler's
        (the worker paused at an emit inside them), then tracing this thread if not yet."""
        f: FrameType | None = frame
        outermost = frame
        while f is not None and not is_internal_file(f.f_code.co_filename):
            f.f_trace = self._local
            if not any(f is g for g in self.frames):
                self.frames.append(f)
            outermost = f
            if f.f_code is self.target:
                break
            f = f.f_back
        if self.handler_frame is None:
            self.handler_frame = outermost
        if not self.active:
            self.install()

    def install(self) -> None:
        """Start tracing this thread (only the worker itself may call this)."""
        old = self.session._tracer
        if old is not None and old is not self:
            old.finish()
        self.session._tracer = self
        self.active = True
        self._previous = sys.gettrace()
        sys.settrace(self._global)

    def finish(self) -> None:
        """Stop tracing; line-step modes fall back to "pause at the next activation"."""
        if not self.active:
            return
        self.active = False
        sys.settrace(self._previous)
        for f in self.frames:
            f.f_trace = None
        self.frames.clear()
        self.handler_frame = None
        s = self.session
        if s._tracer is self:
            s._tracer = None
        if s.step_mode in LINE_MODES:
            s.step_mode = "activation"
        s._step_frame = None

    # The global trace function sees every new frame on this thread while installed.
    def _global(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event != "call" or not self.active:
            return None
        code = frame.f_code
        if is_internal_file(code.co_filename):
            return None
        if self.handler_frame is None:
            if self.target is not None and code is not self.target:
                return None
            self.handler_frame = frame
        elif self.session.step_mode != "line_into":
            return None
        self.frames.append(frame)
        return self._local

    def _local(self, frame: FrameType, event: str, arg: Any) -> Any:
        if not self.active:
            return None
        s = self.session
        mode = s.step_mode
        if event == "line":
            if mode == "enter" or mode == "line_into" or (mode == "line_over" and frame is s._step_frame):
                return self._pause(frame)
        elif event == "return":
            if frame is self.handler_frame:
                self.finish()
                return None
            if mode == "line_over" and frame is s._step_frame:
                s._step_frame = frame.f_back  # stepped past the end of a callee: stop in its caller
        return self._local

    def _pause(self, frame: FrameType) -> Any:
        s, act = self.session, self.activation
        s.step_mode = None
        code = frame.f_code
        location = {
            "routine_id": act.routine_id, "slot_name": act.slot_name, "event_name": None,
            "line": frame.f_lineno, "function": code.co_name, "file": code.co_filename,
        }
        ok = pause_worker(s, act.runtime, act, act.job_state, location, "step", None, frame, None)
        if not ok:
            self.finish()
            raise InvalidStateError(
                f"job {s.job_id} was cancelled while paused in the debugger; its handler stops here"
            )
        if s.step_mode not in LINE_MODES:   # continue / step_out: stop tracing this handler
            self.finish()
            return None
        if s.step_mode == "line_over":
            s._step_frame = frame
        return self._local


class WorkerDebugger:
    """The debugging half of the monitoring hooks (called only when sessions/breakpoints exist)."""

    def __init__(self, breakpoints: Any, sessions: Any, record_hit: Callable[..., None]) -> None:
        self.breakpoints = breakpoints
        self.sessions = sessions
        self.record_hit = record_hit

    def before_activation(self, act: Activation) -> None:
        """Pause before ``act`` when stepping or a breakpoint fires; start line tracing for step_into."""
        runtime = act.runtime
        job_state = runtime.job_state
        job_id = job_state.job_id
        session = self.sessions._sessions.get(job_id)
        reason: str | None = None
        bp: Breakpoint | None = None
        if session is not None:
            mode = session.step_mode
            if mode == "activation":
                reason = "step"
            elif mode == "enter_next":
                session.step_mode = "enter"
            elif mode == "enter_delivery" and _is_delivery(session._delivery, act):
                session.step_mode = "enter"
                session._delivery = None
            elif mode == "break_delivery" and _is_delivery(session._delivery, act):
                # An event breakpoint fired inside a coroutine (which must not block the event
                # loop): pause here, before the handler its emit feeds.
                reason = "breakpoint"
                bp = session._delivery_breakpoint
                session._delivery = session._delivery_breakpoint = None
                session.step_mode = None
        if bp is None and not self.breakpoints.empty:
            bp = self.breakpoints.match_activation(
                job_id, job_state.flow_id, act.routine_id, act.slot.name, act.data,
                job_state.shared_data,
            )
            if bp is not None:
                reason = "breakpoint"
        if reason is not None:
            session = self.sessions.get_or_create(job_id)
            session.step_mode = None      # a breakpoint ends any step in progress
            session._delivery = None
            location = {"routine_id": act.routine_id, "slot_name": act.slot.name,
                        "event_name": None, "line": None}
            hit = None
            if bp is not None:
                hit = partial(self.record_hit, job_state, act, bp, dict(location))
            ok = pause_worker(session, runtime, act, job_state, location, reason,
                              bp.breakpoint_id if bp else None, None, act.data, hit)
            if not ok:
                return
        if session is not None and session.step_mode == "enter":
            if getattr(runtime, "runs_remotely", False):
                act.run_local = True   # line stepping needs the handler on this thread
            elif act.slot.is_async:
                # A coroutine runs on the event loop thread, where tracing would stop every
                # job's coroutines: step over it instead (DebugSession.step_into says so).
                session.step_mode = "activation"
                return
            StepTracer(session, act).install()

    def routine_ended(self, act: Activation) -> None:
        """Stop line tracing when the handler that was being stepped returns."""
        session = self.sessions._sessions.get(act.runtime.job_state.job_id)
        if session is None:
            return
        tracer = session._tracer
        if tracer is not None and tracer.thread == threading.get_ident():
            tracer.finish()
        elif session.step_mode == "enter":   # no Python handler to enter: behave like step_over
            session.step_mode = "activation"

    def event_emitted(
        self, activation: Activation | None, job_state: Any, routine_id: str, event_name: str,
        data: dict[str, Any],
    ) -> None:
        """Pause before delivery when an event breakpoint fires."""
        bp = self.breakpoints.match_emit(
            job_state.job_id, job_state.flow_id, routine_id, event_name, data, job_state.shared_data
        )
        if bp is None:
            return
        session = self.sessions.get_or_create(job_state.job_id)
        if activation is not None and activation.slot.is_async \
                and not getattr(activation.runtime, "runs_remotely", False):
            self._break_at_delivery(session, activation, event_name, bp)
            return
        frame = _user_frame()
        code = frame.f_code if frame is not None else None
        location = {"routine_id": routine_id,
                    "slot_name": activation.slot.name if activation is not None else None,
                    "event_name": event_name,
                    "line": frame.f_lineno if frame is not None else None,
                    "function": code.co_name if code is not None else None,
                    "file": code.co_filename if code is not None else None}
        runtime = activation.runtime if activation is not None else job_state.runtime
        tracer = session._tracer
        session.step_mode = None
        session._delivery = None
        pause_worker(session, runtime, activation, job_state, location, "breakpoint",
                     bp.breakpoint_id, None, data,
                     partial(self.record_hit, job_state, activation, bp, dict(location)),
                     emit_frame=frame if activation is not None else None)
        if session.step_mode == "emit_over":
            # Trace the emitting frames (already running) so the worker pauses at their next
            # line once the delivery is queued.
            if activation is not None and frame is not None:
                if tracer is None or tracer.thread != threading.get_ident() or not tracer.active:
                    tracer = StepTracer(session, activation)
                tracer.attach(frame)
                session._step_frame = frame
                session.step_mode = "line_over"
            else:
                session.step_mode = "activation"
        if session.step_mode == "enter_delivery":
            # The engine creates the delivery's activations after this returns: any activation
            # of this emitter and event with a larger id than this floor is one of them (older
            # deliveries of the same emitter may still be queued ahead of it).
            flow = getattr(runtime, "flow", None)
            if flow is not None and any(c.source_routine == routine_id
                                        and c.source_event == event_name
                                        for c in flow.connections):
                session._delivery = (activation, event_name, reserve_activation_id())
            else:   # nothing receives it: like step_over, pause before the next activation
                session.step_mode = "activation"
        if tracer is not None and tracer.thread == threading.get_ident() and tracer.active:
            if session.step_mode not in LINE_MODES:
                tracer.finish()

    def _break_at_delivery(self, session: DebugSession, activation: Activation, event_name: str,
                           bp: Breakpoint) -> None:
        """An event breakpoint inside a coroutine: the emitting code runs on the shared event
        loop and cannot block there, so the job pauses before the activation its emit feeds
        (routine level). Nothing pauses when no slot receives the event."""
        flow = activation.runtime.flow
        if not any(c.source_routine == activation.routine_id and c.source_event == event_name
                   for c in flow.connections):
            return
        session.step_mode = "break_delivery"
        session._delivery = (activation, event_name, reserve_activation_id())
        session._delivery_breakpoint = bp
