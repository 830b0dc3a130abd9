"""``Client``: one method per REST route of DESIGN.md §6, typed results, live event streams."""

from __future__ import annotations

import time
from typing import Any

from routilux_jupyter.client.discovery import ServerInfo, discover
from routilux_jupyter.client.models import (
    Breakpoint,
    CallStack,
    DebugSession,
    Flow,
    Health,
    Job,
    JobStatus,
    Listing,
    Metrics,
    Trace,
    VariableChange,
    Variables,
    _dicts,
)
from routilux_jupyter.client.transport import Transport, segment
from routilux_jupyter.client.watch import AsyncJobWatch, JobWatch

__all__ = ["Client", "connect"]

_STEPS = ("step_over", "step_into", "step_out", "resume")
_POLL = 0.05  # seconds between debug-session reads in wait_paused (a step pauses within ms)


def connect(url: str | None = None, token: str | None = None, *, prefix: str = "api",
            timeout: float = 30.0) -> Client:
    """A :class:`Client` of the server at ``url``, or of the one discovery finds.

    Without ``url``: ``ROUTILUX_SERVER_URL`` (and ``ROUTILUX_TOKEN``), else, inside a kernel,
    the server running that kernel, else the first running Jupyter server whose routilux API
    answers. Raises :class:`~routilux_jupyter.client.ServerNotFoundError` saying how to point
    at one when none is found. ``prefix`` is ``c.RoutiluxExtension.prefix`` of the server.
    """
    info = discover(url, token, prefix=prefix)
    return Client(info.url, info.token, prefix=prefix, timeout=timeout, source=info.source)


