"""routilux: an event-driven workflow engine whose monitoring and debugging live in Jupyter.

``import routilux`` loads only the standard library (plus nothing from Jupyter); the Jupyter
parts load when ``%load_ext routilux`` runs.
"""

from __future__ import annotations

from typing import Any

from routilux.connection import Connection
from routilux.error_handler import ErrorHandler, ErrorStrategy
from routilux.errors import (
    AmbiguousError,
    ConditionError,
    InvalidStateError,
    NotFoundError,
    OptionalDependencyError,
    OwnerTimeoutError,
    OwnerUnavailableError,
    RoutiluxError,
    UnknownRoutineClassError,
    ValidationError,
)
from routilux.event import Event
from routilux.flow import Flow, add_flow_listener
from routilux.hooks import ExecutionHooks, install_hooks
from routilux.job_state import ExecutionStatus, JobState, RoutineStatus
from routilux.registry import (
    get_routine_class,
    load_entry_point_routines,
    register_routine,
    registered_routines,
)
from routilux.routine import ExecutionContext, Routine
from routilux.runtime import Activation, JobRuntime
from routilux.slot import Slot
from routilux import builtin_routines as _builtin_routines  # noqa: F401  (registers built-ins)
from routilux.display import register_renderer

__version__ = "0.1.0"

__all__ = [
    "Activation",
    "AmbiguousError",
    "ConditionError",
    "Connection",
    "ErrorHandler",
    "ErrorStrategy",
    "Event",
    "ExecutionContext",
    "ExecutionHooks",
    "ExecutionStatus",
    "Flow",
    "InvalidStateError",
    "JobRuntime",
    "JobState",
    "NotFoundError",
    "OptionalDependencyError",
    "OwnerTimeoutError",
    "OwnerUnavailableError",
    "RoutiluxError",
    "Routine",
    "RoutineStatus",
    "Slot",
    "UnknownRoutineClassError",
    "ValidationError",
    "add_flow_listener",
    "get_routine_class",
    "install_hooks",
    "load_entry_point_routines",
    "load_ipython_extension",
    "register_renderer",
    "register_routine",
    "registered_routines",
    "unload_ipython_extension",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext routilux``: hand over to the Jupyter kernel half (imported only now)."""
    from routilux_jupyter import kernel

    kernel.load_ipython_extension(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext routilux``."""
    from routilux_jupyter import kernel

    kernel.unload_ipython_extension(ipython)
