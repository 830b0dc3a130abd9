"""A real ``jupyter server`` subprocess and real kernels driven over its HTTP and WebSocket API.

Used by the kernel-bridge tests and by ``bench/bridge.py``. Kernels start through
``POST /api/sessions`` (so they get ``JPY_SESSION_NAME`` and the server's environment, bridge
variables included) and run code over ``/api/kernels/{id}/channels``, the path a browser uses.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket  # websocket-client

JUPYTER = Path(sys.executable).with_name("jupyter")
_URL = re.compile(r"http://127\.0\.0\.1:(\d+)/")
_BRIDGE = re.compile(r"kernel bridge at ws://127\.0\.0\.1:(\d+)/")


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


class JupyterServer:
    """One ``jupyter server --port=0`` process with a token, a tmp root and a tmp history."""

    def __init__(self, root: Path, token: str, *, extra_args: tuple[str, ...] = ()) -> None:
        self.root = root
        self.token = token
        self.history_db = root / "history.sqlite"
        env = dict(os.environ)
        env.update(
            HOME=str(root),
            JUPYTER_CONFIG_DIR=str(root / ".jupyter-config"),
            JUPYTER_DATA_DIR=str(root / ".jupyter-data"),
            JUPYTER_RUNTIME_DIR=str(root / ".jupyter-runtime"),
            PYTHONUNBUFFERED="1",
        )
        for key in ("JUPYTER_CONFIG_PATH", "ROUTILUX_BRIDGE_URL", "ROUTILUX_BRIDGE_SECRET"):
            env.pop(key, None)
        self.log: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        self.proc = subprocess.Popen(
            [
                str(JUPYTER), "server", "--port=0", "--allow-root", "--no-browser",
                f"--ServerApp.root_dir={root}",
                f"--IdentityProvider.token={token}",
                f"--RoutiluxExtension.history_db={self.history_db}",
                *extra_args,
            ],
            env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        try:
            self.port, self.bridge_port = self._wait_for_ports(timeout=60)
            self.base = f"http://127.0.0.1:{self.port}"
            self._wait_listening(timeout=30)
        except BaseException:
            self.stop()
            raise

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)
            self._lines.put(line)

    def _wait_for_ports(self, timeout: float) -> tuple[int, int]:
        port = bridge = None
        deadline = time.monotonic() + timeout
        while port is None or bridge is None:
            try:
                line = self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("jupyter server never printed its URLs:\n"
                                     + "".join(self.log)) from None
            if bridge is None and (m := _BRIDGE.search(line)):
                bridge = int(m.group(1))
            if port is None and (m := _URL.search(line)):
                port = int(m.group(1))
        return port, bridge

    def _wait_listening(self, timeout: float) -> None:
        def listening() -> bool:
            assert self.proc.poll() is None, "jupyter server exited:\n" + "".join(self.log)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                return False
            return True

        wait_for(listening, timeout, "the server's port to open")

    # -- HTTP -------------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None,
             timeout: float = 30) -> tuple[int, Any]:
        """``(status, json)`` of ``METHOD {base}/{path}`` with the token."""
        data = None if body is None else json.dumps(body).encode()
        if data is None and method in ("POST", "PUT"):
            data = b""
        req = urllib.request.Request(
            f"{self.base}/{path.lstrip('/')}", data=data, method=method,
            headers={"Authorization": f"token {self.token}",
                     "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        return status, payload

    def api(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        status, payload = self.call(method, f"api/{path.lstrip('/')}", body)
        assert status == expect, (method, path, status, payload)
        return payload

    def websocket(self, path: str, timeout: float = 10) -> websocket.WebSocket:
        return websocket.create_connection(
            f"ws://127.0.0.1:{self.port}/{path.lstrip('/')}",
            header=[f"Authorization: token {self.token}"], timeout=timeout,
        )

    def rss_kb(self) -> int:
        """Resident memory of the server process (Linux)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    # -- kernels ----------------------------------------------------------------------------

    def start_kernel(self, notebook: str) -> Kernel:
        session = self.api("POST", "sessions", {
            "path": notebook, "type": "notebook", "name": "",
            "kernel": {"name": "python3"},
        }, expect=201)
        return Kernel(self, session["kernel"]["id"], notebook)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


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
        while True:
            try:
                raw = self.ws.recv()
            except Exception:
                return
            if not raw:
                return
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
