"""Turns routilux trace events (the dicts of the live event stream) into OpenTelemetry spans.

Imported only by :func:`routilux.monitoring.otel.enable_otel`, so importing it may import
``opentelemetry``. One :class:`SpanBuilder` is fed by one thread, in each job's event order.

Mapping (the names are a documented contract, see ``docs/user_guide/observability.rst``):

* ``job_start`` opens the **job span** ``job <flow_id>``; the terminal event (``job_completed``,
  ``job_failed``, ``job_cancelled``, ``job_lost``) ends it. Failed or lost: status ERROR plus an
  ``exception`` span event.
* ``routine_start`` opens an **activation span** ``<routine_id>.<slot_name>``, a child of the job
  span, with a span *link* to the activation span whose emit fed it (``source_activation_id``);
  ``routine_complete`` ends it, ``routine_error`` ends it with status ERROR and an ``exception``
  span event (type and message; the stream carries no traceback).
* ``event_emit`` -> span event ``emit`` on the emitting activation's span; ``breakpoint_hit`` ->
  ``breakpoint`` on the activation's span when it is running, else on the job span;
  ``job_paused`` / ``job_resumed`` -> ``pause`` / ``resume`` on the job span.

Span times are the events' own timestamps, so spans built later (or from a kernel's events
relayed by the server) still show when things happened. Success leaves the status UNSET, as the
OpenTelemetry spec asks of instrumentation; ``routilux.status`` says how each span ended.
"""

from __future__ import annotations

import calendar
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanContext, Status, StatusCode

__all__ = ["SpanBuilder"]

MAX_OPEN_JOBS = 4096        # jobs with an open span; beyond it the oldest is ended (unfinished)
MAX_LINK_TARGETS = 4096     # per job: ended activation spans a later activation may still link to

_TERMINAL = {"job_completed": "completed", "job_failed": "failed",
             "job_cancelled": "cancelled", "job_lost": "lost"}

_ts_cache: tuple[str, int] = ("", 0)


