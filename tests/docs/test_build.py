"""The documentation builds with ``sphinx-build -W`` and shows what the code really has.

One build per test session (a few seconds) in a temporary directory; the tests then read the
generated HTML: every class of the seed's monitoring reference with its members, every
``c.RoutiluxExtension`` option with its help, and the pages the guide links to.
"""

from __future__ import annotations

import html
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"

# The contract of the seed page (shared/seed/monitoring.rst): these classes, under these paths.
SEED_CLASSES = [
    "routilux.monitoring.MonitoringRegistry",
    "routilux.monitoring.MonitorCollector",
    "routilux.monitoring.monitor_collector.ExecutionEvent",
    "routilux.monitoring.monitor_collector.RoutineMetrics",
    "routilux.monitoring.breakpoint_manager.BreakpointManager",
    "routilux.monitoring.breakpoint_manager.Breakpoint",
    "routilux.monitoring.debug_session.DebugSessionStore",
    "routilux.monitoring.debug_session.DebugSession",
    "routilux.monitoring.event_manager.JobEventManager",
    "routilux.monitoring.storage.FlowStore",
    "routilux.monitoring.storage.JobStore",
]
# Members DESIGN.md §4 names: they must be in the reference whatever else is.
CONTRACT_MEMBERS = {
    "MonitoringRegistry": ["enable", "disable", "is_enabled", "get_instance", "monitor_collector",
                           "breakpoint_manager", "debug_session_store"],
    "MonitorCollector": ["get_metrics", "get_execution_trace", "get_routine_metrics",
                         "set_max_events_per_job", "clear"],
    "ExecutionEvent": ["event_id", "job_id", "routine_id", "event_type", "timestamp", "data",
                       "duration", "status"],
    "RoutineMetrics": ["routine_id", "execution_count", "total_duration", "avg_duration",
                       "min_duration", "max_duration", "error_count", "last_execution"],
    "BreakpointManager": ["add_breakpoint", "set_breakpoint", "remove_breakpoint",
                          "get_breakpoints", "update", "clear_breakpoints"],
    "Breakpoint": ["breakpoint_id", "job_id", "type", "routine_id", "slot_name", "event_name",
                   "condition", "enabled", "hit_count"],
    "DebugSessionStore": ["get", "get_or_create"],
    "DebugSession": ["step_over", "step_into", "step_out", "resume", "variables",
                     "set_variable", "call_stack"],
    "JobEventManager": ["subscribe", "get_status"],
    "FlowStore": ["get", "add", "remove", "list_all", "clear"],
    "JobStore": ["get", "add", "remove", "list_all", "clear", "get_by_flow", "remove_old_jobs"],
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``sphinx-build -W -b html docs <tmp>``; fails with Sphinx's output on any warning."""
    out = tmp_path_factory.mktemp("html")
    doctrees = tmp_path_factory.mktemp("doctrees")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html",
         "-d", str(doctrees), str(DOCS), str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"sphinx-build -W failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def _ids(page: Path) -> set[str]:
    return set(re.findall(r'id="([^"]+)"', page.read_text(encoding="utf-8")))


def _text(page: Path) -> str:
    raw = re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8"))
    return " ".join(html.unescape(raw).split())


def _public_members(path: str) -> list[str]:
    """What ``:members: :undoc-members:`` should list: the class's own public attributes,
    including dataclass fields that exist only as annotations."""
    module, _, name = path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    names = [n for n in vars(cls) if not n.startswith("_")]
    names += [n for n in vars(cls).get("__annotations__", {}) if not n.startswith("_")]
    return sorted(set(names))


def test_seed_page_lists_the_contract_classes() -> None:
    page = (DOCS / "api" / "monitoring.rst").read_text(encoding="utf-8")
    assert re.findall(r"^\.\. autoclass:: (\S+)", page, re.M) == SEED_CLASSES
    assert ":doc:`User Guide <../user_guide/monitoring_debugging>`" in page


@pytest.mark.parametrize("path", SEED_CLASSES)
def test_every_seed_class_is_rendered_with_its_members(built: Path, path: str) -> None:
    ids = _ids(built / "api" / "monitoring.html")
    assert path in ids, f"{path} is missing from api/monitoring.html"
    short = path.rpartition(".")[2]
    expected = set(_public_members(path)) | set(CONTRACT_MEMBERS[short])
    missing = sorted(m for m in expected if f"{path}.{m}" not in ids)
    assert not missing, f"{path}: members missing from the reference: {missing}"


def test_members_carry_their_real_docstrings(built: Path) -> None:
    from routilux.monitoring import MonitorCollector

    first_line = MonitorCollector.get_metrics.__doc__.strip().splitlines()[0]
    plain = re.sub(r":\w+:`~?([^`]+)`|``([^`]+)``", lambda m: m.group(1) or m.group(2), first_line)
    assert " ".join(plain.split()) in _text(built / "api" / "monitoring.html")


def test_configuration_page_lists_every_option_with_its_help(built: Path) -> None:
    from routilux_jupyter.server.extension import RoutiluxExtension

    text = _text(built / "user_guide" / "configuration.html")
    traits = RoutiluxExtension.class_own_traits(config=True)
    assert {"prefix", "history_db", "routine_modules", "max_events_per_job"} <= set(traits)
    for name, trait in traits.items():
        assert f"c.RoutiluxExtension.{name}" in text, name
        assert " ".join(trait.help.split()) in text, f"help of {name} is not on the page"


@pytest.mark.parametrize(
    "page",
    ["index.html", "quickstart.html", "user_guide/engine.html",
     "user_guide/monitoring_debugging.html", "user_guide/http_api.html",
     "user_guide/jupyter.html", "user_guide/configuration.html", "user_guide/security.html",
     "api/engine.html", "api/service.html", "api/jupyter.html",
     "user_guide/client_cli.html"],
)
def test_guide_pages_are_built(built: Path, page: str) -> None:
    assert (built / page).is_file()


def test_client_page_documents_every_client_method(built: Path) -> None:
    from routilux_jupyter.client import Client

    ids = _ids(built / "user_guide" / "client_cli.html")
    public = [name for name in vars(Client) if not name.startswith("_")]
    missing = [name for name in public if f"routilux_jupyter.client.Client.{name}" not in ids]
    assert not missing, f"Client methods missing from client_cli.html: {missing}"


def test_test_hints_stay_invisible(built: Path) -> None:
    text = _text(built / "user_guide" / "http_api.html")
    assert "POST /api/jobs HTTP/1.1" in text
    assert "wait-done" not in text and "wait-paused" not in text
