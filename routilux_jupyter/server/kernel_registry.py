"""The registry of kernels connected over the bridge, and what their messages do in the server.

* ``hello`` -> a :class:`~routilux_jupyter.server.kernel_owner.KernelOwner` added to the service.
  A hello from a new process of a known kernel (restart: same kernel id, new instance id) first
  closes out the old process: its unfinished jobs become ``lost``.
* ``events`` -> published to the server's ``JobEventManager`` (so the monitor WebSockets work for
  kernel jobs exactly as for server jobs) and written to the SQLite history as they arrive (so a
  trace outlives its kernel). Holes in a job's ``seq`` numbers (events the agent had to drop)
  become explicit ``{"type": "gap", "dropped": n}`` markers for subscribers.
* ``job`` records -> the history (start, end with final metrics); ``flows`` -> the routing table.
* close -> the owner answers 503 at once; after ``lost_grace`` seconds without the same process
  coming back, its unfinished jobs are recorded ``lost``; after ``unavailable_grace`` seconds the
  owner leaves the service.

Everything here runs on the server's event loop; only ``KernelOwner.request`` runs on workers.
"""

from __future__ import annotations

import datetime
import hmac
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from tornado.ioloop import IOLoop

from routilux.service import RoutiluxService
from routilux.service.owner import OwnerInfo
from routilux_jupyter.protocol import BRIDGE_CLOSE_SUPERSEDED
from routilux_jupyter.server.kernel_owner import KernelOwner

if TYPE_CHECKING:
    from routilux_jupyter.server.bridge import BridgeSocket

__all__ = ["KernelConnection", "KernelRegistry"]

_TERMINAL = frozenset({"completed", "failed", "cancelled", "lost"})
_STATUS_OF_EVENT = {
    "job_start": "running", "job_paused": "paused", "job_resumed": "running",
    "job_completed": "completed", "job_failed": "failed", "job_cancelled": "cancelled",
}
_MAX_TRACKS = 20_000


def _now_iso() -> str:
    # "Z", like every other time routilux reports (job fields, metrics, traces)
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class _JobTrack:
    """What the server knows of one kernel job between its events."""

    kernel_id: str
    instance_id: str
    flow_id: str | None
    last_seq: int = 0
    status: str = "running"


@dataclass
class KernelConnection:
    """One live bridge connection (one kernel process)."""

    socket: BridgeSocket
    owner: KernelOwner
    kernel_id: str
    instance_id: str
    pid: int | None
    connected_at: float
    closed: bool = False
    superseded: bool = False
    timers: list[Any] = field(default_factory=list)


