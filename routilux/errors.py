"""The routilux error hierarchy, in one place.

::

    RoutiluxError                      root of everything routilux raises on purpose
    ├── ValidationError (ValueError)   bad input from a caller: unknown event/slot/routine, bad DSL,
    │   │                              bad breakpoint condition, bad connection, bad JSON body
    │   ├── ConditionError             a breakpoint condition that is not in the allowed language
    │   └── UnknownRoutineClassError   a DSL ``class`` name that is not registered
    ├── NotFoundError (LookupError)    an id (flow, job, breakpoint, kernel) that does not exist
    ├── AmbiguousError (LookupError)   an id that names several things (same flow id in two kernels)
    ├── InvalidStateError (RuntimeError)  the operation does not fit the current state
    │                                  (step while running, resume a completed job)
    ├── OwnerUnavailableError          the process that owns a flow/job is gone (kernel died)
    │   └── OwnerTimeoutError          ... or did not answer in time
    └── OptionalDependencyError (ImportError)  a feature needs an extra that is not installed
                                       (the message names it: pip install routilux[frames])

Each message says what was wrong and how to fix it. ``routilux.service`` maps these classes to
HTTP statuses in one table (400, 404, 409, 409, 503, 504).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AmbiguousError",
    "ConditionError",
    "InvalidStateError",
    "NotFoundError",
    "OptionalDependencyError",
    "OwnerTimeoutError",
    "OwnerUnavailableError",
    "RoutiluxError",
    "UnknownRoutineClassError",
    "ValidationError",
]


class RoutiluxError(Exception):
    """Root of every error routilux raises on purpose.

    ``detail`` carries machine-readable context (ids, candidates, the offending field) that the
    HTTP layer returns as the ``detail`` member of its JSON error body.
    """

    def __init__(self, message: str, *, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:  # KeyError-style quoting never applies to our messages
        return self.message


class ValidationError(RoutiluxError, ValueError):
    """Bad input from a caller; the message names the field and the accepted values."""


class ConditionError(ValidationError):
    """A breakpoint condition outside the allowed expression language."""


class UnknownRoutineClassError(ValidationError):
    """A DSL ``class`` name that is not in the routine registry."""


class NotFoundError(RoutiluxError, LookupError):
    """An id that names nothing (flow, job, breakpoint, kernel)."""

    def __str__(self) -> str:
        return self.message


class AmbiguousError(RoutiluxError, LookupError):
    """An id that names several things; ``detail`` lists the candidates."""

    def __str__(self) -> str:
        return self.message


class InvalidStateError(RoutiluxError, RuntimeError):
    """The operation does not fit the object's current state."""


class OwnerUnavailableError(RoutiluxError):
    """The process that owns the flow or job (a kernel) is gone or disconnected."""


class OwnerTimeoutError(OwnerUnavailableError):
    """The owning process did not answer within the timeout."""


class OptionalDependencyError(RoutiluxError, ImportError):
    """A feature needs an optional extra that is not installed; the message says which."""
