"""The seam through which monitoring observes and steers the engine.

The engine knows nothing about monitoring. At each hook point it does one attribute read,
``_seam.active``; when that is ``None`` (monitoring off) nothing else happens. When an
:class:`ExecutionHooks` object is installed, the engine calls its keyword-only methods.

Threads: every method runs on the thread where the thing happens. ``before_activation``,
``on_routine_start``, ``on_routine_end`` and ``on_event_emit`` run on the job's worker thread, so a
debugger may block there (and only there) with ``activation.runtime.pause()`` followed by
``activation.runtime.wait_while_paused()``; it may also install a line tracer with ``sys.settrace``
for the duration of the handler (removed again in ``on_routine_end``). Hooks must otherwise return
quickly: the engine thread never waits on an observer.

Payload dicts: every payload the engine passes to ``on_event_emit`` (``data``) and
``on_slot_call`` (``data``) is a dict the engine owns (``emit(**kw)`` and ``execute()`` build fresh
ones), and while hooks are installed the engine never changes one after showing it: a handler
that would receive the dict itself (a ``data``-style or single-parameter handler) and a callable
merge strategy get a shallow copy instead (which then becomes ``activation.data``). So an observer
may keep these dicts as the record of what was delivered without copying them. An observer that
edits a payload before its handler runs (a debugger) replaces ``activation.data`` with an edited
copy; one that pauses in ``on_event_emit`` may edit ``data`` in place (that changes what is
delivered).

The engine-side objects hooks receive:

``Activation`` (engine, ``routilux.runtime.Activation``): one run of one routine's slot handler.
    ``activation_id: int``, ``job_state: JobState``, ``runtime: JobRuntime``, ``flow: Flow``,
    ``routine_id: str``, ``routine: Routine``, ``slot_name: str``, ``data: dict`` (the merged payload
    the handler will receive; mutable until the handler starts, so a debugger can edit it),
    ``handler`` (the callable, or ``None`` for a slot without handler), ``parent: Activation | None``
    (the activation whose emit fed this slot; the chain is kept at most ~128 deep),
    ``source_event: str | None`` (the event name on the parent that fed it), ``depth: int``,
    ``t0: float`` (``time.perf_counter()`` taken just before ``on_routine_start``; set only while
    hooks are installed, so observers need not read the clock again: the ``duration`` given to
    ``on_routine_end`` is measured from it and covers ``on_routine_start`` plus the handler).

``JobRuntime`` (engine, ``routilux.runtime.JobRuntime``): the per-job runtime.
    ``job_state``, ``flow``, ``is_paused``, ``is_cancelled``, ``pause(reason=None)``, ``resume()``,
    ``cancel()``, ``wait_while_paused(timeout=None) -> bool`` (worker thread only; blocks on the
    job's condition variable while paused; returns ``False`` when the job was cancelled meanwhile),
    ``pending_tasks() -> list[dict]`` (a snapshot of queued activations), ``max_workers`` (1 for a
    sequential job). A job's runtime is ``job_state.runtime`` (``None`` once the job is terminal
    and for a loaded, not yet resumed state).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from routilux.flow import Flow
    from routilux.job_state import JobState
    from routilux.runtime import Activation

__all__ = ["ExecutionHooks", "active_hooks", "install_hooks"]


class ExecutionHooks:
    """Base class for engine observers; every method is a no-op. Override what you need."""

    #: Whether the engine calls :meth:`before_activation` (parking the activation meanwhile, so a
    #: snapshot of a job paused there lists it as pending). Read once per activation: an observer
    #: that steers only at times (a debugger with no breakpoint set) may keep it ``False`` until
    #: it has something to steer.
    gates_activations: bool = True

    def on_job_start(self, *, job_state: JobState, flow: Flow) -> None:
        """A job was created and is about to run its entry activation (status ``running``)."""

    def on_job_end(self, *, job_state: JobState, flow: Flow) -> None:
        """A job reached a terminal status (``completed``, ``failed``, ``cancelled``).

        ``job_state.status`` and ``job_state.error`` are already set.
        """

    def on_job_status(self, *, job_state: JobState, flow: Flow, status: str) -> None:
        """A non-terminal status change: ``paused`` or ``running`` (after a resume)."""

    def on_slot_call(
        self, *, job_state: JobState, routine_id: str, slot_name: str, data: dict[str, Any],
        source: Activation | None,
    ) -> None:
        """Data was delivered to a slot (queued for activation); ``source`` is the emitter."""

    def before_activation(self, *, activation: Activation) -> None:
        """About to run a slot handler, on the job's worker thread. May block (debugger).
        Called only while :attr:`gates_activations` is true.

        After it returns the engine re-checks ``runtime.is_cancelled`` and drops the activation if
        so; otherwise it calls the handler with ``activation.data``.
        """

    def on_routine_start(self, *, activation: Activation) -> None:
        """The handler is starting (right after ``before_activation``)."""

    def on_routine_end(
        self, *, activation: Activation, duration: float, error: BaseException | None
    ) -> None:
        """The handler returned (``error is None``) or raised; ``duration`` in seconds."""

    def on_event_emit(
        self, *, activation: Activation | None, job_state: JobState, routine_id: str,
        event_name: str, data: dict[str, Any],
    ) -> None:
        """A routine emitted an event, before delivery to connected slots. May block (debugger)."""


class _Seam:
    """Holder of the one installed hooks object; the engine reads ``active`` at each point."""

    __slots__ = ("active",)

    def __init__(self) -> None:
        self.active: ExecutionHooks | None = None


_seam = _Seam()


def active_hooks() -> ExecutionHooks | None:
    """The installed hooks object, or ``None`` when nothing observes the engine."""
    return _seam.active


def install_hooks(hooks: ExecutionHooks | None) -> Callable[[], None]:
    """Install ``hooks`` (replacing any), returning an undo function that restores the previous."""
    previous = _seam.active
    _seam.active = hooks

    def undo() -> None:
        _seam.active = previous

    return undo
