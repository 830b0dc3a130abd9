"""The one table from routilux errors to HTTP statuses, and the JSON error body.

Every handler error goes through :func:`error_response`: routilux errors keep their message and
``detail``; tornado ``HTTPError`` (403 from authorization, 405, ...) keeps its own status; anything
else is a 500 with a generic message (the traceback goes to the server log, never to the client).
"""

from __future__ import annotations

from http.client import responses
from typing import Any

from tornado.web import HTTPError

from routilux.errors import (
    AmbiguousError,
    InvalidStateError,
    NotFoundError,
    OwnerTimeoutError,
    OwnerUnavailableError,
    RoutiluxError,
    ValidationError,
)

__all__ = ["STATUS_BY_ERROR", "error_response", "status_for"]

STATUS_BY_ERROR: dict[type[RoutiluxError], int] = {
    ValidationError: 400,
    NotFoundError: 404,
    AmbiguousError: 409,
    InvalidStateError: 409,
    OwnerUnavailableError: 503,
    OwnerTimeoutError: 504,
}

_GENERIC = "Internal server error in routilux; the Jupyter server log has the details."


def status_for(exc: BaseException) -> int | None:
    """The status for a routilux error (most specific class wins), else ``None``."""
    for cls in type(exc).__mro__:
        status = STATUS_BY_ERROR.get(cls)  # type: ignore[call-overload]
        if status is not None:
            return status
    return None


def error_response(exc: BaseException | None, status: int) -> tuple[int, dict[str, Any]]:
    """``(status, {"message", "detail"})`` for an exception raised while handling a request."""
    if isinstance(exc, RoutiluxError):
        mapped = status_for(exc)
        if mapped is not None:
            return mapped, {"message": exc.message, "detail": exc.detail}
        return 500, {"message": exc.message, "detail": exc.detail}
    if isinstance(exc, HTTPError):
        message = exc.log_message or exc.reason or responses.get(exc.status_code, "Error")
        if exc.args and exc.log_message:
            try:
                message = exc.log_message % exc.args
            except (TypeError, ValueError):
                pass
        return exc.status_code, {"message": message, "detail": None}
    if status < 500:
        return status, {"message": responses.get(status, "Error"), "detail": None}
    return 500, {"message": _GENERIC, "detail": None}
