"""The kernel agent: a daemon thread that links this kernel to its Jupyter server's routilux API.

It dials the bridge WebSocket named by ``ROUTILUX_BRIDGE_URL`` (the secret goes in a request
header, never in the URL), announces the kernel (:class:`~routilux_jupyter.protocol.BridgeHello`),
then

* forwards every job event upward: one "all jobs" subscription on the monitoring event manager;
  when its queue turns non-empty the agent waits ``coalesce`` seconds (2 ms) for more to gather,
  then sends everything queued in batches of up to ``max_batch``: a few ms of latency at low
  rates, few messages at high rates (per-message cost is what limits both ends);
* forwards job starts and ends, flow-id changes and forgotten jobs (from the registration);
* answers :class:`~routilux_jupyter.protocol.OwnerRequest` messages by calling the same method
  of the kernel's ``LocalOwner`` on a small thread pool: never on the shell thread, so the API
  keeps working while a cell is busy (e.g. blocked in ``flow.execute()`` at a breakpoint);
* reconnects with exponential backoff (capped) when the connection drops, and announces again.

Everything network-related runs on the agent's own tornado IOLoop; other threads only call
``IOLoop.add_callback``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.ioloop import IOLoop
from tornado.websocket import WebSocketClientConnection, WebSocketClosedError, websocket_connect

from routilux.errors import RoutiluxError
from routilux.service.requests import (
    BreakpointPatch,
    BreakpointSpec,
    FlowCreate,
    JobStart,
    VariableEdit,
)
from routilux.service.timetravel import JobPatch, JobRerun
from routilux_jupyter.kernel.identity import KernelIdentity
from routilux_jupyter.kernel.registration import KernelRegistration
from routilux_jupyter.protocol import BRIDGE_CLOSE_SUPERSEDED, BRIDGE_SECRET_HEADER

__all__ = ["AgentStatus", "BridgeAgent", "OWNER_OPS"]

log = logging.getLogger("routilux.kernel.agent")

#: The Owner methods a server may call (anything else is refused).
OWNER_OPS = frozenset({
    "list_flows", "get_flow", "create_flow", "delete_flow",
    "list_jobs", "get_job", "start_job", "control_job", "get_metrics", "get_trace",
    "list_breakpoints", "add_breakpoint", "update_breakpoint", "remove_breakpoint",
    "debug_session", "debug_step", "get_variables", "set_variable", "get_call_stack",
    "rerun_job", "replay_job", "annotate_job", "get_run",
})
_MAX_MESSAGE = 64 * 1024 * 1024


@dataclass
class AgentStatus:
    """A snapshot for ``%routilux status``."""

    url: str
    notebook_path: str | None
    connected: bool
    connections: int
    events_sent: int
    events_dropped: int
    requests_answered: int
    last_error: str | None


def _decode_args(op: str, args: dict[str, Any]) -> dict[str, Any]:
    """JSON arguments -> the dataclasses the Owner methods take."""
    out = dict(args)
    if "request" in out:
        if op == "create_flow":
            out["request"] = FlowCreate(**out["request"])
        elif op == "start_job":
            raw = dict(out["request"])
            raw["breakpoints"] = tuple(BreakpointSpec(**b) for b in raw.get("breakpoints") or ())
            out["request"] = JobStart(**raw)
    if "spec" in out:
        out["spec"] = BreakpointSpec(**out["spec"])
    if "patch" in out:
        out["patch"] = BreakpointPatch(**out["patch"])
    if "edit" in out:
        out["edit"] = VariableEdit(**out["edit"])
    if "rerun" in out:
        out["rerun"] = JobRerun(**out["rerun"])
    if "job_patch" in out:
        out["patch"] = JobPatch(**out.pop("job_patch"))
    return out


def _error_class(exc: BaseException) -> str | None:
    """The routilux.errors class the server should raise again, ``None`` for other errors."""
    import routilux.errors as errors

    for cls in type(exc).__mro__:
        if cls.__module__ == errors.__name__ and issubclass(cls, RoutiluxError):
            return cls.__name__
    return None


class BridgeAgent:
    """Links this kernel's registration to a server's bridge; see the module docstring."""

    def __init__(
        self,
        url: str,
        secret: str,
        registration: KernelRegistration,
        identity: KernelIdentity,
        *,
        max_batch: int = 500,
        coalesce: float = 0.002,
        queue_size: int = 50_000,
        backoff_initial: float = 0.1,
        backoff_max: float = 3.0,
        workers: int = 4,
    ) -> None:
        self.url = url
        self._secret = secret
        self.registration = registration
        self.owner = registration.owner
        self.identity = identity
        self.max_batch = max_batch
        self.coalesce = coalesce
        self.queue_size = queue_size
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._workers = workers
        self._loop: IOLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping = False
        self._stop_event: asyncio.Event | None = None
        self._conn: WebSocketClientConnection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._sub: Any = None
        self._records: deque[dict[str, Any]] = deque(maxlen=10_000)
        self._records_lock = threading.Lock()
        self._flows_dirty = False
        self._flushing = False
        self._sent_seq: dict[str, int] = {}
        self.connected = threading.Event()
        self.connections = 0
        self.events_sent = 0
        self.events_dropped = 0
        self.requests_answered = 0
        self.last_error: str | None = None
        # The notebook path as the server knows it (from its sessions), after the welcome.
        self.notebook_path: str | None = identity.notebook_path

    # -- lifecycle (any thread) -----------------------------------------------------------------

    def start(self) -> None:
        """Start the agent thread (idempotent); returns once its loop runs."""
        if self._thread is not None:
            return
        em = self.registration.monitoring.event_manager
        self._sub = em.subscribe_all(self.queue_size, notify=self._notify)
        self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="routilux-agent")
        self.owner.sink = self
        self._thread = threading.Thread(target=self._run, name="routilux-bridge-agent",
                                        daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect and end the thread; the registration keeps working without it."""
        if self.owner.sink is self:
            self.owner.sink = None
        self._stopping = True
        loop = self._loop
        if loop is not None:
            try:
                loop.add_callback(self._request_stop)
            except RuntimeError:
                pass
        if self._thread is not None:
            self._thread.join(timeout)
        if self._sub is not None:
            self._sub.close()
            self._sub = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> AgentStatus:
        return AgentStatus(self.url, self.notebook_path, self.connected.is_set(),
                           self.connections, self.events_sent, self.events_dropped,
                           self.requests_answered, self.last_error)

    # -- RegistrationSink (engine, shell and pool threads) --------------------------------------

    def flows_changed(self) -> None:
        self._flows_dirty = True
        self._notify()

    def job_recorded(self, job: dict[str, Any], ended: bool) -> None:
        with self._records_lock:
            self._records.append({"type": "job", "job": job, "ended": ended})
        self._notify()

    def job_forgotten(self, job_id: str) -> None:
        with self._records_lock:
            self._records.append({"type": "job_forgotten", "job_id": job_id})
        self._notify()

    def _notify(self) -> None:
        loop = self._loop
        if loop is not None:
            try:
                loop.add_callback(self._kick)
            except RuntimeError:  # loop closed: the agent stopped
                pass

    # -- the agent thread ------------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        self._loop = IOLoop.current()
        try:
            self._loop.run_sync(self._main)
        except Exception:
            log.exception("routilux agent stopped on an error")
        finally:
            self.connected.clear()
            self._loop.close(all_fds=True)

    async def _main(self) -> None:
        self._stop_event = asyncio.Event()
        self._ready.set()
        delay = self.backoff_initial
        while not self._stopping:
            conn = await self._connect()
            if conn is not None:
                delay = self.backoff_initial
                await self._serve(conn)
                if conn.close_code == BRIDGE_CLOSE_SUPERSEDED:
                    # Another process claims this kernel id and the server chose it; retrying
                    # would only take it back and forth.
                    self._failed("another connection of this kernel replaced this one; stopped")
                    break
            if self._stopping:
                break
            # Exponential backoff with jitter, capped, woken early by stop().
            wait = delay * (0.75 + random.random() / 2)
            delay = min(delay * 2, self.backoff_max)
            try:
                await asyncio.wait_for(self._stop_event.wait(), wait)
            except asyncio.TimeoutError:
                pass

    def _request_stop(self) -> None:
        self._stopping = True
        if self._stop_event is not None:
            self._stop_event.set()
        conn = self._conn
        if conn is not None:
            conn.close()

    async def _connect(self) -> WebSocketClientConnection | None:
        request = HTTPRequest(self.url, headers={BRIDGE_SECRET_HEADER: self._secret},
                              connect_timeout=5, request_timeout=5)
        try:
            # Protocol pings let the server notice a vanished kernel even without a TCP reset.
            return await websocket_connect(request, ping_interval=10, ping_timeout=10,
                                           max_message_size=_MAX_MESSAGE)
        except HTTPClientError as exc:
            self._failed(f"the server refused the bridge connection (HTTP {exc.code})")
        except Exception as exc:
            self._failed(f"cannot reach the server: {type(exc).__name__}: {exc}")
        return None

    def _failed(self, message: str) -> None:
        if message != self.last_error:  # one log line per distinct problem, not per retry
            log.warning("routilux agent: %s; retrying", message)
        self.last_error = message

    async def _serve(self, conn: WebSocketClientConnection) -> None:
        # Cleared before the hello is built: a flow made while it is on its way marks it again.
        self._flows_dirty = False
        try:
            await conn.write_message(json.dumps(self._hello(), default=str))
        except WebSocketClosedError:
            return
        # Small event batches and replies must leave at once, not wait for Nagle + delayed ACK.
        conn.protocol.set_nodelay(True)
        self._conn = conn
        self.connections += 1
        self.last_error = None
        self.connected.set()
        self._kick()
        try:
            while True:
                raw = await conn.read_message()
                if raw is None:
                    break
                self._on_message(raw)
        finally:
            self._conn = None
            self.connected.clear()
            if not self._stopping:
                reason = conn.close_reason or "connection closed"
                self._failed(f"lost the server ({reason})")

    def _hello(self) -> dict[str, Any]:
        ident = self.identity
        return {
            "type": "hello", "kernel_id": ident.kernel_id, "instance_id": ident.instance_id,
            "notebook_path": ident.notebook_path, "pid": ident.pid,
            "flow_ids": self._flow_ids(), "jobs": self.owner.list_jobs(None, None),
        }

    def _flow_ids(self) -> list[str]:
        return sorted({flow.flow_id for flow in self.owner.flows.list_all()})

    # -- requests from the server ----------------------------------------------------------------

    def _on_message(self, raw: str | bytes) -> None:
        try:
            msg = json.loads(raw)
        except ValueError:
            log.warning("routilux agent: ignored a message that is not JSON")
            return
        if not isinstance(msg, dict):
            return
        kind = msg.get("type")
        if kind == "request" and self._executor is not None:
            self._executor.submit(self._answer, msg)
        elif kind == "welcome":
            path = msg.get("notebook_path")
            self.notebook_path = str(path) if path else self.notebook_path

    def _answer(self, msg: dict[str, Any]) -> None:
        """Run one OwnerRequest on a pool thread and send the OwnerReply."""
        request_id = msg.get("request_id")
        op = msg.get("op")
        reply: dict[str, Any] = {"type": "reply", "request_id": request_id}
        try:
            if op not in OWNER_OPS:
                raise RoutiluxError(f"The kernel agent does not know the operation {op!r}.")
            args = _decode_args(str(op), dict(msg.get("args") or {}))
            reply["result"] = getattr(self.owner, str(op))(**args)
            reply["ok"] = True
        except Exception as exc:
            reply["ok"] = False
            reply["error"] = {
                "error_class": _error_class(exc),
                "message": str(exc) if isinstance(exc, RoutiluxError)
                else f"{type(exc).__name__}: {exc}",
                "detail": getattr(exc, "detail", None),
            }
        text = json.dumps(reply, default=str)
        self.requests_answered += 1
        loop = self._loop
        if loop is not None:
            try:
                loop.add_callback(self._send_text, text)
            except RuntimeError:
                pass

    def _send_text(self, text: str) -> None:
        conn = self._conn
        if conn is None:
            return  # the server gave up on this request when the connection dropped
        try:
            conn.write_message(text)
        except WebSocketClosedError:
            pass

    # -- forwarding events and records (agent loop) ----------------------------------------------

    def _kick(self) -> None:
        if not self._flushing and self._conn is not None:
            self._flushing = True
            asyncio.ensure_future(self._flush())

    def _take_records(self) -> list[dict[str, Any]]:
        with self._records_lock:
            records = list(self._records)
            self._records.clear()
        return records

    async def _flush(self) -> None:
        conn = self._conn
        try:
            while conn is not None and conn is self._conn:
                if (self.coalesce and not self._records and not self._flows_dirty
                        and self._sub is not None and self._sub.qsize() < self.max_batch):
                    # Let a trickle gather for a moment: one message per ~2 ms instead of one
                    # per event keeps both ends' per-message cost (and the server's backlog)
                    # down at thousands of events per second, for ~2 ms of added latency.
                    await asyncio.sleep(self.coalesce)
                # Records first taken, then only the events already queued: a job's end record
                # is always sent after the events recorded before it (its job_completed too).
                records = self._take_records()
                flows = self._flows_dirty
                self._flows_dirty = False
                queued = self._sub.qsize() if self._sub is not None else 0
                if not records and not flows and not queued:
                    break
                try:
                    if flows:
                        await conn.write_message(
                            json.dumps({"type": "flows", "flow_ids": self._flow_ids()}))
                    while queued > 0:
                        items = self._sub.drain(min(queued, self.max_batch))
                        if not items:
                            break
                        queued -= len(items)
                        events = self._events_of(items)
                        if events:
                            await conn.write_message(
                                json.dumps({"type": "events", "events": events}, default=str))
                            self.events_sent += len(events)
                    while records:
                        await conn.write_message(json.dumps(self._record_message(records[0]),
                                                            default=str))
                        records.pop(0)
                except WebSocketClosedError:
                    with self._records_lock:  # keep them for the next connection
                        self._records.extendleft(reversed(records))
                    break
        finally:
            self._flushing = False
        if self._conn is not None and (self._records or self._flows_dirty or
                                       (self._sub is not None and self._sub.qsize())):
            self._kick()

    def _events_of(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        events = []
        sent = self._sent_seq
        for item in items:
            if item.get("type") == "gap":
                # Which jobs lost events is not known here; the server sees the holes in each
                # job's seq numbers and tells its subscribers there.
                self.events_dropped += int(item.get("dropped") or 0)
                continue
            job_id = item.get("job_id")
            seq = item.get("seq")
            if isinstance(job_id, str) and isinstance(seq, int):
                sent[job_id] = seq
            events.append(item)
        return events

    def _record_message(self, record: dict[str, Any]) -> dict[str, Any]:
        """A job end also carries final metrics and the events not forwarded live (if any)."""
        if record.get("type") != "job" or not record.get("ended"):
            return record
        job_id = record["job"].get("job_id")
        collector = self.registration.monitoring.monitor_collector
        metrics = collector.get_metrics(job_id)
        last = self._sent_seq.pop(job_id, 0)
        total = metrics.total_events if metrics is not None else 0
        tail: list[dict[str, Any]] = []
        if total > last:
            tail = [e.to_dict() for e in collector.get_execution_trace(job_id) if e.seq > last]
        return {**record, "metrics": metrics.to_dict() if metrics is not None else None,
                "trace": tail, "inputs": collector.inputs_producer(job_id)()}
