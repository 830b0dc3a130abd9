"""REST handlers: parse, call the service, serialize. The route table is at the bottom.

Authorization (``auth_resource = "routilux"``): reads need ``read``, creating flows, jobs and
breakpoints needs ``write``, controlling a job (pause, resume, cancel, stepping, editing variables)
needs ``execute``. Cookie-authenticated writes need the XSRF token (checked by Jupyter's
``prepare``), token-authenticated ones do not.
"""

from __future__ import annotations

import re
from typing import Any

from jupyter_server.auth.decorator import authorized

from routilux.errors import NotFoundError
from routilux.service.requests import parse_trace_format
from routilux_jupyter.server.base import RoutiluxAPIHandler
from routilux_jupyter.server.openapi import OPENAPI_ROUTE, build_document

__all__ = ["rest_routes"]

# Path pieces; ids are one URL segment (tornado unquotes them before they reach a handler).
_ID = r"([^/]+)"
_STEP = r"(step[_-]over|step[_-]into|step[_-]out|resume|continue)"


class FlowsHandler(RoutiluxAPIHandler):
    """``GET /api/flows`` lists flows; ``POST /api/flows`` builds one from a DSL spec."""

    @authorized
    async def get(self) -> None:
        self.reply(await self.call(self.service.list_flows))

    @authorized
    async def post(self) -> None:
        body = self.json_body()
        self.reply(await self.call(self.service.create_flow, body), 201)


class FlowHandler(RoutiluxAPIHandler):
    """``GET``/``DELETE /api/flows/{flow_id}`` (``?kernel_id=`` picks among same-named flows)."""

    @authorized
    async def get(self, flow_id: str) -> None:
        kernel_id = self.get_query_argument("kernel_id", None)
        self.reply(await self.call(self.service.get_flow, flow_id, kernel_id))

    @authorized
    async def delete(self, flow_id: str) -> None:
        kernel_id = self.get_query_argument("kernel_id", None)
        await self.call(self.service.delete_flow, flow_id, kernel_id)
        self.reply_empty()


class JobsHandler(RoutiluxAPIHandler):
    """``GET /api/jobs?flow_id=&status=&limit=&offset=``; ``POST /api/jobs`` starts a job."""

    @authorized
    async def get(self) -> None:
        self.reply(await self.call(self.service.list_jobs, self.query()))

    @authorized
    async def post(self) -> None:
        body = self.json_body()
        self.reply(await self.call(self.service.start_job, body), 201)


class JobHandler(RoutiluxAPIHandler):
    """``GET /api/jobs/{job_id}`` (live or from the history); ``PUT`` ``{label?, pinned?}``."""

    @authorized
    async def get(self, job_id: str) -> None:
        self.reply(await self.call(self.service.get_job, job_id))

    @authorized
    async def put(self, job_id: str) -> None:
        body = self.json_body()
        self.reply(await self.call(self.service.annotate_job, job_id, body))


class RerunHandler(RoutiluxAPIHandler):
    """``POST /api/jobs/{job_id}/rerun`` ``{seq, data?}`` -> 201 the forked job."""

    @authorized("execute")
    async def post(self, job_id: str) -> None:
        body = self.json_body()
        self.reply(await self.call(self.service.rerun_job, job_id, body), 201)


class ReplayHandler(RoutiluxAPIHandler):
    """``POST /api/jobs/{job_id}/replay`` -> 201 the new job."""

    @authorized("execute")
    async def post(self, job_id: str) -> None:
        self.reply(await self.call(self.service.replay_job, job_id), 201)


class DiffHandler(RoutiluxAPIHandler):
    """``GET /api/jobs/{a}/diff/{b}``."""

    @authorized
    async def get(self, job_a: str, job_b: str) -> None:
        self.reply(await self.call(self.service.diff_jobs, job_a, job_b))


class ActivationsHandler(RoutiluxAPIHandler):
    """``GET /api/jobs/{job_id}/activations?seq=`` (recorded inputs and emits)."""

    @authorized
    async def get(self, job_id: str) -> None:
        seq = self.get_query_argument("seq", None)
        self.reply(await self.call(self.service.get_activations, job_id, seq))


class JobActionHandler(RoutiluxAPIHandler):
    """``POST /api/jobs/{job_id}/{pause,resume,cancel}``."""

    @authorized("execute")
    async def post(self, job_id: str, action: str) -> None:
        self.reply(await self.call(self.service.control_job, job_id, action))


class MetricsHandler(RoutiluxAPIHandler):
    """``GET /api/jobs/{job_id}/metrics``."""

    @authorized
    async def get(self, job_id: str) -> None:
        self.reply(await self.call(self.service.get_metrics, job_id))


class TraceHandler(RoutiluxAPIHandler):
    """``GET /api/jobs/{job_id}/trace?limit=&format=json|csv``."""

    @authorized
    async def get(self, job_id: str) -> None:
        limit = self.get_query_argument("limit", None)
        if parse_trace_format(self.get_query_argument("format", None)) == "csv":
            text = await self.call(self.service.get_trace_csv, job_id, limit)
            # (APIHandler.finish would stamp application/json over a set_header)
            self.finish(text, set_content_type="text/csv; charset=utf-8")
            return
        self.reply(await self.call(self.service.get_trace, job_id, limit))


class BreakpointsHandler(RoutiluxAPIHandler):
    """``GET``/``POST /api/jobs/{job_id}/breakpoints``."""

    @authorized
    async def get(self, job_id: str) -> None:
        self.reply(await self.call(self.service.list_breakpoints, job_id))

    @authorized
    async def post(self, job_id: str) -> None:
        body = self.json_body()
        self.reply(await self.call(self.service.add_breakpoint, job_id, body), 201)


