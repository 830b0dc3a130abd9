"""The Python examples of the user guide run, top to bottom, as written.

Each page's ``.. code-block:: python`` blocks are executed in order in one namespace (blocks with
``:class: no-test`` are skipped: they need a server or a notebook front end). A page that stops
matching the code fails here with the page and line of the block.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from routilux.hooks import active_hooks, install_hooks
from routilux.monitoring import MonitoringRegistry

DOCS = Path(__file__).resolve().parents[2] / "docs"

PAGES = ["user_guide/engine.rst", "user_guide/monitoring_debugging.rst",
         "user_guide/observability.rst", "user_guide/scaling.rst", "quickstart.rst"]
_DIRECTIVE = re.compile(r"^\.\. code-block:: *python *$")


def python_blocks(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, source)`` of every testable python code-block of a page."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if not _DIRECTIVE.match(lines[i]):
            i += 1
            continue
        start = i + 1
        i += 1
        options = []
        while i < len(lines) and re.match(r"^ +:[\w-]+:", lines[i]):
            options.append(lines[i].strip())
            i += 1
        body = []
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith("   ")):
            body.append(lines[i][3:])
            i += 1
        if any(o.startswith(":class:") and "no-test" in o for o in options):
            continue
        yield start, "\n".join(body)


@pytest.fixture
def clean_monitoring() -> Iterator[MonitoringRegistry]:
    """The pages use the process-wide registry; leave hooks and breakpoints as they were."""
    undo = install_hooks(None)
    registry = MonitoringRegistry.get_instance()
    yield registry
    registry.breakpoint_manager.clear_breakpoints(flow_id="squares")
    if active_hooks() is not None:
        MonitoringRegistry.disable()
    undo()


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page: str, clean_monitoring: Any, capsys: Any) -> None:
    path = DOCS / page
    blocks = list(python_blocks(path))
    assert blocks, f"{page} has no python examples"
    namespace: dict[str, Any] = {"__name__": f"docs_{path.stem}"}
    for line, source in blocks:
        code = compile(source, f"{page}:{line}", "exec")
        exec(code, namespace)  # noqa: S102 - our own documentation, the point of the test


def test_block_extraction_skips_marked_blocks(tmp_path: Path) -> None:
    page = tmp_path / "p.rst"
    page.write_text(
        ".. code-block:: python\n\n   x = 1\n\n"
        ".. code-block:: python\n   :class: no-test\n\n   raise SystemExit\n\n"
        "text\n\n.. code-block:: python\n\n   y = x + 1\n   assert y == 2\n"
    )
    assert [src.strip() for _, src in python_blocks(page)] == ["x = 1", "y = x + 1\nassert y == 2"]


def test_readme_taste_runs() -> None:
    """README's example, minus the IPython-only lines (``%load_ext``) and the display line."""
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("## A taste", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if not line.startswith("%")]
    assert lines[-1].split("#")[0].strip() == "job"
    namespace: dict[str, Any] = {"__name__": "docs_readme"}
    exec(compile("\n".join(lines[:-1]), "README.md", "exec"), namespace)  # noqa: S102
    job = namespace["job"]
    assert job.status == "completed" and job.shared_data == {"total": sum(range(10))}
