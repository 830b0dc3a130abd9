"""WebSocket handlers: live job and flow events, and an interactive debug session.

Authentication is Jupyter's (token header, ``?token=`` or login cookie; 403 otherwise, before the
upgrade); the monitors need ``read`` on ``routilux``, the debug socket ``execute``.

Events come from :class:`~routilux.monitoring.event_manager.JobEventManager` on worker threads.
The only thing that crosses into tornado is ``IOLoop.add_callback`` (its one thread-safe method),
and only when a subscriber's queue goes from empty to non-empty, so a burst costs one callback.
The pump then drains the queue in batches and waits for each batch to be flushed to the socket:
a slow client therefore backs up into its bounded subscription queue, where overflow becomes an
explicit ``{"type": "gap", "dropped": n}`` marker, never into unbounded server memory.

Messages (server -> client), one JSON object each:

* ``{"type": "event", ...ExecutionEvent}`` and ``{"type": "gap", "dropped": n}``;
* with ``?batch=1``: ``{"type": "batch", "events": [...]}`` carrying the items above, one
  message per drained batch (for high-rate consumers);
* ``/api/ws/jobs`` (every job): first ``{"type": "jobs", "jobs": [...], "total"}``, then the same
  event messages, by default only job status events;
* debug socket replies: ``{"type": "response", "id", "command", "ok": true, "result"}`` or
  ``{"type": "response", "id", "command", "ok": false, "status", "error": {message, detail}}``.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.ioloop import IOLoop
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from routilux.errors import ValidationError
from routilux.service import RoutiluxService
from routilux.service.requests import parse_job_query
from routilux_jupyter.server.base import AUTH_RESOURCE, decode_body
from routilux_jupyter.server.errors import error_response

__all__ = ["ws_routes"]

T = TypeVar("T")
# Items per drain: bounds one loop turn. Per-event mode pays a socket send per frame, so a smaller
# turn keeps the loop responsive; a batch message is one send, so it can carry more.
_DRAIN_EVENTS = 256
_DRAIN_BATCH = 2048
_dumps = functools.partial(json.dumps, separators=(",", ":"), default=str)


class _EventSocket(WebSocketMixin, WebSocketHandler, JupyterHandler):  # type: ignore[misc]
    """Authenticated socket that streams one subscription's events to its client."""

    auth_resource = AUTH_RESOURCE
    auth_action = "read"

    def initialize(self) -> None:
        self._sub: Any = None
        self._loop: IOLoop | None = None
        self._pumping = False
        self._batch = False
        self._closed = False
        self._ready = False  # events wait until opened() has sent what must come first

    def set_default_headers(self) -> None:
        """JupyterHandler's headers (CSP etc.) make no sense on a websocket upgrade."""

    @property
    def service(self) -> RoutiluxService:
        return self.settings["routilux_service"]

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        executor = self.settings["routilux_executor"]
        return await IOLoop.current().run_in_executor(executor, functools.partial(fn, *args))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Refused upgrades (403, 404) answer ``{"message", "detail"}`` like the REST routes."""
        exc_info = kwargs.get("exc_info")
        status, body = error_response(exc_info[1] if exc_info else None, status_code)
        if status != status_code:
            self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        status, body = error_response(value, 500)
        if status < 500:
            self.log.info("routilux ws %s -> %s: %s", self.request.path, status, body["message"])
            return
        super().log_exception(typ, value, tb)

    async def _authorize(self) -> None:
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, self.auth_action, AUTH_RESOURCE)
        )
        if not allowed:
            raise web.HTTPError(403, f"Not authorized to {self.auth_action} on {AUTH_RESOURCE}.")

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        """Authorize and check the target exists (404 otherwise) before upgrading."""
        await self._authorize()
        await self.check_target(*args)
        self._batch = self.get_query_argument("batch", "0") in ("1", "true", "yes")
        result = super().get(*args, **kwargs)
        if result is not None:
            await result

    async def check_target(self, *args: str) -> None:
        """Raise a routilux error when the job or flow named in the URL does not exist."""

    def subscribe(self, notify: Callable[[], None], queue_size: int) -> Any:
        """Create the subscription (runs on the worker pool)."""
        raise NotImplementedError

    def select(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The drained items this socket sends (all of them unless a subclass narrows it)."""
        return items

    async def open(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().open()  # starts Jupyter's keep-alive pings
        # Small event frames must leave at once: with Nagle on, each waits for the client's
        # delayed ACK (up to 40 ms), which dominated event -> client latency (bench bridge).
        self.set_nodelay(True)
        self._loop = IOLoop.current()
        queue_size = self.settings.get("routilux_ws_queue_size", 5000)
        self._sub = await self.call(self.subscribe, self._notify, queue_size)
        if self._closed:  # the peer left while we were subscribing
            self._sub.close()
            return
        await self.opened()
        self._ready = True
        self._kick()

    async def opened(self) -> None:
        """Send what precedes the events (subscribed already, so nothing falls in between)."""

    # -- from worker threads --------------------------------------------------------------
    def _notify(self) -> None:
        loop = self._loop
        if loop is not None:
            loop.add_callback(self._kick)

    # -- on the event loop ----------------------------------------------------------------
    def _kick(self) -> None:
        if self._ready and not self._pumping and self._sub is not None and not self._closed:
            self._pumping = True
            asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        try:
            while not self._closed:
                drained = self._sub.drain(_DRAIN_BATCH if self._batch else _DRAIN_EVENTS)
                if not drained:
                    break
                items = self.select(drained)
                if not items:
                    continue
                if self._batch:
                    await self.write_message(_dumps({"type": "batch", "events": items}))
                else:
                    last = None
                    for item in items:
                        last = self.write_message(_dumps(item))
                    await last  # flushed: only now take more from the bounded queue
        except WebSocketClosedError:
            # The peer vanished without a close handshake: on_close may never run.
            self.log.debug("routilux ws %s: peer gone, dropping subscriber", self.request.path)
            self._drop()
        finally:
            self._pumping = False

    def _drop(self) -> None:
        self._closed = True
        sub, self._sub = self._sub, None
        if sub is not None:
            sub.close()

    def on_close(self) -> None:
        self._drop()

    def send_json(self, message: dict[str, Any]) -> None:
        try:
            self.write_message(json.dumps(message))
        except WebSocketClosedError:
            self._drop()


class JobMonitorSocket(_EventSocket):
    """``WS /api/ws/jobs/{job_id}/monitor``: the job's recent history, then its live events."""

    async def check_target(self, job_id: str) -> None:  # type: ignore[override]
        self.job_id = job_id
        await self.call(self.service.get_job, job_id)

    def subscribe(self, notify: Callable[[], None], queue_size: int) -> Any:
        return self.service.subscribe_job(self.job_id, notify, queue_size)


class FlowMonitorSocket(_EventSocket):
    """``WS /api/ws/flows/{flow_id}/monitor``: live events of every job of the flow."""

    async def check_target(self, flow_id: str) -> None:  # type: ignore[override]
        self.flow_id = flow_id
        self.service_flow = await self.call(self.service.get_flow, flow_id, None)

    def subscribe(self, notify: Callable[[], None], queue_size: int) -> Any:
        return self.service.subscribe_flow(self.flow_id, notify, queue_size)


_JOB_QUERY = ("flow_id", "status", "limit", "offset")
# What a job list needs to stay current: one message per status change, not per activation.
_JOB_EVENTS = frozenset({
    "job_start", "job_paused", "job_resumed", "job_completed", "job_failed", "job_cancelled",
    "job_lost", "breakpoint_hit",
})


class JobsMonitorSocket(_EventSocket):
    """``WS /api/ws/jobs``: the job list, then status events of every job (server and kernels).

    The first message is ``{"type": "jobs", "jobs": [...], "total"}``, the answer of
    ``GET /api/jobs`` (same ``?flow_id=&status=&limit=&offset=``) taken after the subscription
    started, so a client that applies the events after it misses no change. By default only
    ``job_*`` and ``breakpoint_hit`` events (and gap markers) follow, a few messages per job;
    ``?events=all`` sends every event of every job.
    """

    async def check_target(self) -> None:  # type: ignore[override]
        self.everything = self.get_query_argument("events", "job") == "all"
        self.jobs_query = {key: self.get_query_argument(key) for key in _JOB_QUERY
                           if self.get_query_argument(key, None) is not None}
        parse_job_query(self.jobs_query)  # a bad ?limit= is a 400 before the upgrade

    async def opened(self) -> None:
        jobs = await self.call(self.service.list_jobs, self.jobs_query)
        self.send_json({"type": "jobs", **jobs})

    def subscribe(self, notify: Callable[[], None], queue_size: int) -> Any:
        return self.service.subscribe_all(notify, queue_size)

    def select(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.everything:
            return items
        return [i for i in items if i.get("type") != "event" or i.get("event_type") in _JOB_EVENTS]


_DEBUG_COMMANDS: dict[str, str] = {
    "step_over": "step",
    "step_into": "step",
    "step_out": "step",
    "continue": "step",
    "resume": "step",
    "pause": "control",
    "cancel": "control",
    "get_variables": "variables",
    "set_variable": "set_variable",
    "get_call_stack": "call_stack",
    "get_session": "session",
}


class JobDebugSocket(JobMonitorSocket):
    """``WS /api/ws/jobs/{job_id}/debug``: the job's events plus request/response commands.

    Client messages: ``{"command": NAME, "id"?: any, ...args}`` with NAME one of ``step_over,
    step_into, step_out, continue, get_variables, set_variable {name, value, scope?},
    get_call_stack`` (plus ``resume, pause, cancel, get_session``; hyphens accepted). Each gets
    exactly one ``{"type": "response", ...}`` carrying the same ``id``.
    """

    auth_action = "execute"

    async def on_message(self, message: str | bytes) -> None:  # type: ignore[override]
        request: Any = None
        command = None
        try:
            request = decode_body(message.encode() if isinstance(message, str) else message)
            if not isinstance(request, dict) or not isinstance(request.get("command"), str):
                raise ValidationError(
                    "A debug message is a JSON object with a 'command' string, e.g. "
                    '{"command": "step_over", "id": 1}.',
                    detail={"field": "command"},
                )
            command = request["command"].replace("-", "_")
            result = await self.call(self._run, command, request)
        except Exception as exc:  # every command gets an answer, errors included
            status, body = error_response(exc, 500)
            if status >= 500:
                self.log.error("routilux debug command failed", exc_info=exc)
            self.send_json({
                "type": "response", "id": _request_id(request), "command": command,
                "ok": False, "status": status, "error": body,
            })
            return
        self.send_json({
            "type": "response", "id": _request_id(request), "command": command,
            "ok": True, "result": result,
        })

    def _run(self, command: str, request: dict[str, Any]) -> Any:
        kind = _DEBUG_COMMANDS.get(command)
        service, job_id = self.service, self.job_id
        if kind == "step":
            return service.debug_step(job_id, command)
        if kind == "control":
            return service.control_job(job_id, command)
        if kind == "variables":
            return service.get_variables(job_id)
        if kind == "call_stack":
            return service.get_call_stack(job_id)
        if kind == "session":
            return service.debug_session(job_id)
        if kind == "set_variable":
            name = request.get("name")
            if not isinstance(name, str):
                raise ValidationError(
                    "'set_variable' needs 'name' (a string) and 'value'.", detail={"field": "name"}
                )
            body = {k: v for k, v in request.items() if k in ("value", "scope")}
            return service.set_variable(job_id, name, body)
        raise ValidationError(
            f"Unknown debug command {command!r}; use one of {', '.join(_DEBUG_COMMANDS)}.",
            detail={"field": "command"},
        )


def _request_id(request: Any) -> Any:
    return request.get("id") if isinstance(request, dict) else None


def ws_routes(prefix: str) -> list[tuple[str, type, dict[str, Any]]]:
    """The WebSocket routes under ``prefix`` (relative to the server's base_url)."""
    p = prefix.strip("/")
    p = f"{p}/" if p else ""
    return [
        (f"{p}ws/jobs/([^/]+)/monitor", JobMonitorSocket, {}),
        (f"{p}ws/jobs/([^/]+)/debug", JobDebugSocket, {}),
        (f"{p}ws/flows/([^/]+)/monitor", FlowMonitorSocket, {}),
        (f"{p}ws/jobs/?", JobsMonitorSocket, {}),
    ]
