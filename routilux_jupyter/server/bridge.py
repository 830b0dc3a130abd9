"""The server end of the kernel bridge: the WebSocket kernels dial, and its set-up.

:class:`KernelBridge` (made by the extension) creates a per-server secret, puts it and the bridge
URL into ``os.environ`` so kernels the server starts inherit them, and serves
``{base_url}routilux/bridge``. A connection must present the secret in the
``X-Routilux-Bridge-Secret`` header (compared in constant time); anything else gets 403 before the
upgrade. The secret never appears in a URL or a log line. What connections do is the business of
:class:`~routilux_jupyter.server.kernel_registry.KernelRegistry`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Awaitable
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.ioloop import IOLoop
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from routilux.service import RoutiluxService
from routilux_jupyter.protocol import (
    BRIDGE_PATH,
    BRIDGE_SECRET_ENV,
    BRIDGE_SECRET_HEADER,
    BRIDGE_URL_ENV,
)
from routilux_jupyter.server.kernel_registry import KernelConnection, KernelRegistry

__all__ = ["BridgeSocket", "KernelBridge"]

_MAX_MESSAGE = 64 * 1024 * 1024
_HELLO_TIMEOUT = 10.0


class BridgeSocket(WebSocketHandler):
    """``{base_url}routilux/bridge``: one kernel agent's connection (secret header required)."""

    def initialize(self, registry: KernelRegistry) -> None:
        self.registry = registry
        self.conn: KernelConnection | None = None
        self._loop: IOLoop | None = None
        self._hello_timer: Any = None

    # Protocol pings: a kernel that vanished without a TCP reset is noticed within ~20 s; a
    # killed kernel's socket closes at once (the usual case). Generous, because a kernel busy in
    # C code that holds the GIL answers pings late, and "lost" must not be a false alarm.
    @property
    def ping_interval(self) -> float:
        return 10.0

    @property
    def ping_timeout(self) -> float:
        return 10.0

    @property
    def max_message_size(self) -> int:
        return _MAX_MESSAGE

    def check_origin(self, origin: str) -> bool:
        return False  # only called when an Origin header exists: browsers are never agents

    @allow_unauthenticated  # authenticated by the bridge secret, not by a Jupyter token
    async def get(self, *args: Any, **kwargs: Any) -> None:
        if not self.registry.check_secret(self.request.headers.get(BRIDGE_SECRET_HEADER)):
            raise web.HTTPError(403, "routilux bridge: missing or wrong secret")
        await super().get(*args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:
        self._loop = IOLoop.current()
        self.set_nodelay(True)  # small event batches must not wait for Nagle
        self._hello_timer = self._loop.call_later(_HELLO_TIMEOUT, self._no_hello)

    def _no_hello(self) -> None:
        if self.conn is None:
            self.close(4000, "no hello")

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:  # type: ignore
        # Synchronous except for the hello: a coroutine per message would cost a loop turn each.
        try:
            msg = json.loads(message)
        except ValueError:
            self.registry.log.warning("routilux bridge: a kernel sent a message that is not JSON")
            return None
        if not isinstance(msg, dict):
            return None
        if self.conn is None:
            return self._hello(msg)
        try:
            self.registry.message(self.conn, msg)
        except Exception:
            self.registry.log.exception("routilux bridge: failed to handle a %r message",
                                        msg.get("type"))
        return None

    async def _hello(self, msg: dict[str, Any]) -> None:
        if msg.get("type") != "hello":
            self.close(4001, "the first message must be a hello")
            return
        try:
            conn = await self.registry.hello(self, msg)
        except ValueError as exc:
            self.close(4002, str(exc))
            return
        if self._hello_timer is not None and self._loop is not None:
            self._loop.remove_timeout(self._hello_timer)
        self.conn = conn
        if self.ws_connection is None:  # it closed while we were registering it
            self.registry.closed(conn, "connection closed")
            return
        # Tell the agent how the server sees it (the notebook path comes from the sessions).
        self.write_message(json.dumps({"type": "welcome", **conn.owner.info.to_dict()}))

    def on_close(self) -> None:
        if self._hello_timer is not None and self._loop is not None:
            self._loop.remove_timeout(self._hello_timer)
        if self.conn is not None:
            code = self.close_code
            reason = "the kernel process ended or its agent stopped"
            if code not in (None, 1000, 1001):
                reason = f"connection closed (code {code})"
            self.registry.closed(self.conn, reason)

    def send_threadsafe(self, text: str) -> None:
        """Queue ``text`` for the kernel from any thread."""
        loop = self._loop
        if loop is None:
            raise WebSocketClosedError()
        loop.add_callback(self._write, text)

    def _write(self, text: str) -> None:
        try:
            self.write_message(text)
        except WebSocketClosedError:
            pass  # on_close fails the waiting request


class KernelBridge:
    """The extension's side of the bridge: secret, environment, route, registry."""

    def __init__(
        self,
        service: RoutiluxService,
        serverapp: Any,
        *,
        history: Any = None,
        events: Any = None,
        request_timeout: float = 10.0,
        bridge_url: str = "",
        log: logging.Logger | None = None,
    ) -> None:
        self.serverapp = serverapp
        self.log = log or logging.getLogger("routilux.bridge")
        self._configured_url = bridge_url
        self.registry = KernelRegistry(
            service, history=history, events=events, request_timeout=request_timeout,
            session_path=self._session_path, log=self.log,
        )
        self.url: str | None = None

    def routes(self) -> list[tuple[str, type, dict[str, Any]]]:
        """The bridge route, relative to base_url and outside the API prefix."""
        return [(BRIDGE_PATH, BridgeSocket, {"registry": self.registry})]

    def start(self) -> None:
        """Put the secret in the environment now, the URL once the port is known."""
        os.environ[BRIDGE_SECRET_ENV] = self.registry.secret
        # With --port=0 the real port is chosen in init_httpserver, after extensions load; the
        # first loop turn comes after that and before any request, hence before any kernel.
        self.serverapp.io_loop.add_callback(self.publish_url)

    def publish_url(self) -> None:
        url = self._configured_url or self._derive_url()
        if not url:
            self.log.warning("routilux: kernel bridge off (the server listens on a unix socket; "
                             "set RoutiluxExtension.bridge_url to enable it)")
            return
        self.url = url
        os.environ[BRIDGE_URL_ENV] = url
        self.log.info("routilux: kernel bridge at %s", url)

    def _derive_url(self) -> str | None:
        app = self.serverapp
        if getattr(app, "sock", ""):
            return None
        host = str(app.ip or "")
        if host in ("", "0.0.0.0", "*", "localhost"):
            host = "127.0.0.1"
        elif host == "::":
            host = "[::1]"
        elif ":" in host and not host.startswith("["):
            host = f"[{host}]"
        scheme = "wss" if getattr(app, "certfile", "") else "ws"
        path = url_path_join(app.base_url or "/", BRIDGE_PATH)
        return f"{scheme}://{host}:{app.port}{path}"

    async def _session_path(self, kernel_id: str) -> str | None:
        manager = getattr(self.serverapp, "session_manager", None)
        if manager is None:
            return None
        for session in await manager.list_sessions():
            if (session.get("kernel") or {}).get("id") == kernel_id:
                return session.get("path")
        return None

    def close(self) -> None:
        self.registry.close()
        if os.environ.get(BRIDGE_SECRET_ENV) == self.registry.secret:
            os.environ.pop(BRIDGE_SECRET_ENV, None)
            if self.url is not None and os.environ.get(BRIDGE_URL_ENV) == self.url:
                os.environ.pop(BRIDGE_URL_ENV, None)
