"""The executor seam: what the job runtime asks of a backend that runs handlers elsewhere.

The runtime keeps everything that makes a job a job (queue, ordering, counting, hooks, pause,
cancel, error strategies). An executor only runs one activation's handler and reports what it
produced: the events it emitted (in order), its writes to the job's shared data, its exception
with the traceback, and how long it ran. The runtime then applies that in this process, so
monitoring, history, the API and the widgets see a remote run exactly as a local one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from routilux.activation import Activation
    from routilux.runtime import JobRuntime

__all__ = ["ActivationResult", "Executor", "ThreadExecutor", "resolve_executor"]


@dataclass
class ActivationResult:
    """What one remotely run activation produced (applied by the runtime, in order)."""

    #: ``(routine_id or None for the activation's own routine, event_name, data)`` per emit.
    emits: list[tuple[str | None, str, dict[str, Any]]] = field(default_factory=list)
    #: shared-data keys the handler set or changed, with their new values.
    shared_set: dict[str, Any] = field(default_factory=dict)
    #: shared-data keys the handler deleted.
    shared_deleted: list[str] = field(default_factory=list)
    error: BaseException | None = None
    #: the remote traceback text when ``error`` is set.
    traceback: str | None = None
    #: seconds the handler ran (where it ran).
    duration: float = 0.0
    #: where it ran (a worker address), for traces and error messages.
    worker: str | None = None


class Executor:
    """Base of execution backends. ``remote`` executors implement :meth:`submit`."""

    #: Short name shown in the job's JSON (``executor``) and in views.
    name: str = "thread"
    #: Whether handlers run outside this process (the runtime then ships each activation).
    remote: bool = False

    def describe(self) -> dict[str, Any]:
        """JSON-ready facts for views: at least ``name``."""
        return {"name": self.name}

    def submit(self, runtime: JobRuntime, activation: Activation, shared: dict[str, Any],
               done: Callable[[ActivationResult], None]) -> Any:
        """Start running ``activation`` elsewhere; call ``done(result)`` once, from any thread.

        Returns a handle that :meth:`cancel` accepts.
        """
        raise NotImplementedError(f"{type(self).__name__} runs handlers in this process")

    def cancel(self, handles: list[Any]) -> None:
        """Cancel started activations (their ``done`` still arrives, with an error)."""

    def close(self) -> None:
        """Release what the executor holds (connections, clusters it started)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ThreadExecutor(Executor):
    """Today's path and the default: handlers run on the job's worker threads in this process;
    ``async def`` handlers run on one shared event-loop thread."""

    name = "thread"


_DEFAULT = ThreadExecutor()


def resolve_executor(executor: Any) -> Executor:
    """``None``/``"thread"`` -> the default :class:`ThreadExecutor`; ``"dask"`` or a scheduler
    address (``"tcp://host:8786"``) -> a DaskExecutor; anything else -> ValidationError."""
    if executor is None:
        return _DEFAULT
    if isinstance(executor, Executor):
        return executor
    from routilux.errors import ValidationError

    if isinstance(executor, str):
        if executor == "thread":
            return _DEFAULT
        if executor == "dask" or "://" in executor:
            from routilux.executors.dask import DaskExecutor

            return DaskExecutor(None if executor == "dask" else executor)
        raise ValidationError(
            f"Unknown executor {executor!r}: use 'thread', 'dask' (the default Dask client or a "
            "new LocalCluster), a Dask scheduler address like 'tcp://host:8786', or an Executor",
            detail={"field": "executor", "value": executor},
        )
    raise ValidationError(
        f"executor must be an Executor (ThreadExecutor(), DaskExecutor(...)), 'thread' or a Dask "
        f"scheduler address, got {type(executor).__name__}",
        detail={"field": "executor"},
    )
