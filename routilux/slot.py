"""Slot: a named input of a routine, its handler dispatch rule and its merge strategy.

The dispatch rule is decided once, when the slot is defined (``inspect.signature`` is far too slow
for every delivery):

* a handler with ``**kwargs`` gets the payload as keywords;
* a handler whose only parameter is named ``data`` gets the whole payload dict;
* a handler with one other parameter gets that key's value (or the whole dict if the key is absent);
* a handler with several parameters gets the matching keys as keywords (the whole dict if none match);
* a handler without parameters is called with none.

An ``async def`` handler follows the same rule; its slot's ``kind`` is ``ASYNC`` (so the thread
worker's hot path never mistakes its coroutine for a result) and ``call_kind`` keeps the rule.

Merge strategies turn each delivery into the data the handler sees. They keep their state *per job*
(in the job's runtime), never on the slot, because one routine instance serves every job.
"""

from __future__ import annotations

import inspect
from functools import partial
from typing import TYPE_CHECKING, Any, Callable

from routilux.errors import ValidationError

if TYPE_CHECKING:
    from routilux.routine import Routine

__all__ = ["Slot", "call_handler", "merge"]

# Dispatch kinds (ints so the worker's branch is a cheap compare). ASYNC marks a coroutine
# function; its call rule is ``Slot.call_kind``.
KWARGS, DATA, SINGLE, MATCH, NOARGS, NOHANDLER, ASYNC = range(7)
# Merge kinds.
OVERRIDE, APPEND, CUSTOM = range(3)


def _dispatch_of(handler: Callable[..., Any] | None) -> tuple[int, tuple[str, ...]]:
    if handler is None:
        return NOHANDLER, ()
    if not callable(handler):
        raise ValidationError(f"Slot handler must be callable, got {type(handler).__name__}")
    try:
        params = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature: hand them the dict
        return DATA, ()
    names: list[str] = []
    defaulted = False
    for p in params:
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            return KWARGS, ()
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        names.append(p.name)
        defaulted = p.default is not inspect.Parameter.empty
    if not names:
        return NOARGS, ()
    if len(names) == 1 and names[0] == "data":
        return DATA, ()
    if len(names) == 1 and not defaulted:
        # Upstream compatibility: a lone required parameter gets its key, else the whole payload.
        return SINGLE, (names[0],)
    return MATCH, tuple(names)


def is_coroutine_handler(handler: Any) -> bool:
    """Whether calling ``handler`` returns a coroutine (``async def``, bound, partial or callable)."""
    while isinstance(handler, partial):
        handler = handler.func
    if inspect.iscoroutinefunction(handler):
        return True
    call = getattr(handler, "__call__", None)
    return call is not None and not inspect.isfunction(handler) and \
        inspect.iscoroutinefunction(call)


def call_handler(kind: int, handler: Callable[..., Any], params: tuple[str, ...],
                 data: dict[str, Any]) -> Any:
    """Call ``handler`` with ``data`` following the dispatch rule ``kind``."""
    if kind == KWARGS:
        return handler(**data)
    if kind == DATA:
        return handler(data)
    if kind == SINGLE:
        name = params[0]
        return handler(data[name]) if name in data else handler(data)
    if kind == MATCH:
        # Only matching keys: parameters the payload lacks keep their defaults.
        return handler(**{k: data[k] for k in params if k in data})
    if kind == NOARGS:
        return handler()
    if kind == ASYNC:
        from routilux.errors import InvalidStateError

        raise InvalidStateError(
            f"{getattr(handler, '__qualname__', handler)} is async and its slot was defined after "
            "the job started; start a new job so it runs on the event loop"
        )
    return None


def _merge_kind(strategy: Any) -> int:
    if strategy == "override":
        return OVERRIDE
    if strategy == "append":
        return APPEND
    if callable(strategy):
        return CUSTOM
    raise ValidationError(
        f"Unknown merge_strategy {strategy!r}; use 'override', 'append' or a callable "
        "(old: dict, new: dict) -> dict",
        detail={"field": "merge_strategy", "choices": ["override", "append", "<callable>"]},
    )


def merge(kind: int, strategy: Any, buffers: dict[Any, Any], key: Any,
          new: dict[str, Any]) -> dict[str, Any]:
    """Apply a non-override merge strategy to the job's buffer ``buffers[key]``; return the result.

    ``append`` accumulates every key ever delivered (this job) into lists and hands the handler a
    snapshot (copies of the lists, so later deliveries do not change what it already got).
    A callable gets ``(old, new)`` and its return value becomes the new buffer.
    """
    if kind == APPEND:
        buf = buffers.get(key)
        if buf is None:
            buf = buffers[key] = {}
        for k, v in new.items():
            lst = buf.get(k)
            if lst is None:
                buf[k] = [v]
            else:
                lst.append(v)
        return {k: list(v) for k, v in buf.items()}
    old = buffers.get(key)
    merged = strategy(dict(old) if old is not None else {}, new)
    if not isinstance(merged, dict):
        raise ValidationError(
            f"merge_strategy callable must return a dict, got {type(merged).__name__}"
        )
    buffers[key] = merged
    return merged


class Slot:
    """A named input of a routine with its handler and merge strategy (job-independent)."""

    __slots__ = ("name", "routine", "handler", "merge_strategy", "kind", "params", "merge_kind",
                 "call_kind")

    def __init__(
        self,
        name: str,
        routine: Routine | None = None,
        handler: Callable[..., Any] | None = None,
        merge_strategy: Any = "override",
    ) -> None:
        self.name = name
        self.routine = routine
        self.merge_kind = _merge_kind(merge_strategy)
        self.merge_strategy = merge_strategy
        self.handler = handler
        self._set_dispatch(handler)

    def _set_dispatch(self, handler: Callable[..., Any] | None) -> None:
        self.call_kind, self.params = _dispatch_of(handler)
        self.kind = ASYNC if handler is not None and is_coroutine_handler(handler) \
            else self.call_kind

    @property
    def is_async(self) -> bool:
        """Whether the handler is a coroutine function (run on the shared event loop)."""
        return self.kind == ASYNC

    def set_handler(self, handler: Callable[..., Any] | None) -> None:
        """Replace the handler (the dispatch rule is recomputed)."""
        self._set_dispatch(handler)
        self.handler = handler

    def accepts(self, key: str) -> bool:
        """Whether the handler can receive payload key ``key`` by name."""
        if self.call_kind in (KWARGS, DATA, NOHANDLER):
            return True
        return key in self.params

    def call(self, data: dict[str, Any]) -> Any:
        """Call the handler directly with ``data`` (no job; for unit tests of a routine).

        For an ``async def`` handler this returns the coroutine (await it).
        """
        if self.handler is None:
            return None
        return call_handler(self.call_kind, self.handler, self.params, data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        strategy = self.merge_strategy if isinstance(self.merge_strategy, str) else "custom"
        return {"name": self.name, "merge_strategy": strategy,
                "handler": getattr(self.handler, "__name__", None)}

    def __repr__(self) -> str:
        owner = type(self.routine).__name__ if self.routine is not None else None
        return f"Slot({self.name!r}, routine={owner})"
