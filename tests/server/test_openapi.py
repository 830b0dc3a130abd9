"""The OpenAPI document: served, valid, complete against the registered routes, and true of the
answers a real server gives, on success and on error, for every operation."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from api_routines import SUM_SPEC
from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.base.handlers import APIHandler
from openapi_spec_validator import validate
from server_helpers import wait_job_done, wait_paused
from tornado.routing import PathMatches, Router
from tornado.web import RequestHandler
from traitlets.config import Config

from routilux_jupyter.server.handlers import UnknownRouteHandler
from routilux_jupyter.server.openapi import build_document
from routilux_jupyter.server.websockets import ws_routes
from tests.support.openapi_check import OpenAPIChecker

_METHODS = ("get", "post", "put", "delete", "patch")
NO_TOKEN = {"Authorization": ""}


async def _document(jp_fetch: Any, prefix: str = "api") -> dict[str, Any]:
    response = await jp_fetch(*prefix.split("/"), "routilux", "openapi.json")
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


# -- served and valid -----------------------------------------------------------------------------


async def test_the_served_document_is_valid_openapi_3_1(jp_fetch, jp_base_url):
    document = await _document(jp_fetch)
    validate(document)  # openapi-spec-validator: raises on any violation of the 3.1 spec
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": jp_base_url.rstrip("/"),
                                    "description": "This Jupyter server (its base_url)."}]
    assert "/api/jobs/{job_id}/debug/step_over" in document["paths"]
    assert "/api/ws/jobs/{job_id}/debug" in document["x-websockets"]
    for name in ("Flow", "Job", "Metrics", "TraceEvent", "Breakpoint", "DebugSession",
                 "Variables", "CallStack", "Error"):
        assert name in document["components"]["schemas"], name


async def test_core_jupyter_routes_next_to_it_still_answer(jp_fetch):
    # Jupyter serves its own OpenAPI spec at /api/spec.yaml; ours lives under api/routilux/.
    spec = await jp_fetch("api", "spec.yaml")
    assert b"swagger" in spec.body or b"openapi" in spec.body
    assert json.loads((await jp_fetch("api", "status")).body)["started"]


async def test_the_document_needs_the_token_like_every_route(jp_fetch):
    response = await jp_fetch("api", "routilux", "openapi.json", headers=NO_TOKEN,
                              raise_error=False)
    assert response.code == 403
    assert set(json.loads(response.body)) == {"message", "detail"}


def test_the_document_is_valid_for_any_prefix():
    for prefix in ("api", "", "tools/routilux"):
        validate(build_document(prefix, "/base/"))


class TestCustomPrefix:
    @pytest.fixture
    def jp_server_config(self, history_db):
        """A custom prefix: paths in the document (and its own URL) follow it."""
        return Config({
            "ServerApp": {"jpserver_extensions": {"routilux_jupyter": True}},
            "RoutiluxExtension": {"history_db": str(history_db), "prefix": "tools/rx",
                                  "freeze_gc_at_start": False},
        })

    async def test_paths_follow_a_configured_prefix(self, jp_fetch):
        document = await _document(jp_fetch, "tools/rx")
        validate(document)
        assert "/tools/rx/jobs/{job_id}" in document["paths"]
        assert "/tools/rx/routilux/openapi.json" in document["paths"]
        assert not any(path.startswith("/api/") for path in document["paths"])


class RecordingAuthorizer(Authorizer):
    """Allows everything and remembers which action each routilux request was checked for."""

    actions: dict[tuple[str, str], str] = {}

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        if resource == "routilux":
            self.actions[(handler.request.method, handler.request.path)] = action
        return True


class TestPermissions:
    @pytest.fixture
    def jp_server_config(self, history_db):
        return Config({
            "ServerApp": {"jpserver_extensions": {"routilux_jupyter": True},
                          "authorizer_class": RecordingAuthorizer},
            "RoutiluxExtension": {"history_db": str(history_db), "freeze_gc_at_start": False},
        })

    async def test_x_routilux_permission_is_the_action_the_server_checks(
        self, jp_fetch, jp_base_url
    ):
        RecordingAuthorizer.actions.clear()
        document = await _document(jp_fetch)
        wrong = []
        for template, ops in document["paths"].items():
            path = _concrete(template)
            for method, op in ops.items():
                # Ids need not exist: authorization comes before any lookup.
                body = b"{}" if method in ("post", "put") else None
                await jp_fetch(*path.strip("/").split("/"), method=method.upper(), body=body,
                               raise_error=False)
                checked = RecordingAuthorizer.actions.get(
                    (method.upper(), jp_base_url.rstrip("/") + path))
                if checked != op["x-routilux-permission"]:
                    wrong.append((method, template, op["x-routilux-permission"], checked))
        assert not wrong, wrong


# -- complete: every registered REST route documented, every documented path registered ---------


def _rules(router: Router) -> list[tuple[re.Pattern[str], type]]:
    """Every (path regex, handler class) of a tornado router, in the order it matches."""
    out: list[tuple[re.Pattern[str], type]] = []
    for rule in getattr(router, "rules", []):
        target = rule.target
        if isinstance(target, Router):
            out.extend(_rules(target))
        elif isinstance(target, type) and isinstance(rule.matcher, PathMatches):
            out.append((rule.matcher.regex, target))
    return out


def _methods(handler: type) -> set[str]:
    return {m for m in _METHODS if getattr(handler, m) is not getattr(RequestHandler, m)}


def _routilux_rest(handler: type) -> bool:
    # REST = Jupyter API handlers of our package (WebSockets and pages are not OpenAPI paths).
    return issubclass(handler, APIHandler) and handler.__module__.startswith("routilux_jupyter")


def _concrete(template: str) -> str:
    return re.sub(r"\{(\w+)\}", r"sample-\1", template)


async def test_every_registered_rest_route_is_documented_and_nothing_else(
    jp_serverapp, jp_fetch, jp_base_url
):
    document = await _document(jp_fetch)
    rules = _rules(jp_serverapp.web_app.default_router)
    ours = [(regex, handler) for regex, handler in rules
            if _routilux_rest(handler) and handler is not UnknownRouteHandler]
    assert len(ours) >= 15, ours
    base = jp_base_url.rstrip("/")

    def first_rule(path: str) -> type | None:
        # What tornado would pick: the first rule whose regex matches the whole path.
        for regex, handler in rules:
            if regex.match(path) and regex.pattern.endswith("$"):
                return handler
        return None

    documented: list[tuple[str, str, type | None]] = []
    for template, ops in document["paths"].items():
        handler = first_rule(base + _concrete(template))
        for method in ops:
            documented.append((method, template, handler))
            assert handler is not None and handler is not UnknownRouteHandler, (
                f"documented {method.upper()} {template} is not a route of the server")
            assert method in _methods(handler), (
                f"documented {method.upper()} {template} but {handler.__name__} has no {method}")

    for regex, handler in ours:
        for method in _methods(handler):
            assert any(m == method and h is handler and regex.match(base + _concrete(t))
                       for m, t, h in documented), (
                f"{method.upper()} {regex.pattern} ({handler.__name__}) is registered but not "
                "in the OpenAPI document (routilux_jupyter/server/openapi.py)")


async def test_every_websocket_route_is_listed_under_x_websockets(jp_fetch):
    # WebSockets are not OpenAPI operations, but the document still names them for readers.
    listed = [re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", path) + "$")
              for path in (await _document(jp_fetch))["x-websockets"]]
    for pattern, _, _ in ws_routes("api"):
        sample = "/" + pattern.replace("([^/]+)", "sample").replace("/?", "")
        assert any(regex.match(sample) for regex in listed), f"/{pattern} not in x-websockets"


# -- true: real answers, success and error, for every operation --------------------------------


class Client:
    """Sends requests through ``jp_fetch`` and checks each answer against the document."""

    def __init__(self, fetch: Any, checker: OpenAPIChecker) -> None:
        self.fetch = fetch
        self.checker = checker

    async def __call__(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                       params: dict[str, str] | None = None, expect: int = 200,
                       headers: dict[str, str] | None = None) -> Any:
        kwargs: dict[str, Any] = {"method": method, "raise_error": False}
        if body is not None:
            kwargs["body"] = json.dumps(body)
        elif raw is not None:
            kwargs["body"] = raw
        elif method in ("POST", "PUT"):
            kwargs["body"] = b""
        response = await self.fetch(*path.strip("/").split("/"), params=params, headers=headers,
                                    **kwargs)
        text = response.body.decode() if response.body else ""
        assert response.code == expect, (method, path, response.code, text)
        return self.checker.check(method, "/" + path.strip("/"), response.code,
                                  response.headers.get("Content-Type"), text)


async def test_real_answers_match_the_document_for_every_operation(jp_fetch, service):
    document = await _document(jp_fetch)
    checker = OpenAPIChecker(document)
    call = Client(jp_fetch, checker)

    await call("GET", "api/health")
    await call("GET", "api/health", headers=NO_TOKEN, expect=403)
    await call("GET", "api/routilux/openapi.json")
    await call("GET", "api/routilux/openapi.json", headers=NO_TOKEN, expect=403)

    # Flows
    flow = await call("POST", "api/flows", {"spec": SUM_SPEC}, expect=201)
    assert flow["flow_id"] == "sum_flow"
    await call("POST", "api/flows", {"spec": SUM_SPEC}, expect=409)
    await call("POST", "api/flows", {"dsl": "flow_id: y\nroutines: {a: {class: Nope}}\n"},
               expect=400)
    await call("POST", "api/flows", {"spec": {}, "kernel_id": "no-kernel"}, expect=404)
    await call("POST", "api/flows", {"spec": {"flow_id": "tmp", "routines": {"p": {"class": "PassThrough"}}}}, expect=201)
    await call("GET", "api/flows")
    await call("GET", "api/flows", headers=NO_TOKEN, expect=403)
    await call("GET", "api/flows/sum_flow")
    await call("GET", "api/flows/nope", expect=404)
    await call("DELETE", "api/flows/tmp", expect=204)
    await call("DELETE", "api/flows/tmp", expect=404)

    # Jobs, metrics, trace
    job = await call("POST", "api/jobs", {"flow_id": "sum_flow", "entry_routine_id": "numbers",
                                          "entry_params": {"count": 3}}, expect=201)
    job_id = job["job_id"]
    await call("POST", "api/jobs", {"flow_id": "sum_flow"}, expect=400)
    await call("POST", "api/jobs", {"flow_id": "nope", "entry_routine_id": "x"}, expect=404)
    await wait_job_done(service, job_id)
    assert (await call("GET", f"api/jobs/{job_id}"))["status"] == "completed"
    await call("GET", "api/jobs/nope", expect=404)
    await call("GET", "api/jobs", params={"flow_id": "sum_flow", "status": "completed"})
    await call("GET", "api/jobs", params={"limit": "0"}, expect=400)
    await call("GET", f"api/jobs/{job_id}/metrics")
    await call("GET", "api/jobs/nope/metrics", expect=404)
    trace = await call("GET", f"api/jobs/{job_id}/trace", params={"limit": "3"})
    assert len(trace["events"]) == 3
    csv = await call("GET", f"api/jobs/{job_id}/trace", params={"format": "csv"})
    assert "event_type" in csv.splitlines()[0]  # text/csv, one of the two documented types
    await call("GET", f"api/jobs/{job_id}/trace", params={"format": "xml"}, expect=400)
    await call("GET", f"api/jobs/{job_id}/trace", params={"limit": "x"}, expect=400)
    await call("GET", "api/jobs/nope/trace", expect=404)
    # Time travel on the finished job
    acts = await call("GET", f"api/jobs/{job_id}/activations")
    seq = acts["activations"][0]["seq"]
    await call("GET", f"api/jobs/{job_id}/activations", params={"seq": str(seq)})
    await call("GET", f"api/jobs/{job_id}/activations", params={"seq": "x"}, expect=400)
    await call("GET", "api/jobs/nope/activations", expect=404)
    fork = await call("POST", f"api/jobs/{job_id}/rerun", {"seq": seq}, expect=201)
    await call("POST", f"api/jobs/{job_id}/rerun", {"seq": "first"}, expect=400)
    await call("POST", "api/jobs/nope/rerun", {"seq": 1}, expect=404)
    replay = await call("POST", f"api/jobs/{job_id}/replay", expect=201)
    await call("POST", "api/jobs/nope/replay", expect=404)
    await wait_job_done(service, fork["job_id"])
    await wait_job_done(service, replay["job_id"])
    await call("GET", f"api/jobs/{job_id}/diff/{fork['job_id']}")
    await call("GET", f"api/jobs/{job_id}/diff/nope", expect=404)
    pinned = await call("PUT", f"api/jobs/{job_id}", {"label": "before", "pinned": True})
    assert pinned["pinned"] is True
    await call("PUT", f"api/jobs/{job_id}", {"pinned": "yes"}, expect=400)
    await call("PUT", "api/jobs/nope", {"pinned": True}, expect=404)
    for action in ("pause", "resume", "cancel"):
        await call("POST", f"api/jobs/{job_id}/{action}", expect=409)  # it has ended
        await call("POST", f"api/jobs/nope/{action}", expect=404)

    # Debugging a paused job
    debug = await call("POST", "api/jobs", {
        "flow_id": "sum_flow", "entry_routine_id": "numbers", "entry_params": {"count": 3},
        "breakpoints": [{"type": "slot", "routine_id": "sum", "slot_name": "input",
                         "condition": "value == 1"}]}, expect=201)
    debug_id = debug["job_id"]
    await wait_paused(debug_id)
    session = await call("GET", f"api/jobs/{debug_id}/debug/session")
    assert session["paused_at"]["routine_id"] == "sum"
    await call("GET", "api/jobs/nope/debug/session", expect=404)
    await call("GET", f"api/jobs/{debug_id}/debug/variables")
    await call("GET", "api/jobs/nope/debug/variables", expect=404)
    await call("PUT", f"api/jobs/{debug_id}/debug/variables/value", {"value": 5})
    await call("PUT", f"api/jobs/{debug_id}/debug/variables/value", {"scope": "far"}, expect=400)
    await call("GET", f"api/jobs/{debug_id}/debug/call_stack")
    await call("GET", "api/jobs/nope/debug/call_stack", expect=404)
    listed = await call("GET", f"api/jobs/{debug_id}/breakpoints")
    await call("GET", "api/jobs/nope/breakpoints", expect=404)
    bp = await call("POST", f"api/jobs/{debug_id}/breakpoints",
                    {"routine_id": "sum", "condition": "value > 100"}, expect=201)
    await call("POST", f"api/jobs/{debug_id}/breakpoints", {"routine_id": "sum",
                                                             "condition": "().__class__"},
               expect=400)
    await call("PUT", f"api/jobs/{debug_id}/breakpoints/{bp['breakpoint_id']}",
               {"enabled": False})
    await call("PUT", f"api/jobs/{debug_id}/breakpoints/{bp['breakpoint_id']}", {}, expect=400)
    await call("PUT", f"api/jobs/{debug_id}/breakpoints/nope", {"enabled": False}, expect=404)
    await call("DELETE", f"api/jobs/{debug_id}/breakpoints/{bp['breakpoint_id']}", expect=204)
    await call("DELETE", f"api/jobs/{debug_id}/breakpoints/nope", expect=404)
    first_bp = listed["breakpoints"][0]["breakpoint_id"]
    await call("PUT", f"api/jobs/{debug_id}/breakpoints/{first_bp}", {"enabled": False})
    await call("POST", f"api/jobs/{debug_id}/debug/step_into")
    await wait_paused(debug_id)
    await call("POST", f"api/jobs/{debug_id}/debug/step_over")
    await wait_paused(debug_id)
    await call("POST", f"api/jobs/{debug_id}/debug/step_out")
    await wait_paused(debug_id)
    await call("POST", f"api/jobs/{debug_id}/pause")
    await call("POST", f"api/jobs/{debug_id}/debug/resume")
    await wait_job_done(service, debug_id)
    for step in ("step_over", "step_into", "step_out", "resume"):
        await call("POST", f"api/jobs/{debug_id}/debug/{step}", expect=409)
        await call("POST", f"api/jobs/nope/debug/{step}", expect=404)
    await call("PUT", f"api/jobs/{debug_id}/debug/variables/x", {"value": 1}, expect=409)
    await call("GET", f"api/jobs/{debug_id}/debug/call_stack")

    # Jobs paused at a breakpoint: one resumed, one cancelled
    for action in ("resume", "cancel"):
        paused = await call("POST", "api/jobs", {
            "flow_id": "sum_flow", "entry_routine_id": "numbers",
            "breakpoints": [{"routine_id": "numbers"}]}, expect=201)
        await wait_paused(paused["job_id"])
        await call("POST", f"api/jobs/{paused['job_id']}/{action}")
        await wait_job_done(service, paused["job_id"])
    await call("PUT", "api/jobs/nope/debug/variables/x", {"value": 1}, expect=404)

    # Not operations: still the JSON error body
    await call("PATCH", f"api/jobs/{job_id}", raw=b"{}", expect=405)
    await call("GET", f"api/jobs/{job_id}/no-such-route", expect=404)

    # Every operation was seen succeeding and failing.
    op_ids = {op.op_id for op in checker.operations}
    succeeded = {op for op, status in checker.seen if status < 300}
    failed = {op for op, status in checker.seen if status >= 400}
    assert op_ids - succeeded == set(), "no success checked for these"
    assert op_ids - failed == set(), "no error checked for these"
