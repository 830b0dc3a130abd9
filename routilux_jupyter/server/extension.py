"""``RoutiluxExtension``: the routilux REST and WebSocket API inside a Jupyter server.

Enabled on install (``etc/jupyter/jupyter_server_config.d/routilux.json``). Configure it with
``c.RoutiluxExtension.<trait>`` in ``jupyter_server_config.py`` or on the command line
(``jupyter server --RoutiluxExtension.history_db=/tmp/h.sqlite``).
"""

from __future__ import annotations

import gc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Integer, List, Unicode, default, validate

from routilux.service.bootstrap import ServiceBundle, create_local_service
from routilux_jupyter.links import DASHBOARD_PATH
from routilux_jupyter.server.bridge import KernelBridge
from routilux_jupyter.server.dashboard import dashboard_routes
from routilux_jupyter.server.handlers import rest_routes
from routilux_jupyter.server.websockets import ws_routes

__all__ = ["RoutiluxExtension"]


class RoutiluxExtension(ExtensionApp):
    """Serves flows and jobs (REST + WebSocket) under the Jupyter server's URL."""

    name = "routilux"
    description = "routilux workflow monitoring and debugging API"
    load_other_extensions = True

    prefix = Unicode(
        "api",
        config=True,
        help=(
            "URL prefix of the routilux routes, relative to the server's base_url. With the "
            "default 'api' the routes are /api/flows, /api/jobs, /api/ws/jobs/{id}/monitor, ... "
            "None of them shadows a core Jupyter route (/api/status, /api/kernels, ...)."
        ),
    )
    max_events_per_job = Integer(
        1000,
        config=True,
        help=(
            "Trace events kept in memory per job (a ring buffer): bounds memory of long jobs and "
            "what /api/jobs/{id}/trace and late WebSocket subscribers can see."
        ),
    )
    history_db = Unicode(
        config=True,
        help=(
            "Path of the SQLite file that keeps finished jobs, their final metrics and traces "
            "across server restarts. Default: <jupyter data dir>/routilux/history.sqlite. "
            "An empty string keeps no history."
        ),
    )
    history_max_jobs = Integer(
        10_000,
        allow_none=True,
        config=True,
        help=(
            "History retention: keep at most this many finished jobs in history_db (the oldest "
            "go first). Pinned jobs (PUT /api/jobs/{id} {pinned: true}) and unfinished ones are "
            "always kept. None keeps every job."
        ),
    )
    history_max_age_days = Float(
        None,
        allow_none=True,
        config=True,
        help=(
            "History retention: drop finished, unpinned jobs created more than this many days "
            "ago. None (the default) keeps jobs whatever their age."
        ),
    )
    history_prune_interval = Float(
        600.0,
        config=True,
        help="Seconds between history retention passes (one also runs at start).",
    )
    flows_dir = Unicode(
        "",
        config=True,
        help=(
            "A folder of flow specs (*.yaml, *.yml, *.json in the DSL) loaded into the server "
            "at start. Routine classes must be registered (see routine_modules)."
        ),
    )
    routine_modules = List(
        Unicode(),
        default_value=[],
        config=True,
        help=(
            "Python modules imported at start so their @register_routine classes can be named "
            "in DSL specs (POST /api/flows, flows_dir). Classes advertised under the "
            "'routilux.routines' entry-point group are loaded too."
        ),
    )
    ws_queue_size = Integer(
        5000,
        config=True,
        help=(
            "Events buffered per WebSocket subscriber before it is told it missed some "
            "(a {'type': 'gap', 'dropped': n} message). Absorbs bursts while the event loop "
            "is busy; each buffered event is a small dict (well under 1 KB)."
        ),
    )
    worker_threads = Integer(
        4,
        config=True,
        help="Threads that run API calls off the event loop (owners and the history may block).",
    )

    bridge_request_timeout = Float(
        10.0,
        config=True,
        help=(
            "Seconds to wait for a kernel to answer an API request about its flows or jobs "
            "before answering 504."
        ),
    )
    bridge_url = Unicode(
        "",
        config=True,
        help=(
            "URL kernels dial to reach this server's routilux bridge. Default: derived from the "
            "server's ip, bound port and base_url (ws://127.0.0.1:<port>/routilux/bridge). "
            "Kernels also derive the dashboard link they print from it."
        ),
    )

    otel_endpoint = Unicode(
        "",
        config=True,
        help=(
            "OTLP/HTTP collector URL (e.g. http://localhost:4318; /v1/traces is added to a bare "
            "address) to export every job as OpenTelemetry spans: jobs the server runs and jobs "
            "of kernels connected through the bridge. Needs 'pip install routilux[otel]'. "
            "Batching follows the OTEL_BSP_* environment variables. Empty: no export."
        ),
    )
    otel_service_name = Unicode(
        "routilux",
        config=True,
        help="The service.name resource attribute of the spans exported to otel_endpoint.",
    )

    bundle: ServiceBundle | None = None
    bridge: KernelBridge | None = None
    _executor: ThreadPoolExecutor | None = None
    _otel: Any = None
    _pruner: Any = None

    @default("history_db")
    def _default_history_db(self) -> str:
        return str(Path(jupyter_data_dir()) / "routilux" / "history.sqlite")

    @validate("prefix")
    def _check_prefix(self, proposal: Any) -> str:
        value = str(proposal["value"]).strip("/")
        if any(part in ("..", ".") for part in value.split("/")):
            raise ValueError(f"RoutiluxExtension.prefix must be a plain URL path, got {value!r}")
        return value

    freeze_gc_at_start = Bool(
        True,
        config=True,
        help=(
            "Move the objects that exist once the server has started (Jupyter, tornado, loaded "
            "extensions) into Python's permanent GC generation (gc.freeze()). Full collections then "
            "skip that start-up heap: on a Jupyter server they otherwise pause the event loop for "
            "~100 ms, which shows up as WebSocket event latency spikes. Set False to leave the GC "
            "untouched."
        ),
    )

    def initialize_settings(self) -> None:
        """Build the service (monitoring on, history, routine registry, flows) for the handlers."""
        self.bundle = create_local_service(
            max_events_per_job=self.max_events_per_job,
            history_db=self.history_db or None,
            routine_modules=list(self.routine_modules),
            flows_dir=self.flows_dir or None,
            log=self.log,
        )
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, self.worker_threads), thread_name_prefix="routilux-api"
        )
        # Kernels started from now on inherit the bridge URL and secret; each agent that dials
        # in becomes a KernelOwner of the service.
        self.bridge = KernelBridge(
            self.bundle.service, self.serverapp, history=self.bundle.history,
            events=self.bundle.monitoring.event_manager,
            request_timeout=self.bridge_request_timeout, bridge_url=self.bridge_url, log=self.log,
        )
        self.bridge.start()
        if self.otel_endpoint:
            self._start_otel()
        self._start_retention()
        self.settings.update(
            routilux_service=self.bundle.service,
            routilux_executor=self._executor,
            routilux_ws_queue_size=self.ws_queue_size,
        )
        if self.freeze_gc_at_start and self.serverapp is not None:
            # Scheduled, so it runs once the loop is up and every extension has loaded.
            self.serverapp.io_loop.add_callback(gc.freeze)
        base = self.serverapp.base_url if self.serverapp else "/"
        self.log.info(
            "routilux: API under %s%s, dashboard at %s%s (history: %s)",
            base, self.prefix, base, DASHBOARD_PATH, self.history_db or "off",
        )

    def _retention(self) -> dict[str, Any]:
        days = self.history_max_age_days
        return {"max_jobs": self.history_max_jobs,
                "max_age_seconds": None if days is None else days * 86400.0}

    def _prune_history(self) -> None:
        # Queued on the history's writer thread: never blocks the server's event loop.
        history = self.bundle.history if self.bundle is not None else None
        if history is not None:
            history.store.prune(**self._retention())

    def _start_retention(self) -> None:
        """Apply the history retention now and every ``history_prune_interval`` seconds."""
        limits = self._retention()
        if self.bundle is None or self.bundle.history is None or (
                limits["max_jobs"] is None and limits["max_age_seconds"] is None):
            return
        self._prune_history()
        self.bundle.history.store.flush(10.0)   # at start: listings must not show pruned jobs
        if self.serverapp is not None and self.history_prune_interval > 0:
            from tornado.ioloop import PeriodicCallback

            self._pruner = PeriodicCallback(self._prune_history,
                                            self.history_prune_interval * 1000.0)
            self._pruner.start()

    def _start_otel(self) -> None:
        """Export spans built from the server's event fan-out, which also carries kernel jobs."""
        from routilux.errors import RoutiluxError
        from routilux.monitoring.otel import enable_otel, otlp_http_provider

        try:
            provider = otlp_http_provider(self.otel_endpoint, self.otel_service_name)
        except RoutiluxError as exc:   # a missing extra or a bad URL must not stop the API
            self.log.error("routilux: no OpenTelemetry export: %s", exc)
            return
        assert self.bundle is not None
        self._otel = enable_otel(provider, registry=self.bundle.monitoring)
        self.log.info("routilux: exporting job spans to %s", self.otel_endpoint)

    def initialize_handlers(self) -> None:
        self.handlers.extend(rest_routes(self.prefix))
        self.handlers.extend(ws_routes(self.prefix))
        self.handlers.extend(dashboard_routes(self.prefix))
        if self.bridge is not None:
            self.handlers.extend(self.bridge.routes())

    async def stop_extension(self) -> None:
        """Cancel the server's live jobs, flush the history, stop the worker threads."""
        if self._pruner is not None:
            self._pruner.stop()
            self._pruner = None
        if self.bridge is not None:
            self.bridge.close()
            self.bridge = None
        if self._otel is not None:   # ends open spans, then sends what the batcher holds
            self._otel.close()
            self._otel.provider.shutdown()
            self._otel = None
        if self.bundle is not None:
            self.bundle.close()
            self.bundle = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
