"""The OpenAPI 3.1 document of the routilux REST API, built as plain data.

:func:`build_document` returns it for a route prefix (``c.RoutiluxExtension.prefix``) and a
server URL (the Jupyter server's ``base_url``); the extension serves it at
``{base_url}{prefix}/routilux/openapi.json``. Tests hold it against the routes the running
extension registers and against real answers, so a route added without a path here fails them.
No Jupyter imports here.
"""

from __future__ import annotations

from typing import Any

from routilux_jupyter.server.openapi_schemas import SCHEMAS, ref

__all__ = ["OPENAPI_ROUTE", "build_document", "operations"]

OPENAPI_ROUTE = "routilux/openapi.json"  # under the prefix: /api/routilux/openapi.json
OPENAPI_VERSION = "3.1.0"

Op = dict[str, Any]

# -- building blocks ------------------------------------------------------------------------------

_ERRORS = {
    400: ("BadRequest", "Bad input: the message says which field and what is accepted."),
    403: ("Forbidden", "Not authenticated, or not allowed (reads need 'read', creating needs "
                       "'write', controlling a job needs 'execute' on the 'routilux' resource)."),
    404: ("NotFound", "Unknown flow, job, breakpoint or kernel id."),
    409: ("Conflict", "Wrong state (e.g. stepping a job that is not paused, a job that has "
                      "ended), or an ambiguous flow id (detail lists the candidates)."),
    503: ("OwnerUnavailable", "The kernel that owns the flow or job is gone."),
    504: ("OwnerTimeout", "The kernel that owns the flow or job did not answer in time."),
}
# What any operation that reaches an owner can answer besides its success.
_OWNER_ERRORS = (403, 404, 503, 504)


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ok(status: int, schema: str, description: str) -> dict[str, Any]:
    return {str(status): {"description": description, "content": _json(ref(schema))}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/{_ERRORS[s][0]}"} for s in sorted(statuses)}


def _param(name: str, where: str, schema: dict[str, Any], description: str,
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema}


def _op(op_id: str, summary: str, permission: str, responses: dict[str, Any], *,
        tag: str, params: list[dict[str, Any]] | None = None, body: str | None = None,
        description: str = "") -> Op:
    if params or body:
        # Any id or query value can be bad input too: not UTF-8 once unquoted, out of range, ...
        responses = {**responses, **_errors(400)}
        responses = dict(sorted(responses.items()))
    op: Op = {"operationId": op_id, "summary": summary, "tags": [tag],
              "x-routilux-permission": permission, "responses": responses}
    if description:
        op["description"] = description
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": _json(ref(body))}
    return op


_JOB_ID = _param("job_id", "path", {"type": "string"}, "A job id (GET /jobs lists them).")
_FLOW_ID = _param("flow_id", "path", {"type": "string"}, "A flow id (GET /flows lists them).")
_KERNEL_QUERY = _param("kernel_id", "query", {"type": "string"},
                       "Picks among same-named flows of several kernels (else 409).")
_STEP_DOC = {
    "step_over": "Run the paused activation (or line) and pause before the next one.",
    "step_into": "Enter the paused handler and pause at its first line; inside a handler, "
                 "step into calls.",
    "step_out": "Inside a handler: run to the end of it and pause at routine level.",
    "resume": "Run until the next breakpoint (also spelled 'continue').",
}


def operations() -> dict[str, dict[str, Op]]:
    """``{path relative to the prefix: {method: operation}}`` (paths start with ``/``)."""
    job_status = _ok(200, "JobStatus", "The job's status after the action.")
    live_job = _errors(*_OWNER_ERRORS, 409)
    paths: dict[str, dict[str, Op]] = {
        "/health": {"get": _op(
            "getHealth", "Liveness and the processes that own flows", "read",
            {**_ok(200, "Health", "The server is up."), **_errors(403)}, tag="server")},
        f"/{OPENAPI_ROUTE}": {"get": _op(
            "getOpenAPI", "This document", "read",
            {"200": {"description": "The OpenAPI 3.1 document of the routilux REST API.",
                     "content": _json({"type": "object", "required": ["openapi", "paths"]})},
             **_errors(403)}, tag="server")},
        "/flows": {
            "get": _op("listFlows", "List the flows of every owner", "read",
                       {**_ok(200, "FlowList", "Every flow."), **_errors(403, 503, 504)},
                       tag="flows"),
            "post": _op("createFlow", "Build a flow from a DSL spec", "write",
                        {**_ok(201, "Flow", "The new flow."),
                         **_errors(400, *_OWNER_ERRORS, 409)},
                        tag="flows", body="FlowCreate",
                        description="In the server, or in the connected kernel kernel_id. "
                        "409 when the flow id exists there already."),
        },
        "/flows/{flow_id}": {
            "get": _op("getFlow", "One flow", "read",
                       {**_ok(200, "Flow", "The flow."), **_errors(*_OWNER_ERRORS, 409)},
                       tag="flows", params=[_FLOW_ID, _KERNEL_QUERY]),
            "delete": _op("deleteFlow", "Delete a flow", "write",
                          {"204": {"description": "Deleted; no body."},
                           **_errors(*_OWNER_ERRORS, 409)},
                          tag="flows", params=[_FLOW_ID, _KERNEL_QUERY]),
        },
        "/jobs": {
            "get": _op("listJobs", "List jobs, newest first (live and from the history)", "read",
                       {**_ok(200, "JobList", "A page of jobs."), **_errors(400, 403, 503, 504)},
                       tag="jobs", params=[
                           _param("flow_id", "query", {"type": "string"}, "Only this flow's."),
                           _param("status", "query", SCHEMAS["Job"]["properties"]["status"],
                                  "Only jobs in this status."),
                           _param("limit", "query",
                                  {"type": "integer", "minimum": 1, "maximum": 10000,
                                   "default": 100}, "Page size."),
                           _param("offset", "query",
                                  {"type": "integer", "minimum": 0, "maximum": 10**9,
                                   "default": 0}, "Jobs to skip."),
                       ]),
            "post": _op("startJob", "Start a job at an entry routine", "write",
                        {**_ok(201, "JobStarted", "Started; it runs in the flow's owner."),
                         **_errors(400, *_OWNER_ERRORS, 409)},
                        tag="jobs", body="JobStart"),
        },
        "/jobs/{job_id}": {
            "get": _op("getJob", "One job (live or from the history)", "read",
                       {**_ok(200, "Job", "The job."), **_errors(*_OWNER_ERRORS)},
                       tag="jobs", params=[_JOB_ID]),
            "put": _op("annotateJob", "Label and/or pin a job", "write",
                       {**_ok(200, "Job", "The job with the new label/pinned."),
                        **_errors(400, *_OWNER_ERRORS)},
                       tag="jobs", params=[_JOB_ID], body="JobPatch",
                       description="Pinned jobs are never evicted from memory by the job "
                       "limits nor deleted by history retention."),
        },
        "/jobs/{job_id}/activations": {"get": _op(
            "getActivations", "A job's recorded activations (inputs and emits)", "read",
            {**_ok(200, "ActivationList", "The recorded activations."),
             **_errors(400, *_OWNER_ERRORS)},
            tag="time travel", params=[
                _JOB_ID, _param("seq", "query", {"type": "integer"},
                                "Only the activation whose routine_start has this trace seq "
                                "(404 when there is none).")])},
        "/jobs/{job_id}/rerun": {"post": _op(
            "rerunJob", "Fork a job: re-run from one activation, maybe with an edited input",
            "execute",
            {**_ok(201, "JobStarted", "The fork (parent_job_id, forked_from), running."),
             **_errors(400, *_OWNER_ERRORS, 409)},
            tag="time travel", params=[_JOB_ID], body="JobRerun",
            description="409 for a job only in the history; 503 when its kernel is gone.")},
        "/jobs/{job_id}/replay": {"post": _op(
            "replayJob", "Run a job's flow again with the same entry and params", "execute",
            {**_ok(201, "JobStarted", "The new job (replay_of), running."),
             **_errors(*_OWNER_ERRORS, 409)},
            tag="time travel", params=[_JOB_ID])},
        "/jobs/{job_id}/diff/{other_job_id}": {"get": _op(
            "diffJobs", "Compare two runs of one flow", "read",
            {**_ok(200, "RunDiff", "Per routine, the first differing payload and changes."),
             **_errors(400, *_OWNER_ERRORS)},
            tag="time travel", params=[
                _JOB_ID, _param("other_job_id", "path", {"type": "string"},
                                "The run to compare with (400 when of another flow).")])},
        "/jobs/{job_id}/metrics": {"get": _op(
            "getMetrics", "A job's metrics", "read",
            {**_ok(200, "Metrics", "Counts, durations, per-routine metrics."),
             **_errors(*_OWNER_ERRORS)}, tag="jobs", params=[_JOB_ID])},
        "/jobs/{job_id}/trace": {"get": _op(
            "getTrace", "A job's recent execution events", "read",
            {"200": {"description": "The retained events, oldest first.",
                     "content": {**_json(ref("Trace")),
                                 "text/csv": {"schema": {"type": "string"}}}},
             **_errors(400, *_OWNER_ERRORS)},
            tag="jobs", params=[
                _JOB_ID,
                _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 10**6},
                       "Only the newest n events."),
                _param("format", "query", {"type": "string", "enum": ["json", "csv"],
                                           "default": "json"},
                       "csv: one row per event (text/csv) instead of JSON."),
            ])},
        "/jobs/{job_id}/breakpoints": {
            "get": _op("listBreakpoints", "A live job's breakpoints", "read",
                       {**_ok(200, "BreakpointList", "The breakpoints."), **live_job},
                       tag="debugging", params=[_JOB_ID]),
            "post": _op("addBreakpoint", "Add a breakpoint to a live job", "write",
                        {**_ok(201, "Breakpoint", "The new breakpoint."),
                         **_errors(400, *_OWNER_ERRORS, 409)},
                        tag="debugging", params=[_JOB_ID], body="BreakpointCreate"),
        },
        "/jobs/{job_id}/breakpoints/{breakpoint_id}": {
            "put": _op("updateBreakpoint", "Switch a breakpoint or change its condition", "write",
                       {**_ok(200, "Breakpoint", "The updated breakpoint."),
                        **_errors(400, *_OWNER_ERRORS, 409)},
                       tag="debugging", body="BreakpointPatch", params=[
                           _JOB_ID, _param("breakpoint_id", "path", {"type": "string"}, "")]),
            "delete": _op("removeBreakpoint", "Remove a breakpoint", "write",
                          {"204": {"description": "Removed; no body."}, **live_job},
                          tag="debugging", params=[
                              _JOB_ID, _param("breakpoint_id", "path", {"type": "string"}, "")]),
        },
        "/jobs/{job_id}/debug/session": {"get": _op(
            "getDebugSession", "Whether and where a job is paused", "read",
            {**_ok(200, "DebugSession", "paused_at is null unless paused."),
             **_errors(*_OWNER_ERRORS)}, tag="debugging", params=[_JOB_ID])},
        "/jobs/{job_id}/debug/variables": {"get": _op(
            "getVariables", "The paused job's variables", "read",
            {**_ok(200, "Variables", "local and shared variables."), **live_job},
            tag="debugging", params=[_JOB_ID])},
        "/jobs/{job_id}/debug/variables/{name}": {"put": _op(
            "setVariable", "Edit a payload value, a frame local or shared data", "execute",
            {**_ok(200, "VariableSet", "The value set."), **_errors(400, *_OWNER_ERRORS, 409)},
            tag="debugging", body="VariableEdit", params=[
                _JOB_ID, _param("name", "path", {"type": "string"}, "A Python identifier.")])},
        "/jobs/{job_id}/debug/call_stack": {"get": _op(
            "getCallStack", "The paused job's call stack", "read",
            {**_ok(200, "CallStack", "Innermost frame first."), **live_job},
            tag="debugging", params=[_JOB_ID],
            description="Also served as /debug/call-stack.")},
    }
    for action, what in (("pause", "Pause before the job's next activation"),
                         ("resume", "Resume a paused job (also one paused in the debugger)"),
                         ("cancel", "Cancel a job")):
        paths[f"/jobs/{{job_id}}/{action}"] = {"post": _op(
            f"{action}Job", what, "execute", {**job_status, **live_job},
            tag="jobs", params=[_JOB_ID])}
    for step, what in _STEP_DOC.items():
        camel = "".join(part.title() for part in step.split("_"))
        paths[f"/jobs/{{job_id}}/debug/{step}"] = {"post": _op(
            f"debug{camel}", what, "execute", {**job_status, **live_job},
            tag="debugging", params=[_JOB_ID],
            description="Hyphenated spellings (step-over, ...) are accepted too. "
            "409 unless the job is paused.")}
    return paths


