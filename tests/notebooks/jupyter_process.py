"""A real ``jupyter server`` (or ``lab``) subprocess for the notebook tests, always stopped.

Everything it writes (runtime files, history database, settings) stays under ``state_dir``; the
user's own Jupyter config and data are not read. The process runs in its own session, and exit
terminates the whole group (kernels included), then kills what is left.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager

__all__ = ["JupyterProcess", "ServerKernelManager", "jupyter_env"]

JUPYTER = Path(sys.executable).with_name("jupyter")


def jupyter_env(state_dir: Path) -> dict[str, str]:
    """The environment of a server whose state lives in ``state_dir``."""
    env = dict(os.environ)
    for name in ("ROUTILUX_BRIDGE_URL", "ROUTILUX_BRIDGE_SECRET", "ROUTILUX_SERVER_URL",
                 "ROUTILUX_TOKEN", "JUPYTER_TOKEN", "JPY_SESSION_NAME"):
        env.pop(name, None)
    env.update({
        "JUPYTER_RUNTIME_DIR": str(state_dir / "runtime"),
        "JUPYTER_DATA_DIR": str(state_dir / "data"),
        "JUPYTER_CONFIG_DIR": str(state_dir / "config"),
        "JUPYTERLAB_SETTINGS_DIR": str(state_dir / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state_dir / "lab-workspaces"),
        "IPYTHONDIR": str(state_dir / "ipython"),
        "PYTHONUNBUFFERED": "1",
    })
    return env


class JupyterProcess:
    """``argv`` (a ``jupyter server``/``lab`` command) on a free port with a known token."""

    def __init__(self, argv: list[str], *, cwd: Path, state_dir: Path,
                 timeout: float = 90.0) -> None:
        self.argv = argv
        self.cwd = cwd
        self.state_dir = state_dir
        self.timeout = timeout
        self.token = secrets.token_hex(16)
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = state_dir / "server.log"

    def __enter__(self) -> JupyterProcess:
        (self.state_dir / "runtime").mkdir(parents=True, exist_ok=True)
        cmd = [*self.argv, "--no-browser", "--port=0", "--ServerApp.ip=127.0.0.1",
               f"--IdentityProvider.token={self.token}"]
        if os.getuid() == 0 and "--allow-root" not in cmd:
            cmd.append("--allow-root")
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(cmd, cwd=self.cwd, env=jupyter_env(self.state_dir),
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.url = self._wait_for_url()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def runtime_dir(self) -> Path:
        return self.state_dir / "runtime"

    def _wait_for_url(self) -> str:
        assert self.proc is not None
        info = self.runtime_dir / f"jpserver-{self.proc.pid}.json"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv} exited early:\n{self.log()}")
            try:
                return str(json.loads(info.read_text())["url"])
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)  # not written yet, or half-written
        raise TimeoutError(f"{self.argv} did not start in {self.timeout} s:\n{self.log()}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                status, _ = self.request("GET", "api/status")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"the server never answered /api/status:\n{self.log()}")

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """``(status, decoded JSON or text)`` of one authenticated request."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"token {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw, status = resp.read(), resp.status
        except urllib.error.HTTPError as err:
            raw, status = err.read(), err.code
        text = raw.decode(errors="replace")
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(10)


class ServerKernelManager(AsyncKernelManager):
    """A kernel the Jupyter server started and owns: nbclient connects to it through its
    connection file, and never starts, restarts or stops it."""

    @property
    def has_kernel(self) -> bool:
        return True

    async def _async_is_alive(self) -> bool:
        # The server watches its kernel; a dead one shows up as a client timeout here.
        return True

    is_alive = _async_is_alive  # type: ignore[assignment]

    async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        """The server shuts its kernels down (DELETE /api/sessions/{id})."""

    shutdown_kernel = _async_shutdown_kernel  # type: ignore[assignment]

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        """Nothing of ours to clean: the connection file belongs to the server."""

    cleanup_resources = _async_cleanup_resources  # type: ignore[assignment]
