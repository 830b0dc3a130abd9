"""OpenTelemetry export: spans built from the event stream, checked with the SDK's in-memory exporter."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode  # noqa: E402

from routilux.errors import OptionalDependencyError, ValidationError  # noqa: E402
from routilux.monitoring import MonitoringRegistry  # noqa: E402
from routilux.monitoring.otel import OtelTracing, enable_otel, otlp_endpoint  # noqa: E402

from .helpers import pipeline  # noqa: E402


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(registry: MonitoringRegistry, exporter: InMemorySpanExporter) -> Iterator[OtelTracing]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    handle = enable_otel(provider, registry=registry)
    yield handle
    handle.close()
    provider.shutdown()


def _spans_of(exporter: InMemorySpanExporter, job_id: str) -> tuple[ReadableSpan, list[ReadableSpan]]:
    spans = [s for s in exporter.get_finished_spans()
             if s.attributes.get("routilux.job_id") == job_id]
    jobs = [s for s in spans if s.parent is None]
    assert len(jobs) == 1, [s.name for s in spans]
    return jobs[0], sorted((s for s in spans if s.parent is not None), key=lambda s: s.start_time)


def test_a_three_routine_job_is_one_job_span_with_three_linked_activation_spans(
    tracing: OtelTracing, exporter: InMemorySpanExporter
) -> None:
    flow, _ = pipeline("otel-pipe")
    job = flow.execute("r1", {"values": [1]}, timeout=10)
    assert str(job.status) == "completed"
    assert tracing.flush(10)

    job_span, acts = _spans_of(exporter, job.job_id)
    assert job_span.name == "job otel-pipe"
    assert job_span.attributes["routilux.flow_id"] == "otel-pipe"
    assert job_span.attributes["routilux.status"] == "completed"
    assert job_span.status.status_code is StatusCode.UNSET

    assert [s.name for s in acts] == ["r1.trigger", "r2.inp", "r3.inp"]
    r1, r2, r3 = acts
    for span in acts:
        assert span.parent.span_id == job_span.context.span_id
        assert span.context.trace_id == job_span.context.trace_id
        assert span.attributes["routilux.routine_id"] == span.name.split(".")[0]
        assert span.attributes["routilux.status"] == "completed"
        assert job_span.start_time <= span.start_time <= span.end_time <= job_span.end_time
    # Each activation links to the one whose emit fed it; the entry has no link.
    assert r1.links == ()
    assert [link.context.span_id for link in r2.links] == [r1.context.span_id]
    assert [link.context.span_id for link in r3.links] == [r2.context.span_id]
    assert r2.attributes["routilux.source_activation_id"] == r1.attributes["routilux.activation_id"]
    # Emits are span events on the emitting activation.
    assert [(e.name, e.attributes["routilux.event_name"]) for e in r1.events] == [("emit", "out")]
    assert [(e.name, e.attributes["routilux.event_name"]) for e in r2.events] == [("emit", "done")]


def test_a_failing_routine_marks_its_span_and_the_job_span_as_errors(
    tracing: OtelTracing, exporter: InMemorySpanExporter
) -> None:
    flow, _ = pipeline("otel-fail")
    job = flow.execute("r1", {"values": [None]}, timeout=10)   # r2 does None * 2
    assert str(job.status) == "failed"
    assert tracing.flush(10)

    job_span, acts = _spans_of(exporter, job.job_id)
    assert [s.name for s in acts] == ["r1.trigger", "r2.inp"]
    r1, r2 = acts
    assert r1.status.status_code is StatusCode.UNSET
    assert r2.status.status_code is StatusCode.ERROR
    assert "TypeError" in r2.status.description
    (exc,) = [e for e in r2.events if e.name == "exception"]
    assert exc.attributes["exception.type"] == "TypeError"
    assert "NoneType" in exc.attributes["exception.message"]
    assert r2.attributes["routilux.status"] == "failed"
    assert job_span.status.status_code is StatusCode.ERROR
    assert job_span.attributes["routilux.status"] == "failed"
    assert any(e.name == "exception" for e in job_span.events)


def _started_until_paused(registry: MonitoringRegistry, flow_id: str, job_id: str):  # type: ignore[no-untyped-def]
    """Start ``flow_id``'s pipeline with a breakpoint on r2; return (flow, job) once paused."""
    flow, _ = pipeline(flow_id)
    registry.breakpoint_manager.set_breakpoint(flow_id=flow_id, routine_id="r2")
    with registry.event_manager.subscribe(job_id) as sub:
        job = flow.start("r1", {"values": [1]}, job_id=job_id)
        while True:   # every event arrives in order; a 10 s silence fails the test
            event = sub.get(timeout=10)
            assert event is not None, "the job never paused"
            if event.get("event_type") == "job_paused":
                return flow, job


