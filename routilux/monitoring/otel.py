"""OpenTelemetry export of routilux jobs: a span per job, a child span per activation.

``enable_otel()`` turns the monitoring event stream (:class:`~routilux.monitoring.event_manager.
JobEventManager`, the same one the WebSockets read) into spans. Spans are built from events, not
from engine hooks, so one mechanism covers jobs this process runs *and* jobs whose events reach it
from elsewhere: in a Jupyter server, kernel-owned jobs arrive through the bridge into the same
fan-out. The engine's single hook slot stays monitoring's.

Nothing from ``opentelemetry`` is imported until ``enable_otel()`` (or :func:`otlp_http_provider`)
runs; install it with ``pip install routilux[otel]``.

Threads: the event manager calls our ``notify`` on the publishing (engine) thread, which only sets
a flag; a daemon thread drains the subscription and builds spans, so the engine never waits on
OpenTelemetry. Span names, attributes and events are listed in :mod:`routilux.monitoring._otel_spans`
and in the user guide (``docs/user_guide/observability.rst``).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from routilux.errors import OptionalDependencyError

if TYPE_CHECKING:
    from routilux.monitoring.event_manager import Subscription
    from routilux.monitoring.registry import MonitoringRegistry

__all__ = ["OtelTracing", "disable_otel", "enable_otel", "otlp_http_provider"]

logger = logging.getLogger(__name__)

#: Events buffered between the engine and the span-building thread. A burst larger than this
#: loses spans (counted in :attr:`OtelTracing.dropped`), never blocks a job.
DEFAULT_MAX_QUEUE = 10_000

_active: OtelTracing | None = None
_active_lock = threading.Lock()


def _require_otel() -> None:
    try:
        import opentelemetry.trace  # noqa: F401
    except ImportError as exc:
        raise OptionalDependencyError(
            "OpenTelemetry export needs the opentelemetry packages: pip install routilux[otel]",
            detail={"extra": "otel"},
        ) from exc


class OtelTracing:
    """A running export: one subscription to every job's events, one span-building thread.

    Returned by :func:`enable_otel`; :meth:`close` (or :func:`disable_otel`) stops it.
    """

    def __init__(self, tracer: Any, registry: MonitoringRegistry, *,
                 max_queue: int = DEFAULT_MAX_QUEUE, provider: Any = None) -> None:
        from routilux.monitoring._otel_spans import SpanBuilder

        self.registry = registry
        self.provider = provider
        self._builder = SpanBuilder(tracer)
        self._wake = threading.Event()
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._sub: Subscription = registry.event_manager.subscribe_all(
            max_queue, notify=self._wake.set)
        self._thread = threading.Thread(target=self._run, name="routilux-otel", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Events lost because the span-building thread fell behind (their spans are missing)."""
        return self._builder.dropped

    def _run(self) -> None:
        sub, builder = self._sub, self._builder
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._cond:
                self._busy = True
            try:
                for item in sub.drain():
                    try:
                        builder.handle(item)
                    except Exception:  # one odd event must not end the export
                        logger.exception("routilux: could not turn an event into a span")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
            if self._closed and not sub.qsize():
                return

    def flush(self, timeout: float = 10.0) -> bool:
        """Turn every event published so far into spans and flush the tracer provider.

        Returns ``False`` if that did not finish within ``timeout`` seconds.
        """
        sub = self._sub
        with self._cond:
            done = self._cond.wait_for(lambda: not self._busy and not sub.qsize(), timeout)
        force = getattr(self.provider, "force_flush", None)
        if done and force is not None:
            done = bool(force(int(timeout * 1000)))
        return done

    def close(self, timeout: float = 10.0) -> None:
        """Stop exporting: spans of events already published are still built; jobs still open
        get their spans ended (``routilux.status`` = ``"unfinished"``)."""
        if self._closed:
            return
        self._sub.close()
        self._closed = True
        self._wake.set()
        self._thread.join(timeout)
        self._builder.end_all()

    def __enter__(self) -> OtelTracing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def enable_otel(
    tracer_provider: Any = None, *, registry: MonitoringRegistry | None = None,
    max_queue: int = DEFAULT_MAX_QUEUE,
) -> OtelTracing:
    """Export every job's trace as OpenTelemetry spans from now on; returns the running export.

    ``tracer_provider``: an ``opentelemetry.sdk.trace.TracerProvider`` (or any provider); ``None``
    uses the global one (``opentelemetry.trace.set_tracer_provider``). ``registry``: whose event
    stream to read (default: the process-wide :class:`~routilux.monitoring.MonitoringRegistry`,
    which this enables). Calling it again replaces the previous export.

    Raises :class:`~routilux.errors.OptionalDependencyError` without ``routilux[otel]``.
    """
    global _active
    _require_otel()
    from opentelemetry import trace

    from routilux import __version__
    from routilux.monitoring.registry import MonitoringRegistry

    if registry is None:
        registry = MonitoringRegistry.get_instance()
    registry.enable()
    provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    tracer = provider.get_tracer("routilux", __version__)
    with _active_lock:
        previous, _active = _active, None
    if previous is not None:
        previous.close()
    handle = OtelTracing(tracer, registry, max_queue=max_queue, provider=provider)
    with _active_lock:
        _active = handle
    return handle


def disable_otel() -> None:
    """Stop the export started by :func:`enable_otel` (idempotent)."""
    global _active
    with _active_lock:
        handle, _active = _active, None
    if handle is not None:
        handle.close()


def otlp_endpoint(url: str) -> str:
    """The OTLP/HTTP traces URL for ``url``: a bare collector address gets ``/v1/traces``."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        from routilux.errors import ValidationError

        raise ValidationError(
            f"otel_endpoint must be an http(s) URL such as http://localhost:4318, got {url!r}",
            detail={"field": "otel_endpoint"})
    path = parts.path if parts.path not in ("", "/") else "/v1/traces"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def otlp_http_provider(endpoint: str, service_name: str = "routilux") -> Any:
    """An SDK ``TracerProvider`` that batches spans to an OTLP/HTTP collector at ``endpoint``.

    ``endpoint`` is the collector's base URL (``http://localhost:4318``, ``/v1/traces`` is added)
    or the full traces URL. Batching follows the standard ``OTEL_BSP_*`` environment variables.
    """
    _require_otel()
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise OptionalDependencyError(
            "OTLP/HTTP export needs opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http: "
            "pip install routilux[otel]", detail={"extra": "otel"}) from exc
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint(endpoint))))
    return provider
