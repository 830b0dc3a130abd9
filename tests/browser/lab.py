"""A real ``jupyter lab`` subprocess and headless Debian Chromium, for browser tests and benches.

Everything the server writes (runtime files, settings, workspaces) goes under one temporary root,
and the server is always stopped (its process group terminated, then killed) on exit.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "Lab", "browser", "notebook_json"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
JUPYTER = Path(sys.executable).with_name("jupyter")


class Lab:
    """``jupyter lab`` on a free port, rooted at ``root``; use as a context manager."""

    def __init__(self, root: Path, *, app: str = "lab", timeout: float = 90.0) -> None:
        self.root = root
        self.app = app
        self.timeout = timeout
        self.token = secrets.token_hex(16)
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log_path = root / ".lab.log"

    def __enter__(self) -> Lab:
        runtime = self.root / ".runtime"
        runtime.mkdir(parents=True, exist_ok=True)
        if self.app == "lab":
            # No news pop-up over the cells (and no request to the internet for it).
            notification = self.root / ".settings" / "@jupyterlab" / "apputils-extension"
            notification.mkdir(parents=True, exist_ok=True)
            (notification / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
        env = dict(os.environ)
        env.update({
            "JUPYTER_RUNTIME_DIR": str(runtime),
            "JUPYTERLAB_SETTINGS_DIR": str(self.root / ".settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.root / ".workspaces"),
            # Server-side state (routilux history database included) stays in the temporary root.
            "JUPYTER_DATA_DIR": str(self.root / ".data"),
            "PYTHONUNBUFFERED": "1",
        })
        cmd = [
            str(JUPYTER), self.app, "--allow-root", "--no-browser", "--port=0",
            f"--ServerApp.token={self.token}", f"--ServerApp.root_dir={self.root}",
            "--ServerApp.ip=127.0.0.1",
            # window.jupyterapp lets a test run cells through Lab's own commands.
            "--expose-app-in-browser",
        ]
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     cwd=self.root, start_new_session=True)
        try:
            self.url = self._wait_for_url(runtime)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_for_url(self, runtime: Path) -> str:
        assert self.proc is not None
        info = runtime / f"jpserver-{self.proc.pid}.json"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter {self.app} exited early:\n{self.log()}")
            if info.is_file():
                try:
                    return str(json.loads(info.read_text())["url"])
                except (ValueError, KeyError):
                    pass  # half-written; read again
            time.sleep(0.1)
        raise TimeoutError(f"jupyter {self.app} did not start in {self.timeout} s:\n{self.log()}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.api_url("api/status"), timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"jupyter {self.app} never answered /api/status:\n{self.log()}")

    def api_url(self, path: str) -> str:
        return f"{self.url}{path}?token={self.token}"

    def page_url(self, path: str) -> str:
        return f"{self.url}{path}?token={self.token}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(10)


@contextmanager
def browser(*, width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A headless Chromium page (Debian's build) with console errors collected in ``page.errors``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = chromium.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e} {(e.stack or '')[:3000]}"))
            page.errors = errors  # type: ignore[attr-defined]
            yield page
        finally:
            chromium.close()


def notebook_json(cells: list[str]) -> str:
    """An nbformat 4 notebook of code cells, for the python3 kernel."""
    return json.dumps({
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"cell-{i}", "metadata": {},
             "outputs": [], "source": src}
            for i, src in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }, indent=1)