def _ns(value: Any) -> int:
    """An event's ISO 8601 UTC timestamp as epoch nanoseconds (now, for a missing one)."""
    global _ts_cache
    if not isinstance(value, str) or len(value) < 19:
        return time.time_ns()
    # The seconds part repeats across a burst of events: parse it once per second.
    head = value[:19]
    cached = _ts_cache
    if cached[0] == head:
        secs = cached[1]
    else:
        try:
            secs = calendar.timegm(datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").timetuple())
        except ValueError:
            return time.time_ns()
        _ts_cache = (head, secs)
    frac = value[19:].rstrip("Z")
    micros = int(frac[1:7].ljust(6, "0")) if frac.startswith(".") and frac[1:7].isdigit() else 0
    return (secs * 1_000_000 + micros) * 1000


def _attrs(**values: Any) -> dict[str, Any]:
    """``routilux.<name>`` attributes, leaving out ``None`` (OTel attributes cannot be null)."""
    return {f"routilux.{k}": v for k, v in values.items() if v is not None}


def _exception_attrs(error: str) -> dict[str, str]:
    """Semantic-convention ``exception.*`` attributes from the stream's ``"Type: message"``."""
    kind, sep, message = error.partition(": ")
    if sep and kind.isidentifier():
        return {"exception.type": kind, "exception.message": message}
    return {"exception.type": "Error", "exception.message": error}


@dataclass
class _Job:
    """The open spans of one job."""

    span: Span
    context: Context
    flow_id: str | None
    running: dict[int, Span] = field(default_factory=dict)           # activation id -> span
    links: OrderedDict[int, SpanContext] = field(default_factory=OrderedDict)


class SpanBuilder:
    """Feeds on event dicts (``handle``) and starts, annotates and ends spans on ``tracer``."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer
        self.jobs: OrderedDict[str, _Job] = OrderedDict()
        self.dropped = 0

    # ---- input ----------------------------------------------------------------------------
    def handle(self, item: dict[str, Any]) -> None:
        """Apply one item of the stream (an event dict or a ``gap`` marker)."""
        kind = item.get("type")
        if kind == "gap":
            self.dropped += int(item.get("dropped") or 0)
            return
        if kind != "event":
            return
        job_id = item.get("job_id")
        if not isinstance(job_id, str):
            return
        etype = item.get("event_type")
        ts = _ns(item.get("timestamp"))
        if etype == "job_start":
            self._job(job_id, item, ts, fresh=True)
        elif etype == "routine_start":
            self._start_activation(self._job(job_id, item, ts), item, ts)
        elif etype in ("routine_complete", "routine_error"):
            self._end_activation(self._job(job_id, item, ts), item, ts)
        elif etype == "event_emit":
            job = self._job(job_id, item, ts)
            target = job.running.get(item.get("activation_id"), job.span)  # type: ignore[arg-type]
            target.add_event("emit", _attrs(routine_id=item.get("routine_id"),
                                            event_name=item.get("event_name"),
                                            activation_id=item.get("activation_id")), ts)
        elif etype == "breakpoint_hit":
            job = self._job(job_id, item, ts)
            target = job.running.get(item.get("activation_id"), job.span)  # type: ignore[arg-type]
            target.add_event("breakpoint", _attrs(
                breakpoint_id=item.get("breakpoint_id"), breakpoint_type=item.get("breakpoint_type"),
                hit_count=item.get("hit_count"), condition=item.get("condition"),
                routine_id=item.get("routine_id"), slot_name=item.get("slot_name"),
                event_name=item.get("event_name"), activation_id=item.get("activation_id")), ts)
        elif etype in ("job_paused", "job_resumed"):
            job = self._job(job_id, item, ts)
            job.span.add_event("pause" if etype == "job_paused" else "resume",
                               _attrs(reason=item.get("reason")), ts)
        elif etype in _TERMINAL:
            self._end_job(job_id, item, ts)

    # ---- jobs -------------------------------------------------------------------------------
    def _job(self, job_id: str, item: dict[str, Any], ts: int, fresh: bool = False) -> _Job:
        """The job's open spans; a job first seen mid-way (export enabled late, or its start
        was dropped) gets a span from that event on, marked ``routilux.partial``."""
        job = self.jobs.get(job_id)
        if job is not None and not fresh:
            return job
        if job is not None:   # a saved job resumed in this process starts again: new span
            self._end_job(job_id, {"status": "unfinished"}, ts)
        flow_id = item.get("flow_id")
        attributes = _attrs(job_id=job_id, flow_id=flow_id)
        if not fresh:
            attributes["routilux.partial"] = True
        span = self.tracer.start_span(f"job {flow_id}", context=Context(), start_time=ts,
                                      attributes=attributes)
        job = self.jobs[job_id] = _Job(span, trace.set_span_in_context(span), flow_id)
        while len(self.jobs) > MAX_OPEN_JOBS:
            oldest = next(iter(self.jobs))
            self._end_job(oldest, {"status": "unfinished"}, ts)
        return job

    def _end_job(self, job_id: str, item: dict[str, Any], ts: int) -> None:
        job = self.jobs.pop(job_id, None)
        if job is None:
            return
        status = _TERMINAL.get(str(item.get("event_type")), str(item.get("status") or "unfinished"))
        for act_span in job.running.values():   # cancelled or lost mid-activation
            act_span.set_attribute("routilux.status", "unfinished")
            act_span.end(ts)
        job.running.clear()
        span = job.span
        span.set_attribute("routilux.status", status)
        error = item.get("error")
        if status in ("failed", "lost"):
            message = str(error) if error else f"job {status}"
            span.set_status(Status(StatusCode.ERROR, message))
            span.add_event("exception", _exception_attrs(message), ts)
        span.end(ts)

    def end_all(self) -> None:
        """End every open span (the export is stopping)."""
        now = time.time_ns()
        for job_id in list(self.jobs):
            self._end_job(job_id, {"status": "unfinished"}, now)

    # ---- activations ----------------------------------------------------------------------
    def _start_activation(self, job: _Job, item: dict[str, Any], ts: int) -> None:
        act_id = item.get("activation_id")
        source = item.get("source_activation_id")
        links = []
        if source is not None:
            source_span = job.running.get(source)
            ctx = source_span.get_span_context() if source_span is not None else job.links.get(source)
            if ctx is not None:
                links.append(Link(ctx, _attrs(link="emit", activation_id=source)))
        rid, slot = item.get("routine_id"), item.get("slot_name")
        span = self.tracer.start_span(
            f"{rid}.{slot}", context=job.context, start_time=ts, links=links,
            attributes=_attrs(job_id=item.get("job_id"), flow_id=job.flow_id, routine_id=rid,
                              slot_name=slot, activation_id=act_id,
                              source_activation_id=source))
        if isinstance(act_id, int):
            previous = job.running.pop(act_id, None)
            if previous is not None:   # its end was lost in a gap
                previous.end(ts)
            job.running[act_id] = span

    def _end_activation(self, job: _Job, item: dict[str, Any], ts: int) -> None:
        act_id = item.get("activation_id")
        span = job.running.pop(act_id, None)  # type: ignore[arg-type]
        if span is None:
            return
        duration = item.get("duration")
        if isinstance(duration, (int, float)):
            span.set_attribute("routilux.duration_ms", float(duration) * 1000.0)
        if item.get("event_type") == "routine_error":
            error = str(item.get("error") or "routine failed")
            span.set_attribute("routilux.status", "failed")
            span.set_status(Status(StatusCode.ERROR, error))
            span.add_event("exception", _exception_attrs(error), ts)
        else:
            span.set_attribute("routilux.status", "completed")
        span.end(ts)
        links = job.links
        links[act_id] = span.get_span_context()  # type: ignore[index]
        if len(links) > MAX_LINK_TARGETS:
            links.popitem(last=False)
