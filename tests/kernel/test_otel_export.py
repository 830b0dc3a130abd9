"""``c.RoutiluxExtension.otel_endpoint`` on a real server: spans of a server-owned job and of a
kernel-owned job (whose events reach the server through the bridge) arrive at an OTLP/HTTP
receiver started by the test."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto")

from cells import LOAD, plain_flow  # noqa: E402
from harness import JupyterServer  # noqa: E402

from tests.support.otlp import OtlpReceiver, ReceivedSpan  # noqa: E402

CHAIN = {
    "flow_id": "otel_chain",
    "routines": {"a": {"class": "PassThrough"}, "b": {"class": "PassThrough"},
                 "c": {"class": "PassThrough"}},
    "connections": [{"from": "a.output", "to": "b.trigger"},
                    {"from": "b.output", "to": "c.trigger"}],
}


def _job_trace(job_id: str, activations: int) -> Any:
    """A predicate: the job's span and its ``activations`` child spans, once all arrived."""

    def check(spans: list[ReceivedSpan]) -> tuple[ReceivedSpan, list[ReceivedSpan]] | None:
        mine = [s for s in spans if s.attributes.get("routilux.job_id") == job_id]
        jobs = [s for s in mine if not s.parent_span_id]
        children = [s for s in mine if s.parent_span_id]
        if len(jobs) == 1 and len(children) == activations:
            return jobs[0], children
        return None

    return check


def _check_tree(job: ReceivedSpan, children: list[ReceivedSpan]) -> None:
    assert job.resource["service.name"] == "routilux-test"
    assert job.attributes["routilux.status"] == "completed"
    for child in children:
        assert child.parent_span_id == job.span_id and child.trace_id == job.trace_id
    by_id = {c.attributes["routilux.activation_id"]: c for c in children}
    for child in children:
        source = child.attributes.get("routilux.source_activation_id")
        assert child.links == ([] if source is None else [by_id[source].span_id])
    assert sum(1 for c in children if not c.links) == 1   # only the entry has no cause


def test_spans_of_server_and_kernel_jobs_reach_an_otlp_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server inherits this: its batch processor exports every 100 ms instead of every 5 s.
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    with OtlpReceiver() as receiver:
        server = JupyterServer(tmp_path, secrets.token_hex(16), extra_args=(
            f"--RoutiluxExtension.otel_endpoint={receiver.endpoint}",
            "--RoutiluxExtension.otel_service_name=routilux-test"))
        kernel = None
        try:
            assert "exporting job spans to" in server.log()
            # A job the server runs.
            server.api("POST", "flows", {"spec": CHAIN}, expect=201)
            job_id = server.api("POST", "jobs", {"flow_id": "otel_chain", "entry_routine_id": "a",
                                                 "entry_params": {"x": 1}}, expect=201)["job_id"]
            job, children = receiver.wait_for(_job_trace(job_id, 3), 30, "the server job's spans")
            assert job.name == "job otel_chain"
            assert sorted(c.name for c in children) == ["a.trigger", "b.trigger", "c.trigger"]
            _check_tree(job, children)

            # A job a kernel runs: its events reach the server through the bridge.
            kernel = server.start_kernel("otel.ipynb")
            kernel.run(LOAD)
            kernel.run(plain_flow("otel_kernel"))
            kernel_job = kernel.value("flow.execute('src', {'n': 2}, timeout=10).job_id")
            job, children = receiver.wait_for(_job_trace(kernel_job, 3), 30,
                                              "the kernel job's spans")
            assert job.attributes["routilux.flow_id"] == "otel_kernel"
            assert sorted(c.name for c in children) == ["sink.inp", "sink.inp", "src.trigger"]
            _check_tree(job, children)
            src = next(c for c in children if c.name == "src.trigger")
            assert [name for name, _ in src.events] == ["emit", "emit"]
        finally:
            if kernel is not None:
                kernel.close()
                server.call("DELETE", f"api/kernels/{kernel.kernel_id}")
            server.stop()