class BreakpointHandler(RoutiluxAPIHandler):
    """``PUT``/``DELETE /api/jobs/{job_id}/breakpoints/{breakpoint_id}``."""

    @authorized
    async def put(self, job_id: str, breakpoint_id: str) -> None:
        body = self.json_body()
        self.reply(await self.call(self.service.update_breakpoint, job_id, breakpoint_id, body))

    @authorized
    async def delete(self, job_id: str, breakpoint_id: str) -> None:
        await self.call(self.service.remove_breakpoint, job_id, breakpoint_id)
        self.reply_empty()


class DebugStepHandler(RoutiluxAPIHandler):
    """``POST /api/jobs/{job_id}/debug/{step_over,step_into,step_out,resume}`` (and hyphens)."""

    @authorized("execute")
    async def post(self, job_id: str, step: str) -> None:
        self.reply(await self.call(self.service.debug_step, job_id, step))


class DebugSessionHandler(RoutiluxAPIHandler):
    """``GET /api/jobs/{job_id}/debug/session``."""

    @authorized
    async def get(self, job_id: str) -> None:
        self.reply(await self.call(self.service.debug_session, job_id))


class VariablesHandler(RoutiluxAPIHandler):
    """``GET /api/jobs/{job_id}/debug/variables``."""

    @authorized
    async def get(self, job_id: str) -> None:
        self.reply(await self.call(self.service.get_variables, job_id))


class VariableHandler(RoutiluxAPIHandler):
    """``PUT /api/jobs/{job_id}/debug/variables/{name}`` ``{value, scope?}``."""

    @authorized("execute")
    async def put(self, job_id: str, name: str) -> None:
        body = self.json_body()
        self.reply(await self.call(self.service.set_variable, job_id, name, body))


class CallStackHandler(RoutiluxAPIHandler):
    """``GET /api/jobs/{job_id}/debug/call_stack`` (or ``call-stack``)."""

    @authorized
    async def get(self, job_id: str) -> None:
        self.reply(await self.call(self.service.get_call_stack, job_id))


class HealthHandler(RoutiluxAPIHandler):
    """``GET /api/health``."""

    @authorized
    async def get(self) -> None:
        self.reply(await self.call(self.service.health))


class OpenAPIHandler(RoutiluxAPIHandler):
    """``GET /api/routilux/openapi.json``: the OpenAPI 3.1 document of these routes.

    Built per request because it names this server's ``base_url`` and the configured prefix.
    """

    def initialize(self, prefix: str) -> None:
        self.prefix = prefix

    @authorized
    async def get(self) -> None:
        self.reply(build_document(self.prefix, self.base_url, self.service.version))


class UnknownRouteHandler(RoutiluxAPIHandler):
    """Any other path under ``/api/flows/`` or ``/api/jobs/``: a JSON 404 naming the routes."""

    def _missing(self, *args: str) -> None:
        raise NotFoundError(
            f"No routilux route {self.request.method} {self.request.path}; the routes are "
            "listed in DESIGN.md section 6 (e.g. GET /api/jobs/{job_id}/metrics).",
            detail={"path": self.request.path, "method": self.request.method},
        )

    @authorized("read")
    async def get(self, *args: str) -> None:
        self._missing()

    @authorized("read")
    async def post(self, *args: str) -> None:
        self._missing()

    @authorized("read")
    async def put(self, *args: str) -> None:
        self._missing()

    @authorized("read")
    async def delete(self, *args: str) -> None:
        self._missing()


def rest_routes(prefix: str) -> list[tuple[str, type, dict[str, Any]]]:
    """The REST routes under ``prefix`` (relative to the server's base_url)."""
    p = prefix.strip("/")
    p = f"{p}/" if p else ""
    jobs = f"{p}jobs/{_ID}"
    table: list[tuple[str, type]] = [
        (f"{p}health", HealthHandler),
        # Under "routilux/" so it can never shadow a core Jupyter route such as /api/spec.yaml.
        (f"{p}{re.escape(OPENAPI_ROUTE)}", OpenAPIHandler),
        (f"{p}flows", FlowsHandler),
        (f"{p}flows/{_ID}", FlowHandler),
        (f"{p}jobs", JobsHandler),
        (jobs, JobHandler),
        (f"{jobs}/(pause|resume|cancel)", JobActionHandler),
        (f"{jobs}/metrics", MetricsHandler),
        (f"{jobs}/trace", TraceHandler),
        (f"{jobs}/rerun", RerunHandler),
        (f"{jobs}/replay", ReplayHandler),
        (f"{jobs}/diff/{_ID}", DiffHandler),
        (f"{jobs}/activations", ActivationsHandler),
        (f"{jobs}/breakpoints", BreakpointsHandler),
        (f"{jobs}/breakpoints/{_ID}", BreakpointHandler),
        (f"{jobs}/debug/{_STEP}", DebugStepHandler),
        (f"{jobs}/debug/session", DebugSessionHandler),
        (f"{jobs}/debug/variables", VariablesHandler),
        (f"{jobs}/debug/variables/{_ID}", VariableHandler),
        (f"{jobs}/debug/call[_-]stack", CallStackHandler),
        # Last, so it only catches what nothing above matched (these paths are ours alone).
        (f"{p}(?:flows|jobs)/.*", UnknownRouteHandler),
    ]
    return [
        (pattern, handler, {"prefix": p.rstrip("/")} if handler is OpenAPIHandler else {})
        for pattern, handler in table
    ]
