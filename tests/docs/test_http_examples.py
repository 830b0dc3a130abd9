"""The HTTP and WebSocket examples of docs/user_guide/http_api.rst, sent to a real server.

The page is the one source: this test parses it (see ``http_examples.py``), sends each documented
request in order to an in-process Jupyter server with the routilux extension, and checks the
documented status, headers and response fields.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from http_examples import (
    HttpExample,
    Hint,
    Mismatch,
    WsExample,
    match,
    parse_page,
    substitute,
)

from routilux.monitoring import MonitoringRegistry
from routilux_jupyter.server.handlers import rest_routes
from routilux_jupyter.server.websockets import ws_routes
from tests.support.openapi_check import ContractError, OpenAPIChecker

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE = DOCS / "user_guide" / "http_api.rst"
TIMEOUT = 5.0


def _split(path: str) -> tuple[str, dict[str, str]]:
    parsed = urllib.parse.urlsplit(path)
    return parsed.path.lstrip("/"), dict(urllib.parse.parse_qsl(parsed.query))


class Runner:
    """Sends the page's examples in order, remembering the ids responses hand out."""

    def __init__(self, fetch: Any, ws_fetch: Any, serverapp: Any,
                 checker: OpenAPIChecker) -> None:
        self.fetch = fetch
        self.ws_fetch = ws_fetch
        self.service = serverapp.web_app.settings["routilux_service"]
        self.known: dict[str, Any] = {"token": serverapp.identity_provider.token}
        self.checker = checker

    async def hint(self, hint: Hint) -> None:
        job_id = substitute(hint.args[0], self.known)
        if hint.command == "wait-done":
            job = self.service.default_owner.jobs.get(job_id)
            assert job is not None, f"{hint.line}: no job {job_id}"
            assert await asyncio.to_thread(job.wait, TIMEOUT), f"{hint.line}: job never ended"
        elif hint.command == "wait-paused":
            sessions = MonitoringRegistry.get_instance().debug_session_store
            session = sessions.get_or_create(job_id)
            assert await asyncio.to_thread(session.wait_until_paused, TIMEOUT), (
                f"http_api.rst:{hint.line}: job {job_id} never paused")
        else:
            raise AssertionError(f"http_api.rst:{hint.line}: unknown test hint {hint.command!r}")

    async def http(self, ex: HttpExample) -> None:
        path, params = _split(substitute(ex.path, self.known))
        headers = {k: substitute(v, self.known) for k, v in ex.request_headers.items()}
        kwargs: dict[str, Any] = {"method": ex.method, "raise_error": False, "headers": headers}
        if ex.body is not None:
            kwargs["body"] = json.dumps(substitute(ex.body, self.known))
        elif ex.method in ("POST", "PUT"):
            kwargs["body"] = b""
        response = await self.fetch(*path.split("/"), params=params, **kwargs)
        text = response.body.decode() if response.body else ""
        data = json.loads(text) if text else None
        if response.code != ex.status:
            raise Mismatch(f"{ex}: documented {ex.status}, got {response.code}: {text}")
        self.check_openapi(ex, substitute(ex.path, self.known), response, text)
        for name, value in ex.response_headers.items():
            actual = response.headers.get(name, "")
            if not actual.startswith(value):
                raise Mismatch(f"{ex}: header {name} is {actual!r}, documented {value!r}")
        if ex.response is None:
            if data is not None:
                raise Mismatch(f"{ex}: documented no body, got {text}")
            return
        try:
            match(ex.response, data, self.known)
        except Mismatch as exc:
            raise Mismatch(f"{ex}: {exc}\nactual: {json.dumps(data, indent=1)}") from None

    def check_openapi(self, ex: HttpExample, path: str, response: Any, text: str) -> None:
        """The page and the OpenAPI document agree: the documented status is declared for the
        operation, the real answer has the declared type and schema, and a request body the
        page shows succeeding is one the document accepts."""
        try:
            self.checker.check(ex.method, path, response.code,
                               response.headers.get("Content-Type"), text)
            if ex.status < 400 and ex.body is not None:
                self.checker.check_request_body(ex.method, urllib.parse.urlsplit(path).path,
                                                substitute(ex.body, self.known))
        except ContractError as exc:
            raise Mismatch(f"{ex}: disagrees with the OpenAPI document: {exc}") from None

    async def ws(self, ex: WsExample) -> None:
        path, params = _split(substitute(ex.path, self.known))
        headers = {"Authorization": f"token {self.known['token']}"}
        conn = await self.ws_fetch(*path.split("/"), params=params, headers=headers)
        pending: list[dict[str, Any]] = []
        try:
            for step in ex.steps:
                if step.direction == ">":
                    conn.write_message(json.dumps(substitute(step.message, self.known)))
                    continue
                await self._expect(conn, pending, step.message, ex)
        finally:
            conn.close()

    async def _expect(self, conn: Any, pending: list[dict[str, Any]], doc: Any,
                      ex: WsExample) -> None:
        """Find the documented message. Responses match by id wherever they are; events match
        in order (events before the match are dropped, so a later step cannot match them)."""
        is_response = doc.get("type") == "response"
        deadline = asyncio.get_running_loop().time() + TIMEOUT
        while True:
            for i, item in enumerate(pending):
                if is_response != (item.get("type") == "response"):
                    continue
                if is_response and item.get("id") != doc.get("id"):
                    continue
                trial = dict(self.known)
                try:
                    match(doc, item, trial)
                except Mismatch as exc:
                    if is_response:  # the response with this id is wrong: say how
                        raise Mismatch(f"{ex}: {exc}\nactual: {item}") from None
                    continue
                self.known.update(trial)
                if is_response:
                    pending.pop(i)
                else:
                    del pending[: i + 1]
                    pending[:] = [p for p in pending if p.get("type") == "response"] + [
                        p for p in pending if p.get("type") != "response"]
                return
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                seen = [p.get("event_type", p.get("type")) for p in pending]
                raise Mismatch(f"{ex}: never received {doc}; pending: {seen}")
            try:
                message = await asyncio.wait_for(conn.read_message(), left)
            except asyncio.TimeoutError:
                continue
            if message is None:
                raise Mismatch(f"{ex}: socket closed while waiting for {doc}")
            item = json.loads(message)
            pending.extend(item["events"] if item.get("type") == "batch" else [item])


