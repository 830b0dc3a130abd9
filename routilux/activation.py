"""Activation: one run of one routine's slot handler, and its execution context.

The context is thread-local for handlers run on worker threads (the hot path: one attribute read)
and context-local (a ``ContextVar``) for ``async def`` handlers, which share one event-loop thread:
each coroutine's task carries its own activation, and tasks it spawns inherit it.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from itertools import count
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routilux.flow import Flow
    from routilux.job_state import JobState
    from routilux.routine import Routine
    from routilux.runtime import JobRuntime
    from routilux.slot import Slot

__all__ = ["Activation", "current_activation", "reserve_activation_id"]

_ids = count(1)


class _Context(threading.local):
    act: Activation | None = None


_ctx = _Context()
# Set only inside coroutine activations (the loop thread's ``_ctx.act`` stays ``None``).
_cvar: ContextVar[Activation | None] = ContextVar("routilux_activation", default=None)


def current_activation() -> Activation | None:
    """The activation whose handler runs here (this thread, or this asyncio task), else ``None``."""
    act = _ctx.act
    return act if act is not None else _cvar.get()


def reserve_activation_id() -> int:
    """Take one activation id: every activation created after this call has a larger one.

    Ids come from one process-wide counter, so an observer can tell the activations an emit is
    about to create from older ones of the same parent (the debugger's step into a delivery).
    """
    return next(_ids)


class Activation:
    """One run of one routine's slot handler (the unit of work in a job's queue).

    Besides the attributes documented in :mod:`routilux.hooks`, observers may read ``t0``: the
    ``time.perf_counter()`` at which the engine started the activation, set right before
    ``on_routine_start`` (the ``duration`` given to ``on_routine_end`` is measured from it), so an
    observer can time-stamp start and end without reading the clock again.
    """

    __slots__ = (
        "activation_id", "runtime", "routine_id", "routine", "slot", "data", "parent",
        "source_event", "depth", "attempt", "held", "premerged", "t0", "run_local",
    )

    def __init__(
        self, runtime: JobRuntime, routine_id: str, routine: Routine, slot: Slot,
        data: dict[str, Any], parent: Activation | None, source_event: str | None, depth: int,
    ) -> None:
        self.activation_id = next(_ids)
        self.runtime = runtime
        self.routine_id = routine_id
        self.routine = routine
        self.slot = slot
        self.data = data
        self.parent = parent
        self.source_event = source_event
        self.depth = depth
        self.attempt = 0
        self.held: list[Activation] | None = None
        self.premerged = False
        # ``t0`` is left unset here (the unobserved hot path never times): with hooks installed
        # the engine sets it to perf_counter() right before on_routine_start. ``run_local`` is
        # unset too: a debugger sets it to run one activation of a remote job in this process.

    @property
    def job_state(self) -> JobState:
        """The job this activation belongs to."""
        return self.runtime.job_state

    @property
    def flow(self) -> Flow:
        """The flow of the job."""
        return self.runtime.flow

    @property
    def slot_name(self) -> str:
        """Name of the slot being activated."""
        return self.slot.name

    @property
    def handler(self) -> Any:
        """The slot's handler callable (``None`` for a slot without handler)."""
        return self.slot.handler

    def to_dict(self) -> dict[str, Any]:
        """A task record: what :meth:`JobState.save` stores for a pending activation."""
        return {"routine_id": self.routine_id, "slot_name": self.slot.name, "data": self.data,
                "attempt": self.attempt, "premerged": self.premerged}

    def __repr__(self) -> str:
        return (f"Activation(#{self.activation_id} {self.routine_id}.{self.slot.name}, "
                f"depth={self.depth})")


def _trim(act: Activation) -> None:
    # Called every 64 hops: cut the parent link 64 ancestors up, so a chain keeps < 128 links.
    a = act
    for _ in range(64):
        p = a.parent
        if p is None:
            return
        a = p
    a.parent = None
