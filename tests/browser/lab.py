"""JupyterLab / Notebook 7 for browser tests and benches, and headless Debian Chromium to drive it.

The process itself (private state, token, start-up, stop) is ``tests.support.JupyterProcess``; this
module adds what a browser page needs: Lab's app object exposed to the page, no news pop-up, the
page-side scripts to run cells, and the Chromium page with its console errors collected.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from tests.support import JupyterProcess

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "KERNEL_IDLE", "RUN_CELL", "Lab", "browser", "notebook_json"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
# True once the current notebook's kernel is connected and idle.
KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return Boolean(k && k.status === 'idle');
}"""
# Run cell ``i`` through the app's own command without awaiting it (a cell may block on purpose);
# returns the page's clock when the command was issued.
RUN_CELL = """(i) => {
  const nb = window.jupyterapp.shell.currentWidget;
  nb.content.activeCellIndex = i;
  window.jupyterapp.commands.execute('notebook:run-cell');
  return performance.now();
}"""


class Lab(JupyterProcess):
    """``jupyter lab`` (or ``app="notebook"``) on a free port, rooted at ``root``; its state is
    under ``root/.jupyter`` (hidden from the file browser)."""

    def __init__(self, root: Path, *, app: str = "lab", timeout: float = 90.0) -> None:
        # window.jupyterapp lets a test run cells through Lab's own commands.
        super().__init__(root / ".jupyter", app, root_dir=root, args=["--expose-app-in-browser"],
                         timeout=timeout)
        self.root = root

    def start(self) -> Lab:
        if self.app == "lab":
            # No news pop-up over the cells (and no request to the internet for it).
            notification = self.lab_settings_dir / "@jupyterlab" / "apputils-extension"
            notification.mkdir(parents=True, exist_ok=True)
            (notification / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
        return super().start()


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
