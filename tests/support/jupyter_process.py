"""A real ``jupyter server``/``lab``/``notebook`` subprocess: started, awaited, talked to, stopped.

Used by the kernel, notebook, browser and real-server tests, by bench/ and by docs/_tools. The
process gets private user dirs (runtime, data, config, IPython, JupyterLab settings and workspaces,
HOME) under ``state_dir``, so nothing of the user's own Jupyter setup is read or written; the
config shipped in ``sys.prefix`` (routilux's auto-enable file) stays visible, as for a user.

It runs in its own session and ``stop()`` terminates its whole process group, then kills what is
left. Only the standard library is imported at module level (``bench.server`` is also loaded
inside the server it starts); websocket-client is imported when a socket is opened.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["JUPYTER", "JupyterProcess", "jupyter_env", "receive_all"]

JUPYTER = Path(sys.executable).with_name("jupyter")
# Set by an outer Jupyter or routilux session (e.g. tests run from a notebook terminal): they
# would point the process under test, or its kernels, at that other session.
_OUTER_SESSION = ("JUPYTER_CONFIG_PATH", "JUPYTER_TOKEN", "JPY_SESSION_NAME",
                  "ROUTILUX_BRIDGE_URL", "ROUTILUX_BRIDGE_SECRET", "ROUTILUX_SERVER_URL",
                  "ROUTILUX_TOKEN")
_LOG_TAIL = 8000  # characters of the log quoted in a start-up failure

_P = TypeVar("_P", bound="JupyterProcess")


def jupyter_env(state_dir: Path, *, pythonpath: Sequence[Path] = (),
                extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a Jupyter process whose user-level state lives in ``state_dir``.

    ``JUPYTER_CONFIG_DIR`` replaces only the user's config dir; ``sys.prefix``'s stays on the path.
    """
    env = {k: v for k, v in os.environ.items() if k not in _OUTER_SESSION}
    env.update({
        "HOME": str(state_dir / "home"),
        "JUPYTER_RUNTIME_DIR": str(state_dir / "runtime"),
        "JUPYTER_DATA_DIR": str(state_dir / "data"),
        "JUPYTER_CONFIG_DIR": str(state_dir / "config"),
        "JUPYTERLAB_SETTINGS_DIR": str(state_dir / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state_dir / "lab-workspaces"),
        "IPYTHONDIR": str(state_dir / "ipython"),
        "PYTHONUNBUFFERED": "1",  # the log file shows each line as it is written
    })
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([*map(str, pythonpath), *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra or {})
    return env


def receive_all(ws: Any) -> Iterator[str]:
    """Each message of a websocket-client socket until it closes (for reader threads)."""
    while True:
        try:
            raw = ws.recv()
        except Exception:  # closed by us or by the server: the reader just ends
            return
        if not raw:
            return
        yield raw


class JupyterProcess:
    """``jupyter <app>`` on a free port of 127.0.0.1 with a known token; a context manager.

    ``command`` replaces ``[jupyter, app]`` (e.g. a Makefile recipe, or a profiler prefix);
    ``args`` follow it, then the flags this class adds. ``root_dir`` is the server's root (none:
    Jupyter's default, the working directory ``cwd``, itself ``root_dir`` or ``state_dir``).
    """

    def __init__(self, state_dir: Path, app: str = "server", *, args: Sequence[str] = (),
                 root_dir: Path | None = None, cwd: Path | None = None,
                 command: Sequence[str] | None = None, token: str | None = None,
                 pythonpath: Sequence[Path] = (), env: Mapping[str, str] | None = None,
                 timeout: float = 90.0) -> None:
        self.state_dir = state_dir
        self.app = app
        self.command = [str(JUPYTER), app] if command is None else list(command)
        self.args = list(args)
        self.root_dir = root_dir
        self.cwd = cwd or root_dir or state_dir
        self.token = token or secrets.token_hex(16)
        self.env = jupyter_env(state_dir, pythonpath=pythonpath, extra=env)
        self.timeout = timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""  # http://127.0.0.1:PORT/ (with the trailing slash), once started
        self.port = 0
        self._stopped = False

    # -- where things are ------------------------------------------------------------------

    @property
    def runtime_dir(self) -> Path:
        return Path(self.env["JUPYTER_RUNTIME_DIR"])

    @property
    def lab_settings_dir(self) -> Path:
        return Path(self.env["JUPYTERLAB_SETTINGS_DIR"])

    @property
    def log_path(self) -> Path:
        return self.state_dir / "jupyter.log"

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return self.url.rstrip("/")

    @property
    def argv(self) -> list[str]:
        """The full command line."""
        argv = [*self.command, *self.args]
        if self.root_dir is not None:
            argv.append(f"--ServerApp.root_dir={self.root_dir}")
        argv += ["--no-browser", "--port=0", "--ServerApp.ip=127.0.0.1",
                 f"--IdentityProvider.token={self.token}"]
        if os.geteuid() == 0 and "--allow-root" not in argv:
            argv.append("--allow-root")
        return argv

    # -- life cycle ------------------------------------------------------------------------

    def start(self: _P) -> _P:
        """Launch the process and return once ``/api/status`` answers 200."""
        assert self.proc is None, "start() runs once per JupyterProcess"
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        Path(self.env["HOME"]).mkdir(parents=True, exist_ok=True)
        earlier = set(self.runtime_dir.glob("jpserver-*.json"))  # of a server stopped before
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + self.timeout
            info = self._wait_for_info(earlier, deadline)
            self.url, self.port = str(info["url"]), int(info["port"])
            self._wait_ready(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def __enter__(self: _P) -> _P:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_for_info(self, earlier: set[Path], deadline: float) -> dict[str, Any]:
        """The server info file (url, port): the one named after our pid, or, under a wrapper
        command (whose child is the server), the one that appeared since the launch."""
        assert self.proc is not None
        own = self.runtime_dir / f"jpserver-{self.proc.pid}.json"
        while True:
            self._check_running()
            candidates = [own] if own.exists() else sorted(set(self.runtime_dir.glob("jpserver-*.json")) - earlier)
            for path in candidates:
                try:
                    info = json.loads(path.read_text())
                    return {"url": info["url"], "port": info["port"]}
                except (OSError, ValueError, KeyError):
                    pass  # half-written: read it again
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self} wrote no server info file in {self.timeout} s:\n"
                                   f"{self.log()[-_LOG_TAIL:]}")
            time.sleep(0.05)

    def _wait_ready(self, deadline: float) -> None:
        # The info file can precede the first request the server answers.
        while True:
            self._check_running()
            try:
                if self.call("GET", "api/status", timeout=5)[0] == 200:
                    return
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self} never answered /api/status in {self.timeout} s:\n"
                                   f"{self.log()[-_LOG_TAIL:]}")
            time.sleep(0.05)

    def _check_running(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self} exited with {self.proc.returncode}:\n{self.log()[-_LOG_TAIL:]}")

    def stop(self) -> None:
        """Terminate the process group (SIGTERM, then SIGKILL after 20 s); safe to call twice."""
        if self.proc is None or self._stopped:
            return
        self._stopped = True
        pid = self.proc.pid
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            pass
        # Whatever of the group outlived the TERM (or the leader's clean exit) is killed.
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)

    def wait_for_log(self, pattern: str | re.Pattern[str], timeout: float = 60.0) -> re.Match[str]:
        """The first match of ``pattern`` in the log, once it is written."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            if match := regex.search(self.log()):
                return match
            self._check_running()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self} never logged {regex.pattern!r} in {timeout} s:\n"
                                   f"{self.log()[-_LOG_TAIL:]}")
            time.sleep(0.05)

    def log(self) -> str:
        """Everything the process wrote so far (stdout and stderr, its kernels' included)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def rss_kb(self) -> int:
        """Resident memory of the process (Linux), in KiB."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def __repr__(self) -> str:
        name = " ".join(Path(part).name for part in self.command[:2])
        return f"<{name} at {self.url or 'start-up'}>"

    # -- talking to it ---------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, *,
             timeout: float = 30.0) -> tuple[int, Any]:
        """``(status, body)`` of ``METHOD {url}{path}`` with the token; body: JSON, else text, else None."""
        data = None if body is None else json.dumps(body).encode()
        if data is None and method in ("POST", "PUT", "PATCH"):
            data = b""
        req = urllib.request.Request(f"{self.url}{path.lstrip('/')}", data=data, method=method, headers={
            "Authorization": f"token {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        text = raw.decode(errors="replace")
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text

    def api(self, method: str, path: str, body: Any = None, *, expect: int = 200,
            timeout: float = 30.0) -> Any:
        """The decoded answer of ``METHOD /api/{path}``; fails unless its status is ``expect``."""
        status, payload = self.call(method, f"api/{path.lstrip('/')}", body, timeout=timeout)
        assert status == expect, (method, path, status, payload)
        return payload

    def websocket(self, path: str, *, timeout: float | None = 10, **options: Any) -> Any:
        """A websocket-client connection to ``ws://…/{path}`` with the token."""
        import websocket  # websocket-client, a test dependency

        return websocket.create_connection(
            f"ws://127.0.0.1:{self.port}/{path.lstrip('/')}",
            header=[f"Authorization: token {self.token}"], timeout=timeout, **options)

    def page_url(self, path: str) -> str:
        """A browser URL of ``path`` that logs in with the token."""
        return f"{self.url}{path.lstrip('/')}?token={self.token}"