# -- the document ---------------------------------------------------------------------------------

_WEBSOCKETS = {
    "/ws/jobs": {
        "permission": "read",
        "description": "Every job at once: first {type: 'jobs', jobs: [...], total} (the answer "
                       "of GET /jobs, same ?flow_id=&status=&limit=&offset=), then status "
                       "events (job_* and breakpoint_hit) of every job of every owner; "
                       "?events=all sends every event.",
    },
    "/ws/jobs/{job_id}/monitor": {
        "permission": "read",
        "description": "The job's recent history (ring buffer), then its live events, in order; "
                       "messages have the TraceEvent shape with type 'event', or "
                       "{type: 'gap', dropped: n}. ?batch=1 gives {type: 'batch', events: [...]}.",
    },
    "/ws/flows/{flow_id}/monitor": {
        "permission": "read",
        "description": "Live events of every job of the flow (same messages as the job monitor).",
    },
    "/ws/jobs/{job_id}/debug": {
        "permission": "execute",
        "description": "The job's events plus commands {command, id, ...}: step_over, step_into, "
                       "step_out, continue, get_variables, set_variable (name, value, scope), "
                       "get_call_stack, resume, pause, cancel, get_session. Each command gets one "
                       "{type: 'response', id, command, ok, result | status + error}.",
    },
}