class KernelRegistry:
    """Connected kernels, their owners in the service, and their jobs' live streams and history."""

    def __init__(
        self,
        service: RoutiluxService,
        *,
        history: Any = None,
        events: Any = None,
        request_timeout: float = 10.0,
        lost_grace: float = 1.0,
        unavailable_grace: float = 60.0,
        session_path: Callable[[str], Awaitable[str | None]] | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.service = service
        self.store = getattr(history, "store", None)
        self.events = events if events is not None else service.events
        self.request_timeout = request_timeout
        self.lost_grace = lost_grace
        self.unavailable_grace = unavailable_grace
        self._session_path = session_path
        self.log = log or logging.getLogger("routilux.bridge")
        self.connections: dict[str, KernelConnection] = {}
        self._gone: dict[str, KernelConnection] = {}  # unavailable, kept for 503s
        self.tracks: OrderedDict[str, _JobTrack] = OrderedDict()
        self.secret = secrets.token_urlsafe(32)

    # -- authentication -------------------------------------------------------------------------

    def check_secret(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(
            presented.encode("utf-8", "replace"), self.secret.encode("utf-8"))

    # -- connection lifecycle ----------------------------------------------------------------

    async def hello(self, socket: BridgeSocket, msg: dict[str, Any]) -> KernelConnection:
        kernel_id = str(msg.get("kernel_id") or "")
        instance_id = str(msg.get("instance_id") or "")
        if not kernel_id or not instance_id:
            raise ValueError("hello needs kernel_id and instance_id")
        notebook = await self._notebook_path(kernel_id, msg.get("notebook_path"))
        loop = IOLoop.current()
        info = OwnerInfo("kernel", kernel_id, notebook)
        owner = KernelOwner(info, socket.send_threadsafe, instance_id=instance_id,
                            timeout=self.request_timeout, loop_thread=threading.get_ident())
        conn = KernelConnection(socket, owner, kernel_id, instance_id, msg.get("pid"),
                                loop.time())
        previous = (self.connections.pop(kernel_id, None), self._gone.pop(kernel_id, None))
        self.connections[kernel_id] = conn
        for old in previous:
            if old is not None:
                self._replace(old, conn)
        owner.set_flow_ids([str(f) for f in msg.get("flow_ids") or ()])
        for job in msg.get("jobs") or ():
            self._job_record(conn, {"job": job, "ended": str(job.get("status")) in _TERMINAL})
        self.service.add_owner(owner)
        self.log.info("routilux: kernel %s connected (%s, pid %s)", kernel_id,
                      notebook or "no notebook", msg.get("pid"))
        return conn

    def _replace(self, old: KernelConnection, new: KernelConnection) -> None:
        """A kernel id says hello again: same process (reconnect) or a new one (restart)."""
        for timer in old.timers:
            IOLoop.current().remove_timeout(timer)
        old.timers.clear()
        old.superseded = True
        old.owner.disconnect("a newer connection of the same kernel replaced it")
        self.service.remove_owner(old.owner)
        if old.instance_id != new.instance_id:
            self._mark_lost(old, f"kernel {old.kernel_id} restarted")
        if not old.closed:
            old.socket.close(BRIDGE_CLOSE_SUPERSEDED,
                             "replaced by a newer connection of the same kernel")

    async def _notebook_path(self, kernel_id: str, announced: Any) -> str | None:
        if self._session_path is not None:
            try:
                path = await self._session_path(kernel_id)
            except Exception:
                path = None
            if path:
                return path
        return str(announced) if announced else None

    def closed(self, conn: KernelConnection, reason: str) -> None:
        """The socket closed: 503 now, jobs lost after ``lost_grace``, owner gone later."""
        conn.closed = True
        if conn.superseded or self.connections.get(conn.kernel_id) is not conn:
            return
        del self.connections[conn.kernel_id]
        self._gone[conn.kernel_id] = conn
        conn.owner.disconnect(reason)
        self.log.warning("routilux: kernel %s disconnected (%s)", conn.kernel_id, reason)
        loop = IOLoop.current()
        conn.timers.append(loop.call_later(self.lost_grace, self._mark_lost, conn, reason))
        conn.timers.append(loop.call_later(self.unavailable_grace, self._forget, conn))

    def _forget(self, conn: KernelConnection) -> None:
        if self._gone.get(conn.kernel_id) is conn:
            del self._gone[conn.kernel_id]
            self.service.remove_owner(conn.owner)

    def _mark_lost(self, conn: KernelConnection, reason: str) -> None:
        """Record every unfinished job of that process as ``lost`` and tell its subscribers."""
        if self.connections.get(conn.kernel_id) is not None and \
                self.connections[conn.kernel_id].instance_id == conn.instance_id:
            return  # the same process came back in time: nothing was lost
        now = _now_iso()
        error = (f"The kernel that ran this job ({conn.kernel_id}) went away before it finished "
                 f"({reason}).")
        lost = []
        for job_id, track in self.tracks.items():
            if track.kernel_id != conn.kernel_id or track.instance_id != conn.instance_id:
                continue
            if track.status in _TERMINAL:
                continue
            track.status = "lost"
            track.last_seq += 1
            lost.append(job_id)
            event = {
                "type": "event", "event_id": f"{job_id}:{track.last_seq}", "seq": track.last_seq,
                "job_id": job_id, "flow_id": track.flow_id, "routine_id": None,
                "event_type": "job_lost", "timestamp": now, "data": {}, "duration": None,
                "status": "lost", "error": error,
            }
            if self.store is not None:
                self.store.record_job({"job_id": job_id, "status": "lost", "error": error,
                                       "completed_at": now, "updated_at": now})
                self.store.record_events(job_id, [event])
            self._publish(job_id, track.flow_id, event)
        if lost:
            self.log.warning("routilux: %d job(s) of kernel %s marked lost", len(lost),
                             conn.kernel_id)

    def close(self) -> None:
        """Server shutdown: drop every connection (kernels reconnect to a new server, if any)."""
        for conn in list(self.connections.values()) + list(self._gone.values()):
            for timer in conn.timers:
                IOLoop.current().remove_timeout(timer)
            conn.superseded = True  # its on_close must not schedule anything any more
            conn.owner.disconnect("the server is shutting down")
            self.service.remove_owner(conn.owner)
            if not conn.closed:
                conn.socket.close(1001, "server shutting down")
        self.connections.clear()
        self._gone.clear()

    # -- messages from a kernel ----------------------------------------------------------------

    def message(self, conn: KernelConnection, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "reply":
            conn.owner.deliver(msg)
        elif kind == "events":
            self._events(conn, msg.get("events") or [])
        elif kind == "job":
            self._job_record(conn, msg)
        elif kind == "flows":
            conn.owner.set_flow_ids([str(f) for f in msg.get("flow_ids") or ()])
        elif kind == "job_forgotten":
            conn.owner.forget_job(str(msg.get("job_id")))
        else:
            self.log.debug("routilux: ignored bridge message of type %r", kind)

    def _track(self, conn: KernelConnection, job_id: str, flow_id: Any) -> _JobTrack:
        track = self.tracks.get(job_id)
        if track is None:
            track = self.tracks[job_id] = _JobTrack(conn.kernel_id, conn.instance_id,
                                                    flow_id if isinstance(flow_id, str) else None)
            if len(self.tracks) > _MAX_TRACKS:
                self._prune_tracks()
        elif track.instance_id != conn.instance_id:
            track.kernel_id, track.instance_id = conn.kernel_id, conn.instance_id
        return track

    def _prune_tracks(self) -> None:
        for job_id in [j for j, t in self.tracks.items() if t.status in _TERMINAL]:
            del self.tracks[job_id]
            if len(self.tracks) <= _MAX_TRACKS // 2:
                return

    def _publish(self, job_id: str, flow_id: str | None, item: dict[str, Any]) -> None:
        if self.events is not None:
            self.events.publish(job_id, item, flow_id)

    def _accept(self, track: _JobTrack, job_id: str, event: dict[str, Any]) -> bool:
        """Publish one event in seq order, announcing any hole before it; False if a repeat."""
        seq = event.get("seq")
        if isinstance(seq, int):
            if seq <= track.last_seq:
                return False
            if seq > track.last_seq + 1:
                self._publish(job_id, track.flow_id,
                              {"type": "gap", "dropped": seq - track.last_seq - 1})
            track.last_seq = seq
        status = _STATUS_OF_EVENT.get(str(event.get("event_type")))
        if status is not None and track.status != "lost":
            track.status = status
        self._publish(job_id, track.flow_id, event)
        return True

    def _events(self, conn: KernelConnection, events: list[dict[str, Any]]) -> None:
        by_job: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            job_id = event.get("job_id")
            if not isinstance(job_id, str):
                continue
            track = self._track(conn, job_id, event.get("flow_id"))
            if self._accept(track, job_id, event):
                by_job.setdefault(job_id, []).append(event)
        if self.store is not None:
            for job_id, batch in by_job.items():
                self.store.record_events(job_id, batch)

    def _job_record(self, conn: KernelConnection, msg: dict[str, Any]) -> None:
        job = dict(msg.get("job") or {})
        job_id = job.get("job_id")
        if not isinstance(job_id, str):
            return
        job["owner"] = conn.owner.info.to_dict()
        track = self._track(conn, job_id, job.get("flow_id"))
        conn.owner.add_job_ids([job_id])
        if msg.get("ended"):
            # Events the agent could not forward live: fill them in from the kernel's trace
            # where it still has them, and mark the rest as a gap, so every subscriber's count
            # adds up to the job's total.
            tail = [e for e in msg.get("trace") or () if isinstance(e, dict)]
            tail.sort(key=lambda e: e.get("seq") or 0)
            accepted = [e for e in tail if self._accept(track, job_id, e)]
            metrics = msg.get("metrics")
            total = metrics.get("total_events") if isinstance(metrics, dict) else None
            if isinstance(total, int) and total > track.last_seq:
                self._publish(job_id, track.flow_id,
                              {"type": "gap", "dropped": total - track.last_seq})
                track.last_seq = total
            if self.store is not None:
                if accepted:
                    self.store.record_events(job_id, accepted)
                if isinstance(metrics, dict):
                    self.store.record_metrics(job_id, metrics)
                inputs = msg.get("inputs")
                record_inputs = getattr(self.store, "record_inputs", None)
                if isinstance(inputs, list) and inputs and record_inputs is not None:
                    record_inputs(job_id, [a for a in inputs if isinstance(a, dict)
                                           and isinstance(a.get("seq"), int)])
        if track.status != "lost" or str(job.get("status")) in _TERMINAL:
            track.status = str(job.get("status") or track.status)
        if self.store is not None:
            self.store.record_job(job)

    # -- introspection ----------------------------------------------------------------------------

    def kernels(self) -> list[dict[str, Any]]:
        """Connected and recently gone kernels (for health pages and tests)."""
        out = []
        for conn, state in [*((c, "connected") for c in self.connections.values()),
                            *((c, "unavailable") for c in self._gone.values())]:
            out.append({**conn.owner.info.to_dict(), "instance_id": conn.instance_id,
                        "pid": conn.pid, "state": state})
        return out
