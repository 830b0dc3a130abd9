"""Base class of the REST handlers: JSON in, the service called off the event loop, JSON out.

Handlers hold no logic. Service calls run on the extension's small thread pool because an owner
may block (a kernel owner waits for its kernel's answer, the history reads SQLite), and the event
loop must keep serving meanwhile, including the kernel connections those answers arrive on.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from tornado.ioloop import IOLoop
from tornado.web import HTTPError

from routilux.errors import RoutiluxError, ValidationError
from routilux.service import RoutiluxService
from routilux_jupyter.server.errors import error_response

__all__ = ["AUTH_RESOURCE", "RoutiluxAPIHandler", "decode_body", "dumps"]

AUTH_RESOURCE = "routilux"
T = TypeVar("T")


def decode_body(raw: bytes) -> Any:
    """The JSON value of a request body (``None`` when empty); 400 with the reason when malformed."""
    if not raw or not raw.strip():
        return None
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"The request body is not UTF-8 JSON: {exc.reason}.", detail={"field": None}
        ) from None
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"The request body is not valid JSON: {exc.msg} at line {exc.lineno} column "
            f"{exc.colno}.",
            detail={"field": None, "position": exc.pos},
        ) from None
    except RecursionError:
        # json.loads recurses per nesting level: "[[[[..." thousands deep is a client error,
        # not a 500 (found by the fuzz test).
        raise ValidationError(
            "The request body is nested too deeply to decode; no routilux request needs more "
            "than a few levels.",
            detail={"field": None},
        ) from None


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # "nan", "inf", "-inf": what jsonable() writes for them
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def dumps(data: Any) -> str:
    """JSON text of an answer. Python's json writes NaN and Infinity bare, which is not JSON
    (JSON.parse and strict parsers reject the whole body), so those become strings; values
    echoed from a request (error details) can hold them since json.loads accepts them."""
    try:
        return json.dumps(data, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(data), allow_nan=False)


class RoutiluxAPIHandler(APIHandler):
    """Shared plumbing of every routilux REST handler."""

    auth_resource = AUTH_RESOURCE

    @property
    def service(self) -> RoutiluxService:
        return self.settings["routilux_service"]

    @property
    def executor(self) -> Executor:
        return self.settings["routilux_executor"]

    def json_body(self) -> Any:
        return decode_body(self.request.body)

    def query(self) -> dict[str, str]:
        """Query parameters as a plain dict (the last value wins)."""
        return {key: self.get_query_argument(key) for key in self.request.query_arguments}

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a service method on the worker pool and return its result."""
        return await IOLoop.current().run_in_executor(self.executor, functools.partial(fn, *args))

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(dumps(data))

    def reply_empty(self) -> None:
        self.set_status(204)
        self.finish()

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Expected errors (bad input, unknown id, ...) are one log line; others get a traceback."""
        if isinstance(value, (RoutiluxError, HTTPError)):
            status, body = error_response(value, 500)
            if status < 500 or isinstance(value, HTTPError):
                self.log.info("routilux %s %s -> %s: %s", self.request.method,
                              self.request.path, status, body["message"])
                return
            self.log.warning("routilux %s %s -> %s: %s", self.request.method,
                             self.request.path, status, body["message"])
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error as ``{"message", "detail"}`` with the status from the one error table."""
        exc_info = kwargs.get("exc_info")
        exc = exc_info[1] if exc_info else None
        status, body = error_response(exc, status_code)
        if status != status_code:
            self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(dumps(body))