_DESCRIPTION = """\
The routilux REST API served by the Jupyter server extension: flows, jobs, metrics, traces,
breakpoints and debugging. Authenticate as for Jupyter: `Authorization: token <token>` (or
`?token=`); browsers using the login cookie also send `X-XSRFToken` on writes.
Errors are `{"message", "detail"}` (see the Error schema), never a traceback. Extra fields may
appear in any answer; clients should ignore what they do not know.

The WebSockets are not OpenAPI operations; `x-websockets` lists them (paths under the same prefix).
"""


def _prefixed(prefix: str, path: str) -> str:
    p = prefix.strip("/")
    return f"/{p}{path}" if p else path


def build_document(prefix: str = "api", server_url: str = "/", version: str = "0") -> dict[str, Any]:
    """The OpenAPI 3.1 document for routes under ``prefix``, served below ``server_url``."""
    paths = {_prefixed(prefix, path): ops for path, ops in operations().items()}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "routilux", "version": version, "description": _DESCRIPTION,
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        # Paths carry the prefix; the server URL is the Jupyter base_url without its final "/".
        "servers": [{"url": server_url.rstrip("/") or "/",
                     "description": "This Jupyter server (its base_url)."}],
        "security": [{"JupyterToken": []}, {"JupyterTokenQuery": []}],
        "tags": [{"name": name}
                 for name in ("server", "flows", "jobs", "time travel", "debugging")],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "responses": {
                name: {"description": text, "content": _json(ref("Error"))}
                for name, text in _ERRORS.values()
            },
            "securitySchemes": {
                "JupyterToken": {"type": "apiKey", "in": "header", "name": "Authorization",
                                 "description": "The value is 'token <token>'."},
                "JupyterTokenQuery": {"type": "apiKey", "in": "query", "name": "token"},
            },
        },
        "x-websockets": {_prefixed(prefix, path): info for path, info in _WEBSOCKETS.items()},
    }
