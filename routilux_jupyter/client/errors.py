"""The client's errors: HTTP statuses back to routilux's error classes, plus "no server".

::

    RoutiluxError                       (routilux.errors) anything the server refused with 4xx/5xx
    ├── ValidationError      400        bad input; the message names the field
    ├── NotFoundError        404        unknown flow, job, breakpoint or route
    ├── AmbiguousError       409        a flow id held by several kernels (detail lists them)
    ├── InvalidStateError    409        wrong state, e.g. step while the job is running
    ├── OwnerUnavailableError 503       the kernel that owns the job is gone
    │   └── OwnerTimeoutError 504       ... or did not answer in time
    ├── ServerNotFoundError             (here) discovery found no routilux server to talk to
    └── ServerUnreachableError          (here) the server did not answer or dropped the connection

The server's error table (``routilux_jupyter.server.errors``) maps the same classes to the same
statuses, so a script sees the exception the service raised. Every raised error carries the
server's ``message`` and ``detail`` and has ``status`` (the HTTP status, ``None`` when no answer
came).
"""

from __future__ import annotations

import json
from typing import Any

from routilux.errors import (
    AmbiguousError,
    InvalidStateError,
    NotFoundError,
    OwnerTimeoutError,
    OwnerUnavailableError,
    RoutiluxError,
    ValidationError,
)

__all__ = ["ServerNotFoundError", "ServerUnreachableError", "error_from_response"]

_BY_STATUS: dict[int, type[RoutiluxError]] = {
    400: ValidationError,
    404: NotFoundError,
    409: InvalidStateError,
    503: OwnerUnavailableError,
    504: OwnerTimeoutError,
}


class ServerNotFoundError(RoutiluxError, LookupError):
    """No Jupyter server with routilux was found; the message says how to point at one."""


class ServerUnreachableError(RoutiluxError, ConnectionError):
    """The server did not answer, refused the connection, or closed a socket mid-stream."""


def error_from_response(status: int, raw: bytes, method: str, url: str) -> RoutiluxError:
    """The routilux error for an HTTP error answer, carrying the server's reason.

    The body is the server's ``{"message", "detail"}``; anything else (a proxy's HTML page) is
    summarised so the caller still learns the status and where it came from.
    """
    message, detail = _reason(raw)
    if status in (401, 403):
        message = (f"{message or 'Forbidden'} (HTTP {status} from {url}): the token was refused "
                   "or lacks permission; pass the server's token (--token, ROUTILUX_TOKEN, or "
                   "the ?token= of the URL `jupyter server list` prints).")
    elif not message:
        message = (f"{method} {url} answered HTTP {status} without a routilux error body; is "
                   "this a Jupyter server with routilux, and is the API prefix right?")
    cls = _BY_STATUS.get(status, RoutiluxError)
    # 409 is shared by two classes; the server tells them apart by listing candidates.
    if status == 409 and isinstance(detail, dict) and "candidates" in detail:
        cls = AmbiguousError
    error = cls(message, detail=detail)
    error.status = status  # type: ignore[attr-defined]  # for callers that branch on the code
    return error


def unreachable(message: str) -> ServerUnreachableError:
    """A :class:`ServerUnreachableError` with ``status = None`` (no answer came)."""
    error = ServerUnreachableError(message)
    error.status = None  # type: ignore[attr-defined]
    return error


def _reason(raw: bytes) -> tuple[str, Any]:
    try:
        body = json.loads(raw.decode("utf-8", errors="replace")) if raw else None
    except ValueError:  # an HTML error page (wrong prefix, a proxy): not a reason to quote
        return "", None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"], body.get("detail")
    return "", body
