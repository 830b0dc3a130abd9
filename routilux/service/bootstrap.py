"""Assembling a ready service for one process from plain settings.

The Jupyter extension calls :func:`create_local_service` with its traitlet values; tests and
scripts can call it the same way without Jupyter.
"""

from __future__ import annotations

import importlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routilux.errors import RoutiluxError
from routilux.service.local_owner import LocalOwner
from routilux.service.service import RoutiluxService
from routilux.service.sqlite_history import SQLiteHistory

__all__ = ["ServiceBundle", "create_local_service", "load_flows_dir"]

logger = logging.getLogger(__name__)
_SPEC_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class ServiceBundle:
    """The service plus the parts it was built from (for tests and for shutdown)."""

    service: RoutiluxService
    owner: LocalOwner
    monitoring: Any
    history: SQLiteHistory | None = None
    loaded_flows: list[str] = field(default_factory=list)

    def close(self) -> None:
        """Cancel live jobs, write what is queued for the history, close it."""
        self.owner.cancel_all()
        if self.history is not None:
            for job in self.owner.jobs.list_all():
                job.wait(2.0)  # cancelled jobs end quickly; their end is recorded on that path
            if self.monitoring.history_store is self.history.store:
                self.monitoring.attach_history_store(None)
            self.history.close()


def _monitoring(max_events_per_job: int) -> Any:
    from routilux.monitoring import MonitoringRegistry

    MonitoringRegistry.enable()
    registry = MonitoringRegistry.get_instance()
    registry.monitor_collector.set_max_events_per_job(max_events_per_job)
    return registry


def import_routine_modules(names: list[str], log: logging.Logger) -> list[str]:
    """Import each module (so its ``@register_routine`` classes exist); returns those imported."""
    done = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            log.exception(
                "routilux: cannot import routine module %r (RoutiluxExtension.routine_modules); "
                "its routine classes will be unknown to flow specs",
                name,
            )
            continue
        done.append(name)
    return done


def _read_spec(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    from routilux.service.local_owner import parse_dsl_text

    return parse_dsl_text(text)


def load_flows_dir(owner: LocalOwner, folder: str | Path, log: logging.Logger) -> list[str]:
    """Build every ``*.yaml|*.yml|*.json`` spec in ``folder`` into ``owner``; returns flow ids.

    A broken spec is logged and skipped so one bad file does not keep the server from starting.
    A spec without ``flow_id`` takes its file name (without suffix).
    """
    from routilux.flow import Flow

    root = Path(folder).expanduser()
    if not root.is_dir():
        log.warning("routilux: flows_dir %s is not a folder; no flows loaded", root)
        return []
    loaded = []
    for path in sorted(p for p in root.iterdir() if p.suffix in _SPEC_SUFFIXES and p.is_file()):
        try:
            spec = _read_spec(path)
            if isinstance(spec, dict) and not spec.get("flow_id"):
                spec = {**spec, "flow_id": path.stem}
            flow = Flow.from_dict(spec)
            owner.add_flow(flow, replace=True)
        except (RoutiluxError, ValueError, OSError) as exc:
            log.error("routilux: skipped flow spec %s: %s", path, exc)
            continue
        loaded.append(flow.flow_id)
    if loaded:
        log.info("routilux: loaded flows %s from %s", ", ".join(loaded), root)
    return loaded


def _open_history(path: str, monitoring: Any, log: logging.Logger) -> SQLiteHistory:
    """Open the SQLite history, let the registry write to it, and close out orphaned jobs."""
    from routilux.monitoring.storage import SqliteHistoryStore

    file = Path(path).expanduser()
    file.parent.mkdir(parents=True, exist_ok=True)
    history = SQLiteHistory(SqliteHistoryStore(str(file)))
    lost = history.mark_unfinished_lost(
        "The process that ran this job stopped before it finished (server restart)."
    )
    if lost:
        log.warning("routilux: %d job(s) of an earlier server process marked lost", len(lost))
    monitoring.attach_history_store(history.store)
    return history


def create_local_service(
    *,
    max_events_per_job: int = 1000,
    history_db: str | None = None,
    routine_modules: list[str] | None = None,
    flows_dir: str | None = None,
    load_entry_points: bool = True,
    max_finished_jobs: int = 1000,
    version: str | None = None,
    log: logging.Logger | None = None,
) -> ServiceBundle:
    """A service whose only owner is this process, with monitoring enabled.

    ``history_db`` (a SQLite path) keeps finished jobs across restarts; ``None`` keeps none.
    """
    log = log or logger
    monitoring = _monitoring(max_events_per_job)
    import_routine_modules(list(routine_modules or []), log)
    if load_entry_points:
        from routilux.registry import load_entry_point_routines

        load_entry_point_routines()
    owner = LocalOwner(monitoring, max_finished_jobs=max_finished_jobs)
    history = _open_history(history_db, monitoring, log) if history_db else None
    service = RoutiluxService(
        [owner], history=history, events=monitoring.event_manager, version=version or _version()
    )
    loaded = load_flows_dir(owner, flows_dir, log) if flows_dir else []
    return ServiceBundle(service, owner, monitoring, history, loaded)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("routilux")
    except Exception:
        return "0"