class Client:
    """Talks to the routilux API of one Jupyter server, with its token.

    Every method maps to one route and returns a dataclass from
    :mod:`routilux_jupyter.client.models` (the server's dict stays on ``.raw``). Errors are
    routilux's own classes: 400 ``ValidationError``, 404 ``NotFoundError``, 409
    ``InvalidStateError`` (``AmbiguousError`` when the detail lists candidates), 503
    ``OwnerUnavailableError``, 504 ``OwnerTimeoutError``, other statuses ``RoutiluxError``;
    each carries the server's message, ``detail`` and ``status``.
    """

    def __init__(self, url: str, token: str = "", *, prefix: str = "api", timeout: float = 30.0,
                 source: str = "argument") -> None:
        self.info = ServerInfo(url if url.endswith("/") else url + "/", token, source)
        self._http = Transport(self.info.url, token, prefix=prefix, timeout=timeout)

    @property
    def url(self) -> str:
        """The server's URL (base_url included, trailing slash)."""
        return self.info.url

    def __repr__(self) -> str:
        return f"<routilux Client {self.url} (found by {self.info.source})>"

    def _job(self, job_id: str, rest: str = "") -> str:
        return f"jobs/{segment(job_id)}{rest}"

    # -- server ------------------------------------------------------------------------------

    def health(self) -> Health:
        """``GET /api/health``: version, counts and the owners (server, connected kernels)."""
        return Health.from_dict(self._http.request("GET", "health"))

    # -- flows -------------------------------------------------------------------------------

    def flows(self) -> Listing[Flow]:
        """``GET /api/flows``: every flow, in the server and in connected kernels."""
        data = self._http.request("GET", "flows")
        return Listing([Flow.from_dict(f) for f in _dicts(data["flows"])], data["total"], raw=data)

    def flow(self, flow_id: str, *, kernel_id: str | None = None) -> Flow:
        """``GET /api/flows/{flow_id}``; ``kernel_id`` picks among same-named flows."""
        return Flow.from_dict(self._http.request(
            "GET", f"flows/{segment(flow_id)}", query={"kernel_id": kernel_id}))

    def create_flow(self, *, dsl: str | None = None, spec: dict[str, Any] | None = None,
                    flow_id: str | None = None, execution_strategy: str | None = None,
                    max_workers: int | None = None, kernel_id: str | None = None) -> Flow:
        """``POST /api/flows`` from YAML text (``dsl``) or a dict (``spec``) of registered classes."""
        body = {"dsl": dsl, "spec": spec, "flow_id": flow_id,
                "execution_strategy": execution_strategy, "max_workers": max_workers,
                "kernel_id": kernel_id}
        return Flow.from_dict(self._http.request(
            "POST", "flows", {k: v for k, v in body.items() if v is not None}))

    def delete_flow(self, flow_id: str, *, kernel_id: str | None = None) -> None:
        """``DELETE /api/flows/{flow_id}``."""
        self._http.request("DELETE", f"flows/{segment(flow_id)}", query={"kernel_id": kernel_id})

    # -- jobs --------------------------------------------------------------------------------

    def jobs(self, *, flow_id: str | None = None, status: str | None = None,
             limit: int | None = None, offset: int | None = None) -> Listing[Job]:
        """``GET /api/jobs`` with optional filters; ``.total`` counts all matches."""
        data = self._http.request("GET", "jobs", query={
            "flow_id": flow_id, "status": status, "limit": limit, "offset": offset})
        return Listing([Job.from_dict(j) for j in _dicts(data["jobs"])], data["total"], raw=data)

    def job(self, job_id: str) -> Job:
        """``GET /api/jobs/{job_id}`` (live, or from the server's history)."""
        return Job.from_dict(self._http.request("GET", self._job(job_id)))

    def start_job(self, flow_id: str, entry_routine_id: str,
                  entry_params: dict[str, Any] | None = None, *, entry_slot: str = "trigger",
                  breakpoints: list[dict[str, Any]] | None = None,
                  kernel_id: str | None = None) -> Job:
        """``POST /api/jobs``: start a job (in the kernel that holds the flow, if any).

        ``breakpoints`` are armed before the first activation, e.g.
        ``[{"routine_id": "charge", "condition": "amount > 30"}]``.
        """
        body: dict[str, Any] = {"flow_id": flow_id, "entry_routine_id": entry_routine_id,
                                "entry_slot": entry_slot, "entry_params": entry_params or {}}
        if breakpoints:
            body["breakpoints"] = breakpoints
        if kernel_id is not None:
            body["kernel_id"] = kernel_id
        return Job.from_dict(self._http.request("POST", "jobs", body))

    def pause(self, job_id: str) -> JobStatus:
        """``POST /api/jobs/{job_id}/pause``: stop before the job's next activation."""
        return JobStatus.from_dict(self._http.request("POST", self._job(job_id, "/pause")))

    def resume(self, job_id: str) -> JobStatus:
        """``POST /api/jobs/{job_id}/resume``: also continues a job paused in the debugger."""
        return JobStatus.from_dict(self._http.request("POST", self._job(job_id, "/resume")))

    def cancel(self, job_id: str) -> JobStatus:
        """``POST /api/jobs/{job_id}/cancel``."""
        return JobStatus.from_dict(self._http.request("POST", self._job(job_id, "/cancel")))

    def metrics(self, job_id: str) -> Metrics:
        """``GET /api/jobs/{job_id}/metrics``."""
        return Metrics.from_dict(self._http.request("GET", self._job(job_id, "/metrics")))

    def trace(self, job_id: str, *, limit: int | None = None) -> Trace:
        """``GET /api/jobs/{job_id}/trace``: the buffered events, oldest first (the last
        ``limit`` of them when given)."""
        return Trace.from_dict(self._http.request("GET", self._job(job_id, "/trace"),
                                                  query={"limit": limit}))

    # -- breakpoints -------------------------------------------------------------------------

    def breakpoints(self, job_id: str) -> Listing[Breakpoint]:
        """``GET /api/jobs/{job_id}/breakpoints`` (the job's and its flow's)."""
        data = self._http.request("GET", self._job(job_id, "/breakpoints"))
        return Listing([Breakpoint.from_dict(b) for b in _dicts(data["breakpoints"])], data["total"],
                       raw=data)

    def add_breakpoint(self, job_id: str, routine_id: str, *, slot_name: str | None = None,
                       event_name: str | None = None, condition: str | None = None,
                       type: str | None = None, enabled: bool = True) -> Breakpoint:
        """``POST /api/jobs/{job_id}/breakpoints``.

        ``type`` defaults from what is given: ``slot`` with ``slot_name``, ``event`` with
        ``event_name``, else ``routine``. ``condition`` is an expression over the payload
        (``amount > 30``); a bad one is a ``ValidationError`` with the reason.
        """
        body = {"type": type, "routine_id": routine_id, "slot_name": slot_name,
                "event_name": event_name, "condition": condition, "enabled": enabled}
        return Breakpoint.from_dict(self._http.request(
            "POST", self._job(job_id, "/breakpoints"),
            {k: v for k, v in body.items() if v is not None}))

    def update_breakpoint(self, job_id: str, breakpoint_id: str, *, enabled: bool | None = None,
                          condition: str | None = None, clear_condition: bool = False
                          ) -> Breakpoint:
        """``PUT /api/jobs/{job_id}/breakpoints/{id}``: switch it, or change its condition."""
        body: dict[str, Any] = {}
        if enabled is not None:
            body["enabled"] = enabled
        if condition is not None or clear_condition:
            body["condition"] = condition
        return Breakpoint.from_dict(self._http.request(
            "PUT", self._job(job_id, f"/breakpoints/{segment(breakpoint_id)}"), body))

    def remove_breakpoint(self, job_id: str, breakpoint_id: str) -> None:
        """``DELETE /api/jobs/{job_id}/breakpoints/{id}``."""
        self._http.request("DELETE", self._job(job_id, f"/breakpoints/{segment(breakpoint_id)}"))

    # -- debugger ----------------------------------------------------------------------------

    def debug_session(self, job_id: str) -> DebugSession:
        """``GET /api/jobs/{job_id}/debug/session``: status, and where it is paused."""
        return DebugSession.from_dict(self._http.request("GET", self._job(job_id, "/debug/session")))

    def variables(self, job_id: str) -> Variables:
        """``GET /api/jobs/{job_id}/debug/variables``: ``.local`` and ``.shared``."""
        return Variables.from_dict(self._http.request("GET", self._job(job_id, "/debug/variables")))

    def set_variable(self, job_id: str, name: str, value: Any, *,
                     scope: str | None = None) -> VariableChange:
        """``PUT /api/jobs/{job_id}/debug/variables/{name}``: edit the payload the paused handler
        will receive, a frame local (``scope="local"``, the default) or shared data."""
        body: dict[str, Any] = {"value": value}
        if scope is not None:
            body["scope"] = scope
        return VariableChange.from_dict(self._http.request(
            "PUT", self._job(job_id, f"/debug/variables/{segment(name)}"), body))

    def call_stack(self, job_id: str) -> CallStack:
        """``GET /api/jobs/{job_id}/debug/call_stack``: innermost frame first."""
        return CallStack.from_dict(self._http.request("GET", self._job(job_id, "/debug/call_stack")))

    def step(self, job_id: str, step: str) -> JobStatus:
        """``POST /api/jobs/{job_id}/debug/{step}``, ``step`` one of ``step_over``,
        ``step_into``, ``step_out``, ``resume`` (409 ``InvalidStateError`` unless paused)."""
        name = step.replace("-", "_")
        if name in ("over", "into", "out"):
            name = f"step_{name}"
        if name == "continue":
            name = "resume"
        if name not in _STEPS:
            raise ValueError(f"Unknown step {step!r}; use one of {', '.join(_STEPS)}.")
        return JobStatus.from_dict(self._http.request("POST", self._job(job_id, f"/debug/{name}")))

    def step_over(self, job_id: str) -> JobStatus:
        """Run the paused activation (or line) and pause before the next one."""
        return self.step(job_id, "step_over")

    def step_into(self, job_id: str) -> JobStatus:
        """Enter the paused handler (or call) and pause at its first line."""
        return self.step(job_id, "step_into")

    def step_out(self, job_id: str) -> JobStatus:
        """Finish the current handler and pause back at routine level."""
        return self.step(job_id, "step_out")

    def debug_resume(self, job_id: str) -> JobStatus:
        """``POST .../debug/resume``: run on until the next breakpoint."""
        return self.step(job_id, "resume")

    def wait_paused(self, job_id: str, *, after: int | None = None,
                    timeout: float = 30.0) -> DebugSession:
        """The debug session once the job is paused (with ``pause_count > after`` when given),
        or once it has ended; ``TimeoutError`` after ``timeout`` seconds.

        After a step, pass the ``pause_count`` read before it, so the pause that was just left
        is not mistaken for the next one.
        """
        deadline = time.monotonic() + timeout
        while True:
            session = self.debug_session(job_id)
            if session.is_paused and (after is None or session.pause_count > after):
                return session
            if session.status in ("completed", "failed", "cancelled", "lost"):
                return session
            if time.monotonic() > deadline:
                raise TimeoutError(f"Job {job_id!r} did not pause within {timeout} s "
                                   f"(it is {session.status}).")
            time.sleep(_POLL)

    # -- live events -------------------------------------------------------------------------

    def watch(self, job_id: str, *, timeout: float | None = None) -> JobWatch:
        """Iterate the job's events (history first, then live) until its terminal event.

        ``for event in client.watch(job_id): ...`` yields :class:`Event` and, if this reader
        fell behind, :class:`Gap` markers. Needs websocket-client (``routilux[client]``).
        """
        return JobWatch(self._http, job_id, timeout=timeout)

    def awatch(self, job_id: str, *, timeout: float | None = None) -> AsyncJobWatch:
        """``async for event in client.awatch(job_id)``: :meth:`watch` for asyncio code."""
        return AsyncJobWatch(self._http, job_id, timeout=timeout)