async def test_every_documented_example_gets_the_documented_answer(
    jp_fetch: Any, jp_ws_fetch: Any, jp_serverapp: Any
) -> None:
    document = json.loads((await jp_fetch("api", "routilux", "openapi.json")).body)
    runner = Runner(jp_fetch, jp_ws_fetch, jp_serverapp, OpenAPIChecker(document))
    for item in parse_page(PAGE):
        if isinstance(item, Hint):
            await runner.hint(item)
        elif isinstance(item, HttpExample):
            await runner.http(item)
        else:
            await runner.ws(item)


# -- the page covers the API ----------------------------------------------------------------------


def _documented_routes() -> set[tuple[str, str]]:
    """(method, path with placeholders -> concrete sample) of every example on the page."""
    out = set()
    for item in parse_page(PAGE):
        if isinstance(item, HttpExample):
            out.add((item.method, urllib.parse.urlsplit(item.path).path))
        elif isinstance(item, WsExample):
            out.add(("WS", item.path))
    return out


def test_every_rest_route_and_method_has_an_example() -> None:
    documented = _documented_routes()
    missing = []
    for pattern, handler, _ in rest_routes("api"):
        regex = re.compile("^/" + pattern + "$")
        for method in ("get", "post", "put", "delete"):
            if method not in vars(handler):
                continue
            if not any(m == method.upper() and regex.match(re.sub(r"<(\w+)>", r"x\1", p))
                       for m, p in documented):
                missing.append(f"{method.upper()} /{pattern}")
    assert not missing, f"http_api.rst has no example for: {missing}"


def test_job_sockets_have_transcripts() -> None:
    documented = {p for m, p in _documented_routes() if m == "WS"}
    for pattern, _, _ in ws_routes("api"):
        if "jobs" not in pattern:
            continue  # the flow monitor streams only live events; the page describes it
        regex = re.compile("^/" + pattern + "$")
        assert any(regex.match(p) for p in documented), f"no transcript for /{pattern}"


# -- the matcher itself can fail ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "actual"),
    [
        ({"status": "completed"}, {"status": "running"}),
        ({"status": "completed"}, {}),
        ({"items": [1, 2]}, {"items": [1, 2, 3]}),
        ({"items": [1, "..."]}, {"items": [2, 3]}),
        ({"n": "<number>"}, {"n": "3"}),
        ({"t": "<time>"}, {"t": "yesterday"}),
        ({"s": "<running|paused>"}, {"s": "completed"}),
        ({"flag": True}, {"flag": 1}),
        ({"x": None}, {"x": 0}),
    ],
)
def test_matcher_rejects_what_differs(doc: Any, actual: Any) -> None:
    with pytest.raises(Mismatch):
        match(doc, actual, {})


def test_matcher_captures_ids_and_holds_them() -> None:
    known: dict[str, Any] = {}
    match({"job_id": "<job_id>", "items": [1, "..."]}, {"job_id": "j1", "items": [1, 2]}, known)
    assert known == {"job_id": "j1"}
    match({"message": "Job '<job_id>' ended"}, {"message": "Job 'j1' ended"}, known)
    with pytest.raises(Mismatch):
        match({"job_id": "<job_id>"}, {"job_id": "j2"}, known)
    assert substitute("/api/jobs/<job_id>/trace", known) == "/api/jobs/j1/trace"
    with pytest.raises(KeyError):
        substitute("/api/jobs/<other_id>", known)


def test_page_has_paired_examples_in_order() -> None:
    items = parse_page(PAGE)
    http = [i for i in items if isinstance(i, HttpExample)]
    assert len(http) >= 30
    assert http[0].method == "GET" and http[0].path == "/api/health"
    assert all(i.request_headers.get("Authorization") == "token <token>" for i in http)