def test_breakpoints_and_pauses_are_span_events(
    registry: MonitoringRegistry, tracing: OtelTracing, exporter: InMemorySpanExporter
) -> None:
    flow, job = _started_until_paused(registry, "otel-bp", "otel-bp-job")
    flow.resume(job)
    assert job.wait(10) and str(job.status) == "completed"
    assert tracing.flush(10)

    job_span, acts = _spans_of(exporter, job.job_id)
    names = [e.name for e in job_span.events]
    # The breakpoint stops r2 before it starts, so it is an event of the job span.
    assert names.index("breakpoint") < names.index("pause") < names.index("resume")
    (bp,) = [e for e in job_span.events if e.name == "breakpoint"]
    assert bp.attributes["routilux.routine_id"] == "r2"
    assert bp.attributes["routilux.hit_count"] == 1
    assert len(acts) == 3


def test_closing_the_export_ends_the_spans_of_jobs_still_running(
    registry: MonitoringRegistry, exporter: InMemorySpanExporter
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    handle = enable_otel(provider, registry=registry)
    flow, job = _started_until_paused(registry, "otel-open", "otel-open-job")
    handle.close()
    (job_span,) = [s for s in exporter.get_finished_spans() if s.parent is None]
    assert job_span.attributes["routilux.status"] == "unfinished"
    assert [s.name for s in exporter.get_finished_spans() if s.parent is not None] == ["r1.trigger"]
    flow.cancel(job)
    assert job.wait(10)
    provider.shutdown()


def test_otlp_endpoint_adds_the_traces_path_only_to_a_bare_address() -> None:
    assert otlp_endpoint("http://collector:4318") == "http://collector:4318/v1/traces"
    assert otlp_endpoint("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert otlp_endpoint("https://x.example/otlp/v1/traces") == "https://x.example/otlp/v1/traces"
    with pytest.raises(ValidationError, match="http"):
        otlp_endpoint("collector:4318")


def test_importing_routilux_and_monitoring_loads_no_opentelemetry() -> None:
    code = (
        "import sys, routilux, routilux.monitoring, routilux.monitoring.otel\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('opentelemetry'))\n"
        "print(loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_enable_otel_without_the_extra_says_how_to_install_it() -> None:
    code = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None\n"
        "from routilux.errors import OptionalDependencyError\n"
        "from routilux.monitoring.otel import enable_otel\n"
        "try:\n"
        "    enable_otel()\n"
        "except OptionalDependencyError as e:\n"
        "    assert isinstance(e, ImportError)\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "pip install routilux[otel]" in out.stdout
    assert OptionalDependencyError.__mro__[1].__name__ == "RoutiluxError"


def test_relayed_streams_a_job_seen_mid_way_gaps_and_a_lost_job(exporter: InMemorySpanExporter) -> None:
    from routilux.monitoring._otel_spans import SpanBuilder

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    builder = SpanBuilder(provider.get_tracer("test"))
    t = "2026-01-02T03:04:05.000100Z"
    base = {"type": "event", "job_id": "k1", "flow_id": "kf", "timestamp": t}
    builder.handle({**base, "event_type": "routine_start", "routine_id": "a", "slot_name": "in",
                    "activation_id": 7})
    builder.handle({"type": "gap", "dropped": 3})
    builder.handle({**base, "event_type": "job_lost", "status": "lost",
                    "error": "The kernel that ran this job went away"})

    spans = {s.name: s for s in exporter.get_finished_spans()}
    job, act = spans["job kf"], spans["a.in"]
    assert job.attributes["routilux.partial"] is True
    assert job.start_time == 1767323045_000100_000
    assert job.status.status_code is StatusCode.ERROR and "went away" in job.status.description
    assert act.attributes["routilux.status"] == "unfinished"
    assert builder.dropped == 3 and builder.jobs == {}
    provider.shutdown()
