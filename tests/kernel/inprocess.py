"""Both halves of the bridge in one process: a tornado server thread with the bridge route and a
real service + SQLite history, and the kernel half (registration + agent) over the process's
monitoring. Faster and more controllable than a Jupyter server for reconnects, restarts and
timeouts; the real thing is covered by test_bridge.py."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable, TypeVar

from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.netutil import bind_sockets
from tornado.web import Application

from routilux import Routine
from routilux.monitoring import MonitoringRegistry
from routilux.monitoring.event_manager import JobEventManager
from routilux.monitoring.storage import SqliteHistoryStore
from routilux.service import LocalOwner, OwnerInfo, RoutiluxService, SQLiteHistory
from routilux_jupyter.kernel.agent import BridgeAgent
from routilux_jupyter.kernel.identity import KernelIdentity
from routilux_jupyter.kernel.registration import KernelRegistration
from routilux_jupyter.server.bridge import BridgeSocket
from routilux_jupyter.server.kernel_registry import KernelRegistry

T = TypeVar("T")


class Source(Routine):
    """Emits ``n`` items on ``out``; waits on ``gate`` (if given) before each one."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        super().__init__()
        self.gate = gate
        self.define_slot("trigger", self.go)
        self.define_event("out", ["x"])

    def go(self, n: int = 3, **_: Any) -> None:
        for i in range(n):
            if self.gate is not None:
                self.gate.wait(30)
            self.emit("out", x=i)


class Sink(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("inp", self.take)

    def take(self, x: int) -> int:
        return x * 10


class BridgeServer:
    """A tornado loop thread serving ``/routilux/bridge`` for a real service and history."""

    def __init__(self, tmp_path: Path, **registry_kwargs: Any) -> None:
        self.events = JobEventManager()
        self.history = SQLiteHistory(SqliteHistoryStore(str(tmp_path / "history.sqlite")))
        own_monitoring = MonitoringRegistry(event_manager=self.events)  # never installed
        self.service = RoutiluxService([LocalOwner(own_monitoring)], history=self.history,
                                       events=self.events)
        self.registry = KernelRegistry(self.service, history=self.history, events=self.events,
                                       **registry_kwargs)
        self.loop: IOLoop | None = None
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        assert ready.wait(10)
        self.url = f"ws://127.0.0.1:{self.port}/routilux/bridge"

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        self.loop = IOLoop.current()
        app = Application([(r"/routilux/bridge", BridgeSocket, {"registry": self.registry})])
        sockets = bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self._http = HTTPServer(app)
        self._http.add_sockets(sockets)
        self.loop.add_callback(ready.set)
        self.loop.start()
        self.loop.close(all_fds=True)

    def on_loop(self, fn: Callable[[], T], timeout: float = 10) -> T:
        """Run ``fn`` on the server's loop thread (registry state lives there)."""
        assert self.loop is not None
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        self.loop.add_callback(run)
        return future.result(timeout)

    def kernels(self) -> list[dict[str, Any]]:
        return self.on_loop(self.registry.kernels)

    def stop(self) -> None:
        if self.loop is not None:
            self.on_loop(self.registry.close)
            self.on_loop(self._http.stop)
            self.loop.add_callback(self.loop.stop)
            self._thread.join(10)
        self.history.close()


class KernelHalf:
    """The kernel half in this process: a registration over the enabled monitoring."""

    def __init__(self, kernel_id: str = "k-test", *, monitoring: Any = None) -> None:
        if monitoring is None:
            self._was_enabled = MonitoringRegistry.is_enabled()
            monitoring = MonitoringRegistry.enable()
        else:
            self._was_enabled = True
        self.identity = KernelIdentity(kernel_id, uuid.uuid4().hex, "nb/test.ipynb", 0)
        info = OwnerInfo("kernel", kernel_id, "nb/test.ipynb")
        self.registration = KernelRegistration(monitoring, info)
        self.registration.install()
        self.agents: list[BridgeAgent] = []

    @property
    def owner(self) -> Any:
        return self.registration.owner

    def agent(self, url: str, secret: str, **kwargs: Any) -> BridgeAgent:
        agent = BridgeAgent(url, secret, self.registration, self.identity, **kwargs)
        self.agents.append(agent)
        agent.start()
        return agent

    def close(self) -> None:
        for agent in self.agents:
            agent.stop()
        for job in self.owner.jobs.list_all():
            flow = self.owner._flow_of(job)
            if not job.is_terminal:
                flow.cancel(job)
        self.registration.uninstall()
        if not self._was_enabled:
            MonitoringRegistry.disable()
