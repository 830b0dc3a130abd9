"""A tiny OTLP/HTTP trace receiver for tests: ``POST /v1/traces`` decoded with opentelemetry-proto.

Only the standard library and ``opentelemetry-proto`` (part of ``routilux[otel]``).
"""

from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

__all__ = ["OtlpReceiver", "ReceivedSpan"]


class ReceivedSpan:
    """One exported span, flattened: name, ids, parent, links, attributes, events, status."""

    def __init__(self, span: Any, resource: dict[str, Any]) -> None:
        self.name: str = span.name
        self.trace_id: bytes = span.trace_id
        self.span_id: bytes = span.span_id
        self.parent_span_id: bytes = span.parent_span_id
        self.links: list[bytes] = [link.span_id for link in span.links]
        self.attributes = _attrs(span.attributes)
        self.events = [(e.name, _attrs(e.attributes)) for e in span.events]
        self.status_code: int = span.status.code      # 0 unset, 1 ok, 2 error
        self.resource = resource

    def __repr__(self) -> str:
        return f"ReceivedSpan({self.name!r}, {self.attributes.get('routilux.job_id')!r})"


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def _attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


class OtlpReceiver:
    """Listens on 127.0.0.1 (a free port); ``endpoint`` is its base URL. A context manager."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                request = trace_service_pb2.ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver._add(request)
                reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _add(self, request: Any) -> None:
        got = []
        for rs in request.resource_spans:
            resource = _attrs(rs.resource.attributes)
            for ss in rs.scope_spans:
                got.extend(ReceivedSpan(span, resource) for span in ss.spans)
        with self._cond:
            self.requests += 1
            self.spans.extend(got)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[ReceivedSpan]], Any], timeout: float,
                 what: str) -> Any:
        """Block until ``predicate(spans)`` is truthy (re-checked on every export)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(list(self.spans))
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}; "
                                         f"received {self.spans!r}")
                self._cond.wait(left)

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
