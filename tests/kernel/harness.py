"""A real ``jupyter server`` subprocess and real kernels driven over its HTTP and WebSocket API.

Used by the kernel-bridge tests and by ``bench/bridge.py``. Kernels start through
``POST /api/sessions`` (so they get ``JPY_SESSION_NAME`` and the server's environment, bridge
variables included) and run code over ``/api/kernels/{id}/channels``, the path a browser uses.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import JupyterProcess, receive_all

_BRIDGE = r"kernel bridge at ws://127\.0\.0\.1:(\d+)/"


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class JupyterServer(JupyterProcess):
    """``jupyter server`` with a token, rooted at ``root``, history in ``root/history.sqlite``;
    started on construction, once its kernel bridge is listening."""

    def __init__(self, root: Path, token: str, *, extra_args: tuple[str, ...] = ()) -> None:
        self.root = root
        self.history_db = root / "history.sqlite"
        super().__init__(root / ".jupyter", "server", root_dir=root, token=token, timeout=60,
                         args=[f"--RoutiluxExtension.history_db={self.history_db}", *extra_args])
        self.start()
        try:
            self.bridge_port = int(self.wait_for_log(_BRIDGE, timeout=30).group(1))
        except BaseException:
            self.stop()
            raise

    def start_kernel(self, notebook: str) -> Kernel:
        """A kernel of a new session for ``notebook``, through ``POST /api/sessions``."""
        session = self.api("POST", "sessions", {
            "path": notebook, "type": "notebook", "name": "",
            "kernel": {"name": "python3"},
        }, expect=201)
        return Kernel(self, session["kernel"]["id"], notebook)


@dataclass
class Execution:
    """What one ``execute_request`` produced."""

    msg_id: str
    status: str | None = None
    stdout: str = ""
    stderr: str = ""
    results: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    reply: threading.Event = field(default_factory=threading.Event)


class Kernel:
    """A kernel of the server, run through its channels WebSocket."""

    def __init__(self, server: JupyterServer, kernel_id: str, notebook: str) -> None:
        self.server = server
        self.kernel_id = kernel_id
        self.notebook = notebook
        self.session = uuid.uuid4().hex
        self._runs: dict[str, Execution] = {}
        self._lock = threading.Lock()
        self.ws = server.websocket(
            f"api/kernels/{kernel_id}/channels?session_id={self.session}", timeout=None)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        # The kernel answers only once started; a trivial cell proves it.
        self.run("1", timeout=60)

    def _read(self) -> None:
        for raw in receive_all(self.ws):
            msg = json.loads(raw)
            parent = (msg.get("parent_header") or {}).get("msg_id")
            with self._lock:
                run = self._runs.get(parent)
            if run is None:
                continue
            kind = msg.get("msg_type") or msg["header"]["msg_type"]
            content = msg.get("content") or {}
            if kind == "stream":
                if content.get("name") == "stderr":
                    run.stderr += content.get("text", "")
                else:
                    run.stdout += content.get("text", "")
            elif kind in ("execute_result", "display_data"):
                text = (content.get("data") or {}).get("text/plain")
                if text is not None:
                    run.results.append(text)
            elif kind == "error":
                run.error = content
            elif kind == "execute_reply":
                run.status = content.get("status")
                if content.get("status") == "error" and run.error is None:
                    run.error = content
                run.reply.set()
            elif kind == "status" and content.get("execution_state") == "idle":
                run.done.set()

    def submit(self, code: str) -> Execution:
        """Send ``code`` for execution and return at once."""
        msg_id = uuid.uuid4().hex
        run = Execution(msg_id)
        with self._lock:
            self._runs[msg_id] = run
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": "test", "session": self.session,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))
        return run

    def wait(self, run: Execution, timeout: float = 30) -> Execution:
        assert run.reply.wait(timeout), f"no execute_reply within {timeout} s"
        assert run.done.wait(timeout), f"kernel not idle within {timeout} s"
        return run

    def run(self, code: str, timeout: float = 30) -> Execution:
        """Execute ``code`` and wait until the kernel is idle again; fail on an error."""
        run = self.wait(self.submit(code), timeout)
        assert run.error is None, (code, run.error, run.stderr)
        return run

    def value(self, expression: str, timeout: float = 30) -> Any:
        """The value of a JSON-able Python expression evaluated in the kernel."""
        run = self.run(f"import json as _j; print(_j.dumps({expression}))", timeout)
        return json.loads(run.stdout.strip().splitlines()[-1])

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
