"""The routine class registry: the only way a DSL ``class`` name becomes a Python class.

Names come from ``@register_routine`` (in user code or modules the server imports by config), the
built-ins, and the entry-point group ``routilux.routines``. A DSL never names an import path: a
name containing ``.`` or ``:`` is refused outright, so a spec cannot make routilux import anything.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any, Callable, TypeVar, overload

from routilux.errors import UnknownRoutineClassError, ValidationError

__all__ = [
    "ENTRY_POINT_GROUP", "get_routine_class", "load_entry_point_routines", "register_routine",
    "registered_routines", "routine_class_name", "unregister_routine",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "routilux.routines"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_lock = threading.Lock()
_registry: dict[str, type] = {}
_builtins_loaded = False

R = TypeVar("R", bound=type)


def _ensure_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        import routilux.builtin_routines  # noqa: F401  (registers on import)


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(
            f"Routine name {name!r} is not allowed: use letters, digits, '_' or '-' (no '.' or ':'"
            ", a registered name is never an import path)",
            detail={"name": name},
        )


def _register(cls: type, name: str) -> None:
    from routilux.routine import Routine

    if not (isinstance(cls, type) and issubclass(cls, Routine)):
        raise ValidationError(f"register_routine() takes a Routine subclass, got {cls!r}")
    _check_name(name)
    with _lock:
        old = _registry.get(name)
        if old is not None and old is not cls and (
            old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValidationError(
                f"Routine name {name!r} is already registered for {old.__module__}."
                f"{old.__qualname__}; register this class under another name with "
                f"@register_routine(name=...)",
                detail={"name": name},
            )
        # Same module and qualname: a notebook cell was re-run, the new class replaces the old.
        _registry[name] = cls


@overload
def register_routine(cls: R, *, name: str | None = None) -> R: ...
@overload
def register_routine(cls: str | None = None, *, name: str | None = None) -> Callable[[R], R]: ...


def register_routine(cls: Any = None, *, name: str | None = None) -> Any:
    """Register a Routine subclass for the DSL, under its class name or ``name``.

    Use as ``@register_routine``, ``@register_routine("Name")`` or ``@register_routine(name=...)``.
    """
    if isinstance(cls, str):
        name, cls = cls, None
    if cls is None:
        def deco(c: R) -> R:
            _register(c, name or c.__name__)
            return c
        return deco
    _register(cls, name or cls.__name__)
    return cls


def unregister_routine(name: str) -> None:
    """Forget a registered name (no error if absent)."""
    with _lock:
        _registry.pop(name, None)


def registered_routines() -> dict[str, type]:
    """All registered names and classes, sorted by name."""
    _ensure_builtins()
    with _lock:
        return dict(sorted(_registry.items()))


def get_routine_class(name: str) -> type:
    """The class registered as ``name``; UnknownRoutineClassError (listing names) otherwise."""
    _ensure_builtins()
    if isinstance(name, str) and ("." in name or ":" in name):
        raise UnknownRoutineClassError(
            f"Routine class {name!r} looks like an import path; routilux never imports classes "
            "named in a flow spec. Register the class (decorate it with @routilux.register_routine"
            f" or publish it in the {ENTRY_POINT_GROUP!r} entry-point group) and use its "
            f"registered name. Registered: {sorted(_registry)}",
            detail={"class": name, "registered": sorted(_registry)},
        )
    with _lock:
        cls = _registry.get(name)
    if cls is None:
        raise UnknownRoutineClassError(
            f"Unknown routine class {name!r}. Registered names: {sorted(_registry)}. Register it "
            "with @routilux.register_routine",
            detail={"class": name, "registered": sorted(_registry)},
        )
    return cls


def routine_class_name(cls: type) -> str:
    """The name ``cls`` is registered under (its ``__name__`` when not registered)."""
    _ensure_builtins()
    with _lock:
        for name, c in _registry.items():
            if c is cls:
                return name
    return cls.__name__


def load_entry_point_routines() -> list[str]:
    """Register every class published in the ``routilux.routines`` entry-point group.

    Returns the names registered. A broken entry point is logged and skipped.
    """
    from importlib.metadata import entry_points

    names = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
            _register(cls, ep.name)
            names.append(ep.name)
        except Exception:
            logger.exception("routilux: cannot load routine entry point %s", ep)
    return names
