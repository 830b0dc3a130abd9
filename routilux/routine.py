"""Routine: the user's unit of work, with slots (inputs), events (outputs) and config.

One routine instance serves every job of its flow, possibly at the same time, so a routine holds
only job-independent things (slots, events, config, error handler). Job-specific values are reached
through the execution context: ``self.job_state``, ``self.job_id``, ``self.flow`` (valid while one of
its handlers runs, on that thread).
"""

from __future__ import annotations

import logging
from itertools import count
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from routilux.error_handler import ErrorHandler, ErrorStrategy
from routilux.errors import ValidationError
from routilux.event import Event
from routilux.registry import routine_class_name
from routilux.activation import _ctx, _cvar
from routilux.slot import Slot

if TYPE_CHECKING:
    from routilux.flow import Flow
    from routilux.job_state import JobState

__all__ = ["ExecutionContext", "Routine"]

logger = logging.getLogger(__name__)


class ExecutionContext(NamedTuple):
    """What a running handler can reach: its flow, its job and its routine id."""

    flow: Flow
    job_state: JobState
    routine_id: str


def _counter_value(c: count) -> int:
    # itertools.count is the cheapest thread-safe counter; its repr holds the next value.
    return int(repr(c)[6:-1])


class Routine:
    """Base class of routines. Define slots and events in ``__init__`` (call ``super().__init__()``).

    >>> class Double(Routine):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.define_slot("trigger", self.run)
    ...         self.define_event("out", ["value"])
    ...     def run(self, value):
    ...         self.emit("out", value=value * 2)
    """

    def __init__(self) -> None:
        self._slots: dict[str, Slot] = {}
        self._events: dict[str, Event] = {}
        self._config: dict[str, Any] = {}
        self._error_handler: ErrorHandler | None = None
        self._runs = count()
        self._errors = count()

    # ----------------------------------------------------------------- definition
    def define_slot(self, name: str, handler: Callable[..., Any] | None = None,
                    merge_strategy: Any = "override") -> Slot:
        """Define an input ``name`` whose deliveries call ``handler`` (merged per job)."""
        if not isinstance(name, str) or not name:
            raise ValidationError("Slot name must be a non-empty string")
        if name in self._slots:
            raise ValidationError(
                f"{type(self).__name__} already has a slot {name!r}; give each slot its own name"
            )
        slot = Slot(name, self, handler, merge_strategy)
        self._slots[name] = slot
        return slot

    def define_event(self, name: str, output_params: list[str] | None = None) -> Event:
        """Define an output ``name``; ``output_params`` documents its payload keys."""
        if not isinstance(name, str) or not name:
            raise ValidationError("Event name must be a non-empty string")
        if name in self._events:
            raise ValidationError(
                f"{type(self).__name__} already has an event {name!r}; give each event its own name"
            )
        event = Event(name, self, output_params)
        self._events[name] = event
        return event

    def get_slot(self, name: str) -> Slot | None:
        """The slot called ``name``, or ``None``."""
        return self._slots.get(name)

    def get_event(self, name: str) -> Event | None:
        """The event called ``name``, or ``None``."""
        return self._events.get(name)

    @property
    def slots(self) -> dict[str, Slot]:
        """Slots by name (a copy)."""
        return dict(self._slots)

    @property
    def events(self) -> dict[str, Event]:
        """Events by name (a copy)."""
        return dict(self._events)

    # ----------------------------------------------------------------- emitting
    def emit(self, event_name: str, /, **data: Any) -> None:
        """Send ``data`` to every slot connected to ``event_name`` in the current job.

        Outside a running job (e.g. calling a handler directly in a test) the event name is
        still checked, and nothing is delivered.
        """
        act = _ctx.act
        if act is None:
            act = _cvar.get()   # an async def handler (context-local, see activation.py)
        if act is not None and act.routine is self:
            act.runtime.emit(act, act.routine_id, event_name, data)
            return
        self._emit_elsewhere(act, event_name, data)

    def _emit_elsewhere(self, act: Any, event_name: str, data: dict[str, Any]) -> None:
        if event_name not in self._events:
            raise self._unknown_event(event_name)
        if act is None:
            logger.debug("%s.emit(%r) outside a job: nothing to deliver",
                         type(self).__name__, event_name)
            return
        # A handler emitting on behalf of another routine of the same flow.
        rid = act.runtime.flow._routine_id_of(self)
        if rid is None:
            raise ValidationError(
                f"{type(self).__name__} is not part of flow {act.runtime.flow.flow_id!r}; add it "
                "with flow.add_routine() before emitting from it"
            )
        act.runtime.emit(act, rid, event_name, data)

    def _unknown_event(self, event_name: str) -> ValidationError:
        known = sorted(self._events)
        return ValidationError(
            f"{type(self).__name__} has no event {event_name!r}; define it in __init__ with "
            f"self.define_event({event_name!r}). Defined events: {known}",
            detail={"event": event_name, "events": known},
        )

    # ----------------------------------------------------------------- config and errors
    def set_config(self, **kwargs: Any) -> None:
        """Update configuration values (shared by every job of the flow)."""
        self._config.update(kwargs)

    def get_config(self, key: str, default: Any = None) -> Any:
        """One configuration value."""
        return self._config.get(key, default)

    def config(self) -> dict[str, Any]:
        """A copy of the whole configuration."""
        return dict(self._config)

    def set_error_handler(self, error_handler: ErrorHandler | None) -> None:
        """Set this routine's error handler (it wins over the flow's)."""
        if error_handler is not None and not isinstance(error_handler, ErrorHandler):
            raise ValidationError("set_error_handler() takes an ErrorHandler or None")
        self._error_handler = error_handler

    def get_error_handler(self) -> ErrorHandler | None:
        """This routine's own error handler, if any."""
        return self._error_handler

    def set_as_optional(self, strategy: ErrorStrategy | str = ErrorStrategy.CONTINUE) -> None:
        """Tolerate this routine's failures (CONTINUE by default, or SKIP)."""
        self.set_error_handler(ErrorHandler(strategy=strategy))

    def set_as_critical(self, max_retries: int = 3, retry_delay: float = 1.0,
                        retry_backoff: float = 2.0) -> None:
        """Retry this routine's failures, then fail the job."""
        self.set_error_handler(ErrorHandler(ErrorStrategy.RETRY, max_retries, retry_delay,
                                            retry_backoff, is_critical=True))

    def stats(self) -> dict[str, Any]:
        """Counters across all jobs: finished activations and failed activations."""
        return {"execution_count": _counter_value(self._runs) + _counter_value(self._errors),
                "error_count": _counter_value(self._errors),
                "slots": sorted(self._slots), "events": sorted(self._events)}

    # ----------------------------------------------------------------- execution context
    @property
    def job_state(self) -> JobState | None:
        """The job whose handler runs here (``None`` outside handlers)."""
        act = _ctx.act or _cvar.get()
        return act.runtime.job_state if act is not None else None

    @property
    def job_id(self) -> str | None:
        """Id of the current job (``None`` outside handlers)."""
        act = _ctx.act or _cvar.get()
        return act.runtime.job_state.job_id if act is not None else None

    @property
    def flow(self) -> Flow | None:
        """Flow of the current job (``None`` outside handlers)."""
        act = _ctx.act or _cvar.get()
        return act.runtime.flow if act is not None else None

    @property
    def routine_id(self) -> str | None:
        """This routine's id in the current job's flow (``None`` outside handlers)."""
        act = _ctx.act or _cvar.get()
        if act is None:
            return None
        return act.routine_id if act.routine is self else act.runtime.flow._routine_id_of(self)

    def get_execution_context(self) -> ExecutionContext | None:
        """``(flow, job_state, routine_id)`` while a handler runs, else ``None``."""
        act = _ctx.act or _cvar.get()
        if act is None:
            return None
        return ExecutionContext(act.runtime.flow, act.runtime.job_state, self.routine_id or "")

    # ----------------------------------------------------------------- description
    def describe(self, routine_id: str | None = None) -> dict[str, Any]:
        """JSON-ready description (the routine entry of the flow shape).

        ``class_name`` is the name the class is registered under, so a DSL spec can use it.
        """
        return {"routine_id": routine_id, "class_name": routine_class_name(type(self)),
                "slots": list(self._slots), "events": list(self._events),
                "config": dict(self._config)}

    # ----------------------------------------------------------------- shipping
    def __getstate__(self) -> dict[str, Any]:
        # Remote executors ship routines by value; the cross-job counters stay in this process.
        state = self.__dict__.copy()
        state.pop("_runs", None)
        state.pop("_errors", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._runs = count()
        self._errors = count()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(slots={list(self._slots)}, events={list(self._events)})"
