"""Live job events over ``WS {prefix}/ws/jobs/{job_id}/monitor``, sync and async.

The server first replays the job's recent history, then streams live events, one JSON object per
message: ``{"type": "event", ...}`` or ``{"type": "gap", "dropped": n}`` when this reader fell
behind. Both iterators yield :class:`Event` and :class:`Gap` and stop after the job's terminal
event (completed, failed, cancelled or lost). A socket that closes before that raises
:class:`ServerUnreachableError`.

A job that has already ended is read from its trace instead of a socket: the server's live
replay buffer may have forgotten a long-finished job (or the server restarted since), and a
stream that will never carry the terminal event would otherwise wait forever.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from routilux_jupyter.client.errors import error_from_response, unreachable
from routilux.service.jsonable import MAX_ITEMS
from routilux_jupyter.client.models import TERMINAL_STATUSES, Event, Gap, _dicts
from routilux_jupyter.client.transport import Transport, segment

__all__ = ["AsyncJobWatch", "JobWatch"]

_INSTALL_HINT = ("watch() needs websocket-client: pip install 'routilux[client]' "
                 "(or pip install websocket-client), or use awatch() in async code.")


def _monitor_path(job_id: str) -> str:
    return f"ws/jobs/{segment(job_id)}/monitor"


def _decode(raw: str | bytes) -> Event | Gap | None:
    """The item a message carries (``None`` for message types this client does not know)."""
    message: Any = json.loads(raw)
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "event":
        return Event.from_dict(message)
    if kind == "gap":
        return Gap.from_dict(message)
    return None


def _ended_trace(transport: Transport, job_id: str) -> deque[Event] | None:
    """The events of a job that has ended, oldest first; ``None`` while it still runs.

    Also the existence check: an unknown job raises ``NotFoundError`` here.
    """
    job = transport.request("GET", f"jobs/{segment(job_id)}")
    if job.get("status") not in TERMINAL_STATUSES:
        return None
    # The last events, as the socket's replay would give: the server cuts a longer list after
    # its first MAX_ITEMS, which would lose the terminal event at the end.
    trace = transport.request("GET", f"jobs/{segment(job_id)}/trace", query={"limit": MAX_ITEMS})
    return deque(Event.from_dict(e) for e in _dicts(trace.get("events")))


def _timed_out(job_id: str, timeout: float | None) -> TimeoutError:
    return TimeoutError(f"No event from job {job_id!r} within {timeout} s (the job may be paused; "
                        "`routilux job ID` shows its status).")


class JobWatch:
    """Iterator over one job's events (sync, websocket-client); a context manager.

    The constructor checks the job (an unknown one raises ``NotFoundError`` at once) and opens
    the socket. ``timeout`` bounds the wait for each next message (``None``: as long as the job
    lives).
    """

    def __init__(self, transport: Transport, job_id: str, *, timeout: float | None = None) -> None:
        self.job_id = job_id
        self.timeout = timeout
        self.done = False
        self._ws: Any = None
        self._replay = _ended_trace(transport, job_id)
        if self._replay is not None:
            return
        try:
            import websocket  # websocket-client
        except ImportError:
            raise ImportError(_INSTALL_HINT) from None
        self._websocket = websocket
        url = transport.api_url(_monitor_path(job_id), scheme="ws")
        header = [f"{k}: {v}" for k, v in transport.headers.items()]
        try:
            self._ws = websocket.create_connection(url, header=header, timeout=transport.timeout)
        except websocket.WebSocketBadStatusException as exc:
            body = getattr(exc, "resp_body", None) or b""
            raise error_from_response(exc.status_code, body if isinstance(body, bytes)
                                      else str(body).encode(), "GET", url) from None
        except (OSError, websocket.WebSocketException) as exc:
            raise unreachable(f"Cannot open {url}: {exc}") from None
        self._ws.settimeout(timeout)

    def __iter__(self) -> Iterator[Event | Gap]:
        return self

    def __next__(self) -> Event | Gap:
        if self._replay is not None:
            if self.done or not self._replay:
                self.done = True
                raise StopIteration
            return self._replay.popleft()
        websocket = self._websocket
        while not self.done:
            try:
                raw = self._ws.recv()
            except websocket.WebSocketTimeoutException:
                self.close()
                raise _timed_out(self.job_id, self.timeout) from None
            except (OSError, websocket.WebSocketException) as exc:
                self.close()
                raise unreachable(f"The monitor socket of job {self.job_id!r} closed before the "
                                  f"job ended: {exc or 'connection lost'}.") from None
            if not raw:  # a close frame
                self.close()
                raise unreachable(f"The server closed the monitor socket of job {self.job_id!r} "
                                  "before the job ended.")
            item = _decode(raw)
            if item is None:
                continue
            if isinstance(item, Event) and item.is_terminal:
                self.close()
            return item
        raise StopIteration

    def close(self) -> None:
        """Close the socket; the iterator then ends."""
        self.done = True
        if self._ws is None:
            return
        try:
            self._ws.close()
        except Exception:  # already closed or broken: nothing left to release
            pass

    def __enter__(self) -> JobWatch:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class AsyncJobWatch:
    """Async iterator over one job's events (``async for``, tornado's websocket client).

    The job is checked and the socket opened on the first ``__anext__`` (or ``async with``);
    ``timeout`` bounds the wait for each next message.
    """

    def __init__(self, transport: Transport, job_id: str, *, timeout: float | None = None) -> None:
        self._transport = transport
        self.job_id = job_id
        self.timeout = timeout
        self.done = False
        self._conn: Any = None
        self._replay: deque[Event] | None = None
        self._opened = False

    async def _start(self) -> None:
        """Check the job (404 at once), then replay its trace or open the monitor socket."""
        import asyncio

        self._opened = True
        # Blocking urllib, so off the event loop.
        self._replay = await asyncio.to_thread(_ended_trace, self._transport, self.job_id)
        if self._replay is None:
            self._conn = await self._open()

    async def _open(self) -> Any:
        from tornado.httpclient import HTTPClientError, HTTPRequest
        from tornado.websocket import websocket_connect

        url = self._transport.api_url(_monitor_path(self.job_id), scheme="ws")
        request = HTTPRequest(url, headers=self._transport.headers,
                              connect_timeout=self._transport.timeout,
                              request_timeout=self._transport.timeout)
        try:
            return await websocket_connect(request)
        except HTTPClientError as exc:
            body = exc.response.body if exc.response is not None else b""
            raise error_from_response(exc.code, body or b"", "GET", url) from None
        except OSError as exc:
            raise unreachable(f"Cannot open {url}: {exc}") from None

    def __aiter__(self) -> AsyncJobWatch:
        return self

    async def __anext__(self) -> Event | Gap:
        import asyncio

        if not self._opened and not self.done:
            await self._start()
        if self._replay is not None:
            if self.done or not self._replay:
                self.done = True
                raise StopAsyncIteration
            return self._replay.popleft()
        while not self.done:
            try:
                raw = await asyncio.wait_for(self._conn.read_message(), self.timeout)
            except asyncio.TimeoutError:
                await self.aclose()
                raise _timed_out(self.job_id, self.timeout) from None
            if raw is None:  # tornado's way of saying the socket closed
                await self.aclose()
                raise unreachable(f"The server closed the monitor socket of job {self.job_id!r} "
                                  "before the job ended.")
            item = _decode(raw)
            if item is None:
                continue
            if isinstance(item, Event) and item.is_terminal:
                await self.aclose()
            return item
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Close the socket; the iterator then ends."""
        self.done = True
        if self._conn is not None:
            self._conn.close()

    async def __aenter__(self) -> AsyncJobWatch:
        if not self._opened:
            await self._start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()
