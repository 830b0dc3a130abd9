"""Error strategies for failing slot handlers: STOP, CONTINUE, SKIP, RETRY."""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

from routilux.errors import ValidationError

__all__ = ["ErrorHandler", "ErrorStrategy"]


class ErrorStrategy(str, Enum):
    """What happens when a slot handler raises."""

    STOP = "stop"  # the job fails (default)
    CONTINUE = "continue"  # record the error, keep the emits made before it, go on
    SKIP = "skip"  # record the error, drop the failed activation's emits, go on
    RETRY = "retry"  # re-deliver after a scheduled backoff, then fail

    def __str__(self) -> str:
        return self.value


def _count(name: str, value: Any) -> int:
    """A retry count: an int >= 0 (a whole float such as 3.0 from YAML/JSON is fine)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(
            f"ErrorHandler {name} must be a whole number >= 0, got {value!r}.",
            detail={"field": name, "value": repr(value)},
        )
    return value


def _seconds(name: str, value: Any, *, allow_zero: bool) -> float:
    """A finite number > 0 (>= 0 with allow_zero). NaN fails every comparison, so it is
    checked by name: it would otherwise pass a range check and poison the retry schedule."""
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value) and (value >= 0 if allow_zero else value > 0))
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValidationError(
            f"ErrorHandler {name} must be a finite number {bound}, got {value!r}.",
            detail={"field": name, "value": repr(value)},
        )
    return float(value)


class ErrorHandler:
    """How a routine (or a whole flow) reacts to a handler error.

    RETRY waits ``retry_delay * retry_backoff ** (n - 1)`` seconds before attempt ``n + 1``; the
    wait is scheduled on a timer, never slept on a worker. After ``max_retries`` failed retries
    (or an exception not in ``retryable_exceptions``) the job fails, as under STOP. Emits made by a
    failed attempt are discarded under RETRY and SKIP, so each successful run emits exactly once.
    """

    __slots__ = (
        "strategy", "max_retries", "retry_delay", "retry_backoff", "retryable_exceptions",
        "is_critical",
    )

    def __init__(
        self,
        strategy: ErrorStrategy | str = ErrorStrategy.STOP,
        max_retries: int = 3,
        retry_delay: float = 1.0,
        retry_backoff: float = 2.0,
        retryable_exceptions: tuple[type[BaseException], ...] | None = None,
        is_critical: bool = False,
    ) -> None:
        try:
            self.strategy = ErrorStrategy(strategy)
        except ValueError:
            choices = ", ".join(s.value for s in ErrorStrategy)
            raise ValidationError(
                f"Unknown error strategy {strategy!r}; use one of: {choices}",
                detail={"field": "strategy", "choices": [s.value for s in ErrorStrategy]},
            ) from None
        self.max_retries = _count("max_retries", max_retries)
        self.retry_delay = _seconds("retry_delay", retry_delay, allow_zero=True)
        self.retry_backoff = _seconds("retry_backoff", retry_backoff, allow_zero=False)
        self.retryable_exceptions: tuple[type[BaseException], ...] = (
            tuple(retryable_exceptions) if retryable_exceptions else (Exception,)
        )
        self.is_critical = is_critical

    def delay_for(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        return self.retry_delay * self.retry_backoff ** (attempt - 1)

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """True when retry number ``attempt`` (1-based) may be scheduled for ``error``."""
        return (
            self.strategy is ErrorStrategy.RETRY
            and attempt <= self.max_retries
            and isinstance(error, self.retryable_exceptions)
        )

    def to_dict(self) -> dict[str, Any]:
        """The DSL ``error_handler`` shape."""
        return {
            "strategy": self.strategy.value,
            "max_retries": self.max_retries,
            "retry_delay": self.retry_delay,
            "retry_backoff": self.retry_backoff,
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> ErrorHandler:
        """Build from the DSL ``error_handler`` shape (unknown keys are refused)."""
        if not isinstance(spec, dict):
            raise ValidationError(
                "error_handler must be a mapping like {strategy: retry, max_retries: 3}",
                detail={"field": "error_handler"},
            )
        allowed = {"strategy", "max_retries", "retry_delay", "retry_backoff", "is_critical"}
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise ValidationError(
                f"Unknown error_handler keys {unknown}; allowed: {sorted(allowed)}",
                detail={"field": "error_handler", "unknown": unknown},
            )
        try:
            return cls(**spec)
        except TypeError as exc:
            raise ValidationError(f"Bad error_handler values: {exc}") from None

    def __repr__(self) -> str:
        return (
            f"ErrorHandler(strategy={self.strategy.value!r}, max_retries={self.max_retries}, "
            f"retry_delay={self.retry_delay}, retry_backoff={self.retry_backoff})"
        )
