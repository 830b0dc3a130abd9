"""Flow: routines wired by connections, and the jobs that run them.

A flow is a definition plus the set of its live jobs. ``start()`` creates a job (its own
:class:`~routilux.runtime.JobRuntime` and :class:`~routilux.job_state.JobState`) and returns at
once; ``execute()`` also waits. Control (pause / resume / cancel) is per job.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Callable

from routilux.connection import Connection
from routilux.error_handler import ErrorHandler
from routilux.executors.base import Executor, resolve_executor
from routilux.errors import InvalidStateError, NotFoundError, ValidationError
from routilux.job_state import JobState
from routilux.routine import Routine
from routilux.runtime import Activation, JobRuntime
from routilux.slot import ASYNC

__all__ = ["Flow", "add_flow_listener"]

logger = logging.getLogger(__name__)

STRATEGIES = ("sequential", "concurrent")
_flow_listeners: list[Callable[[Flow], Any]] = []


def add_flow_listener(fn: Callable[[Flow], Any]) -> Callable[[], None]:
    """Call ``fn(flow)`` for every Flow created from now on; returns an undo function.

    The Jupyter kernel half uses this to register every flow built in a notebook, without the
    engine importing it.
    """
    _flow_listeners.append(fn)

    def undo() -> None:
        try:
            _flow_listeners.remove(fn)
        except ValueError:
            pass

    return undo


class _HybridDeserialize:
    # ``Flow.deserialize(data)`` builds a new flow; ``flow.deserialize(data)`` fills this one
    # (the routilux 0.10 spelling).
    def __get__(self, obj: Flow | None, cls: type[Flow]) -> Callable[[dict[str, Any]], Flow]:
        from routilux.dsl import build_flow

        if obj is None:
            return lambda data: build_flow(data)
        return lambda data: build_flow(data, into=obj)


def _check_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise ValidationError(
            f"Unknown execution strategy {strategy!r}; use 'sequential' or 'concurrent'",
            detail={"field": "execution_strategy", "choices": list(STRATEGIES)},
        )
    return strategy


class Flow:
    """A graph of routines; each ``start()`` runs one independent job over it."""

    def __init__(self, flow_id: str | None = None, execution_strategy: str = "sequential",
                 max_workers: int = 5, execution_timeout: float | None = None, *,
                 executor: Executor | str | None = None) -> None:
        self.flow_id: str = flow_id or uuid.uuid4().hex
        #: Where this flow's jobs run their handlers unless a job says otherwise
        #: (``flow.start(..., executor=...)``); the default runs them on threads here.
        self.executor: Executor = resolve_executor(executor)
        self.execution_strategy: str = _check_strategy(execution_strategy)
        if int(max_workers) < 1:
            raise ValidationError("max_workers must be >= 1")
        self.max_workers: int = int(max_workers)
        self.execution_timeout = execution_timeout
        self.routines: dict[str, Routine] = {}
        self.connections: list[Connection] = []
        self._error_handler: ErrorHandler | None = None
        # (routine_id, event) -> ((target_id, routine, slot, mapping | None), ...). Cleared in
        # place on every change so live runtimes holding the dict see the new wiring.
        self._routes: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._ids_by_routine: dict[int, str] = {}
        self._runtimes: dict[str, JobRuntime] = {}
        for fn in list(_flow_listeners):
            try:
                fn(self)
            except Exception:
                logger.exception("routilux flow listener raised")

    # ----------------------------------------------------------------- building
    def add_routine(self, routine: Routine, routine_id: str | None = None) -> str:
        """Add ``routine`` under ``routine_id`` (default: a unique snake-ish name); returns it."""
        if not isinstance(routine, Routine):
            raise ValidationError(
                f"add_routine() takes a Routine instance, got {type(routine).__name__}"
            )
        if not hasattr(routine, "_slots"):
            raise ValidationError(
                f"{type(routine).__name__}.__init__ must call super().__init__() before defining "
                "slots and events"
            )
        if routine_id is None:
            base = type(routine).__name__.lower()
            n = 1
            routine_id = base
            while routine_id in self.routines:
                n += 1
                routine_id = f"{base}_{n}"
        if not isinstance(routine_id, str) or not routine_id:
            raise ValidationError("routine_id must be a non-empty string")
        if routine_id in self.routines:
            raise ValidationError(
                f"Flow {self.flow_id!r} already has a routine {routine_id!r}; choose another id",
                detail={"routine_id": routine_id, "routines": sorted(self.routines)},
            )
        self.routines[routine_id] = routine
        self._ids_by_routine.setdefault(id(routine), routine_id)
        self._routes.clear()
        return routine_id

    def _routine_or_error(self, routine_id: str, role: str) -> Routine:
        routine = self.routines.get(routine_id)
        if routine is None:
            known = sorted(self.routines)
            raise ValidationError(
                f"Unknown {role} routine {routine_id!r} in flow {self.flow_id!r}; routines: {known}",
                detail={"routine_id": routine_id, "routines": known},
            )
        return routine

    def connect(self, source_routine_id: str, source_event: str, target_routine_id: str,
                target_slot: str = "trigger",
                param_mapping: dict[str, str] | None = None) -> Connection:
        """Wire ``source.event -> target.slot``; ``param_mapping`` is ``{event_param: slot_param}``."""
        src = self._routine_or_error(source_routine_id, "source")
        tgt = self._routine_or_error(target_routine_id, "target")
        if source_event not in src._events:
            known = sorted(src._events)
            raise ValidationError(
                f"Routine {source_routine_id!r} has no event {source_event!r}; its events: {known}"
                f". Define it with self.define_event({source_event!r})",
                detail={"event": source_event, "events": known},
            )
        if target_slot not in tgt._slots:
            known = sorted(tgt._slots)
            raise ValidationError(
                f"Routine {target_routine_id!r} has no slot {target_slot!r}; its slots: {known}. "
                f"Define it with self.define_slot({target_slot!r}, handler)",
                detail={"slot": target_slot, "slots": known},
            )
        if param_mapping is not None and (
            not isinstance(param_mapping, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in param_mapping.items())
        ):
            raise ValidationError("param_mapping must be a dict {event_param: slot_param} of str")
        conn = Connection(source_routine_id, source_event, target_routine_id, target_slot,
                          param_mapping)
        if any(c.connection_id == conn.connection_id for c in self.connections):
            raise ValidationError(f"Connection {conn.connection_id} already exists")
        self.connections.append(conn)
        self._routes.clear()
        return conn

    def disconnect(self, connection: Connection) -> None:
        """Remove a connection."""
        self.connections = [c for c in self.connections if c.connection_id != connection.connection_id]
        self._routes.clear()

    def set_execution_strategy(self, strategy: str, max_workers: int | None = None) -> None:
        """``sequential`` (one worker per job, FIFO) or ``concurrent`` (up to ``max_workers``)."""
        self.execution_strategy = _check_strategy(strategy)
        if max_workers is not None:
            if int(max_workers) < 1:
                raise ValidationError("max_workers must be >= 1")
            self.max_workers = int(max_workers)

    def set_error_handler(self, error_handler: ErrorHandler | None) -> None:
        """Flow-level error handler (a routine's own handler wins over it)."""
        if error_handler is not None and not isinstance(error_handler, ErrorHandler):
            raise ValidationError("set_error_handler() takes an ErrorHandler or None")
        self._error_handler = error_handler

    def get_error_handler(self) -> ErrorHandler | None:
        """The flow-level error handler, if any."""
        return self._error_handler

    def _routine_id_of(self, routine: Routine) -> str | None:
        return self._ids_by_routine.get(id(routine))

    def _build_route(self, routine_id: str, event_name: str) -> tuple[Any, ...]:
        routine = self.routines[routine_id]
        if event_name not in routine._events:
            raise routine._unknown_event(event_name)
        targets = []
        for c in self.connections:
            if c.source_routine == routine_id and c.source_event == event_name:
                tgt = self.routines[c.target_routine]
                targets.append((c.target_routine, tgt, tgt._slots[c.target_slot],
                                c.apply if c.param_mapping else None))
        route = tuple(targets)
        self._routes[(routine_id, event_name)] = route
        return route

    # ----------------------------------------------------------------- checking
    def validate(self) -> list[str]:
        """Problems that would make jobs misbehave (an empty list means none found)."""
        problems: list[str] = []
        incoming: set[str] = set()
        for c in self.connections:
            src = self.routines.get(c.source_routine)
            tgt = self.routines.get(c.target_routine)
            if src is None or tgt is None:
                problems.append(f"{c.connection_id}: routine no longer in the flow")
                continue
            if c.source_event not in src._events:
                problems.append(f"{c.connection_id}: {c.source_routine} has no event "
                                f"{c.source_event!r}")
            slot = tgt._slots.get(c.target_slot)
            if slot is None:
                problems.append(f"{c.connection_id}: {c.target_routine} has no slot "
                                f"{c.target_slot!r}")
                continue
            incoming.add(c.target_routine)
            event = src._events.get(c.source_event)
            declared = set(event.output_params) if event is not None else set()
            for key, dest in c.param_mapping.items():
                if declared and key not in declared:
                    problems.append(f"{c.connection_id}: param_mapping key {key!r} is not an "
                                    f"output param of {c.source_event!r} ({sorted(declared)})")
                if not slot.accepts(dest):
                    problems.append(f"{c.connection_id}: handler of slot {c.target_slot!r} "
                                    f"takes no parameter {dest!r}")
            if slot.handler is None:
                problems.append(f"{c.connection_id}: slot {c.target_slot!r} of "
                                f"{c.target_routine} has no handler, deliveries do nothing")
        for rid, routine in self.routines.items():
            if not routine._slots:
                problems.append(f"{rid}: routine defines no slots, so it can never run")
            elif rid not in incoming and "trigger" not in routine._slots:
                problems.append(f"{rid}: unreachable (no incoming connection, no 'trigger' slot)")
        if self.routines and not any("trigger" in r._slots for r in self.routines.values()):
            problems.append("no routine has a 'trigger' slot to start a job with")
        return problems

    # ----------------------------------------------------------------- jobs
    def _has_async_slots(self) -> bool:
        """Whether any routine has an ``async def`` handler (its jobs use the event loop)."""
        return any(slot.kind == ASYNC for r in self.routines.values()
                   for slot in r._slots.values())

    def start(self, entry_routine_id: str, entry_params: dict[str, Any] | None = None,
              entry_slot: str = "trigger", *, execution_strategy: str | None = None,
              job_id: str | None = None, executor: Executor | str | None = None) -> JobState:
        """Start a job at ``entry_routine_id.entry_slot``; returns its running JobState at once.

        ``executor`` runs this job's handlers somewhere else than the flow's executor.
        """
        routine = self._routine_or_error(entry_routine_id, "entry")
        slot = routine._slots.get(entry_slot)
        if slot is None:
            known = sorted(routine._slots)
            raise ValidationError(
                f"Entry routine {entry_routine_id!r} has no slot {entry_slot!r}; its slots: "
                f"{known}. Define it with self.define_slot({entry_slot!r}, handler)",
                detail={"slot": entry_slot, "slots": known},
            )
        if entry_params is not None and not isinstance(entry_params, dict):
            raise ValidationError("entry_params must be a dict of payload keys")
        strategy = _check_strategy(execution_strategy or self.execution_strategy)
        if job_id is not None and job_id in self._runtimes:
            raise ValidationError(f"Job {job_id!r} is already running in flow {self.flow_id!r}")
        ex = self.executor if executor is None else resolve_executor(executor)
        js = JobState(self.flow_id, job_id)
        js._set_executor(ex)
        rt = JobRuntime(self, js, 1 if strategy == "sequential" else self.max_workers,
                        ex if ex.remote else None)
        self._runtimes[js.job_id] = rt
        js._set_status("running")
        data = dict(entry_params) if entry_params else {}
        js.entry = {"routine_id": entry_routine_id, "slot_name": entry_slot,
                    "params": dict(data)}   # for job_state.replay()
        rt.start(Activation(rt, entry_routine_id, routine, slot, data, None, None, 0))
        return js

    def execute(self, entry_routine_id: str, entry_params: dict[str, Any] | None = None,
                execution_strategy: str | None = None, timeout: float | None = None, *,
                entry_slot: str = "trigger", job_id: str | None = None,
                executor: Executor | str | None = None) -> JobState:
        """Start a job and wait until it is terminal (or ``timeout``, default the flow's).

        The positional order is routilux 0.10's; ``entry_slot`` is keyword-only here.
        """
        js = self.start(entry_routine_id, entry_params, entry_slot,
                        execution_strategy=execution_strategy, job_id=job_id, executor=executor)
        js.wait(timeout if timeout is not None else self.execution_timeout)
        return js

    async def aexecute(self, entry_routine_id: str, entry_params: dict[str, Any] | None = None,
                       execution_strategy: str | None = None, timeout: float | None = None, *,
                       entry_slot: str = "trigger", job_id: str | None = None,
                       executor: Executor | str | None = None) -> JobState:
        """``await flow.aexecute(...)``: start a job and wait for it without blocking the loop.

        Returns the terminal JobState, or the live one when ``timeout`` (default the flow's)
        passes first, like :meth:`execute`.
        """
        import asyncio

        js = self.start(entry_routine_id, entry_params, entry_slot,
                        execution_strategy=execution_strategy, job_id=job_id, executor=executor)
        limit = timeout if timeout is not None else self.execution_timeout
        if limit is None:
            await js
        else:
            try:
                await asyncio.wait_for(asyncio.ensure_future(_awaitable(js)), limit)
            except asyncio.TimeoutError:
                pass
        return js

    def rerun_from(self, job: JobState, routine_id: str, slot_name: str,
                   data: dict[str, Any] | None = None) -> JobState:
        """Fork ``job`` at ``routine_id.slot_name``: a new job of this flow runs from there with
        ``data`` (default: that slot's latest recorded input in ``job``) and the shared data that
        activation began with (see :mod:`routilux.monitoring.timetravel`)."""
        from routilux.monitoring.timetravel import rerun_at

        return rerun_at(self, job, routine_id, slot_name, data)

    def _runtime_or_error(self, job_state: JobState, action: str) -> JobRuntime:
        rt = self._runtimes.get(job_state.job_id)
        if rt is not None:
            return rt
        if job_state.is_terminal:
            raise InvalidStateError(
                f"Cannot {action} job {job_state.job_id}: it is already {job_state.status}"
            )
        raise NotFoundError(
            f"Job {job_state.job_id} is not running in flow {self.flow_id!r}; to continue a saved "
            "job use flow.resume(JobState.load(path))"
        )

    def pause(self, job_state: JobState, reason: str | None = None) -> JobState:
        """Pause one job: its workers stop before their next activation."""
        self._runtime_or_error(job_state, "pause").pause(reason)
        return job_state

    def resume(self, job_state: JobState) -> JobState:
        """Resume a paused job, or continue a loaded (saved) one; returns the running JobState.

        A job saved and loaded while its original is still alive in this flow resumes that
        original (no task runs twice); the loaded object then mirrors its end.
        """
        rt = self._runtimes.get(job_state.job_id)
        if rt is not None:
            rt.resume()
            live = rt.job_state
            if live is not job_state:
                live.add_done_callback(lambda js: _mirror(js, job_state))
            return live
        if job_state.is_terminal:
            raise InvalidStateError(
                f"Cannot resume job {job_state.job_id}: it is already {job_state.status}"
            )
        if job_state.flow_id and job_state.flow_id != self.flow_id:
            raise ValidationError(
                f"Job {job_state.job_id} belongs to flow {job_state.flow_id!r}, not "
                f"{self.flow_id!r}; resume it with that flow"
            )
        saved = job_state._saved
        if saved is None:
            raise InvalidStateError(
                f"Job {job_state.job_id} has nothing to resume; load it with JobState.load(path)"
            )
        for task in [*saved["pending"], *saved["buffers"]]:
            routine = self._routine_or_error(task["routine_id"], "saved task's")
            if task["slot_name"] not in routine._slots:
                raise ValidationError(f"Saved task targets unknown slot "
                                      f"{task['routine_id']}.{task['slot_name']}")
        max_drainers = 1 if self.execution_strategy == "sequential" else self.max_workers
        job_state._saved = None
        job_state._done.clear()
        job_state._set_executor(self.executor)
        rt = JobRuntime(self, job_state, max_drainers,
                        self.executor if self.executor.remote else None)
        self._runtimes[job_state.job_id] = rt
        job_state._set_status("running")
        rt.restore(saved["pending"], saved["buffers"])
        return job_state

    def cancel(self, job_state: JobState, reason: str | None = None) -> JobState:
        """Cancel one job at once (queued tasks are dropped; running handlers finish alone)."""
        rt = self._runtimes.get(job_state.job_id)
        if rt is None:
            if job_state.is_terminal:
                raise InvalidStateError(
                    f"Cannot cancel job {job_state.job_id}: it is already {job_state.status}"
                )
            job_state._saved = None
            job_state.cancel_reason = reason
            job_state._set_status("cancelled")
            job_state._set_completed()
            job_state._fire_done()
            return job_state
        rt.cancel(reason)
        return job_state

    def get_job(self, job_id: str) -> JobState | None:
        """A live (not yet terminal) job of this flow by id."""
        rt = self._runtimes.get(job_id)
        return rt.job_state if rt is not None else None

    def live_jobs(self) -> list[JobState]:
        """Jobs of this flow that are not terminal yet."""
        return [rt.job_state for rt in list(self._runtimes.values())]

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> None:
        """Compatibility: wait for (``wait=True``) or cancel (``wait=False``) the live jobs."""
        for js in self.live_jobs():
            if wait:
                js.wait(timeout)
            else:
                try:
                    self.cancel(js, "flow shutdown")
                except InvalidStateError:
                    pass

    # ----------------------------------------------------------------- description and DSL
    def describe(self) -> dict[str, Any]:
        """The flow JSON shape of DESIGN.md §6 (without ``owner``)."""
        return {
            "flow_id": self.flow_id,
            "routines": {rid: r.describe(rid) for rid, r in self.routines.items()},
            "connections": [c.to_dict() for c in self.connections],
            "execution_strategy": self.execution_strategy,
            "max_workers": self.max_workers,
            "executor": self.executor.name,
        }

    def to_dict(self) -> dict[str, Any]:
        """A DSL spec that :meth:`from_dict` rebuilds (routine classes must be registered)."""
        from routilux.dsl import flow_to_spec

        return flow_to_spec(self)

    def serialize(self) -> dict[str, Any]:
        """Same as :meth:`to_dict` (routilux 0.10 name)."""
        return self.to_dict()

    deserialize = _HybridDeserialize()

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Flow:
        """Build a flow from a DSL spec; ``class`` names resolve through the routine registry."""
        from routilux.dsl import build_flow

        return build_flow(spec)

    @classmethod
    def from_yaml(cls, text_or_path: str) -> Flow:
        """Build a flow from YAML text or a ``.yaml``/``.yml`` file path (``yaml.safe_load``)."""
        from routilux.dsl import build_flow, load_yaml

        return build_flow(load_yaml(text_or_path))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from routilux.display import mimebundle

        return mimebundle("flow", self, include, exclude)

    def __repr__(self) -> str:
        return (f"Flow(flow_id={self.flow_id!r}, routines={list(self.routines)}, "
                f"connections={len(self.connections)}, strategy={self.execution_strategy!r})")


def _mirror(live: JobState, copy: JobState) -> None:
    copy.status = live.status
    copy.error = live.error
    copy.errors.clear()
    copy.errors.extend(live.errors)
    copy.routine_states = {k: dict(v) for k, v in live.routine_states.items()}
    copy._completed_ts = live._completed_ts
    copy._saved = None
    copy._fire_done()


async def _awaitable(js: JobState) -> JobState:
    return await js
