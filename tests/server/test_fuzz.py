"""Property-based fuzzing of every REST route of a real ``jupyter server`` subprocess.

For each operation of the served OpenAPI document, Hypothesis draws requests of several kinds:
bodies and query parameters generated from the document's schemas (with ids that exist, so the
requests reach deep into the service), and malformed ones: bytes that are not JSON, JSON of the
wrong type, fields of the wrong type (NaN and Infinity included), unknown fields, odd ids (huge,
encoded slashes, NUL, unicode), bad query values, methods the route does not have, no or a
wrong token; then paths under the JSON 404 catch-all. Any 5xx, any error body that is not the
strict-JSON ``{message, detail}``, any traceback text fails; answers to requests that are
operations must also be what the document declares (status, type, schema).

Hypothesis runs derandomized under CI (its ``ci`` profile), so CI sends the same requests each
time; locally each run explores new ones. ``ROUTILUX_FUZZ_EXAMPLES=600`` fuzzes harder.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import random
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import JupyterProcess
from tests.support.openapi_check import ContractError, OpenAPIChecker, Operation
from tests.support.schema_strategies import from_schema, json_values

pytestmark = pytest.mark.slow

# ~80 per operation is > 2,000 requests in ~10 s; raise it locally when hunting bugs.
EXAMPLES_PER_OPERATION = int(os.environ.get("ROUTILUX_FUZZ_EXAMPLES", "80"))
MIN_REQUESTS = 2000
_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")

FAN_SPEC = {
    "flow_id": "fan",
    "routines": {"split": {"class": "Splitter", "config": {"key": "items"}},
                 "collect": {"class": "Collector"}},
    "connections": [{"from": "split.item", "to": "collect.trigger"}],
}
ECHO_SPEC = {"flow_id": "echo", "routines": {"echo": {"class": "PassThrough"}}}


class Http:
    """One keep-alive connection to the server, re-opened when the server closes it."""

    def __init__(self, server: JupyterProcess) -> None:
        self.server = server
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self.count = 0
        self.statuses: Counter[int] = Counter()

    def send(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, str | None, str]:
        all_headers = {"Authorization": f"token {self.server.token}",
                       "Content-Type": "application/json", **(headers or {})}
        all_headers = {k: v for k, v in all_headers.items() if v is not None}
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=all_headers)
                response = self.conn.getresponse()
                raw = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()  # the server dropped a keep-alive connection: once more
                if attempt == 2:
                    raise
        self.count += 1
        self.statuses[response.status] += 1
        return response.status, response.getheader("Content-Type"), raw.decode(errors="replace")

    def json(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, _, text = self.send(method, path, None if body is None else json.dumps(body).encode())
        return status, json.loads(text) if text else None


@dataclass
class World:
    """Ids that exist on the server, so generated requests reach past the 404s."""

    http: Http
    server: JupyterProcess
    ids: dict[str, list[str]] = field(default_factory=dict)

    def refresh(self) -> None:
        """Flows back (a fuzzed DELETE may have removed them), and a fresh paused job."""
        for spec in (FAN_SPEC, ECHO_SPEC):
            status, _ = self.http.json("POST", "/api/flows", {"spec": spec})
            assert status in (201, 409), status
        status, job = self.http.json("POST", "/api/jobs", {
            "flow_id": "fan", "entry_routine_id": "split", "entry_params": {"items": [1, 2]},
            "breakpoints": [{"type": "routine", "routine_id": "collect"}]})
        assert status == 201, job
        self._wait_paused(job["job_id"])
        _, bps = self.http.json("GET", f"/api/jobs/{job['job_id']}/breakpoints")
        self.ids["job_id"] = [job["job_id"], *self.ids.get("finished", []), "no-such-job"]
        self.ids["other_job_id"] = self.ids["job_id"]
        self.ids["flow_id"] = ["fan", "echo", "no-such-flow"]
        self.ids["breakpoint_id"] = [b["breakpoint_id"] for b in bps["breakpoints"]] + ["nope"]
        self.ids["name"] = ["item", "index", "total", "x"]
        self.ids["routine_id"] = ["split", "collect", "echo", "nope"]
        self.ids["entry_routine_id"] = self.ids["routine_id"]

    def _wait_paused(self, job_id: str) -> None:
        # The monitor replays the job's history, so a pause that already happened is seen too.
        ws = self.server.websocket(f"api/ws/jobs/{job_id}/monitor", timeout=10)
        try:
            while json.loads(ws.recv()).get("event_type") != "job_paused":
                pass
        finally:
            ws.close()

    def finished_job(self) -> None:
        status, job = self.http.json("POST", "/api/jobs", {
            "flow_id": "echo", "entry_routine_id": "echo", "entry_params": {"x": 1}})
        assert status == 201, job
        ws = self.server.websocket(f"api/ws/jobs/{job['job_id']}/monitor", timeout=10)
        try:
            while json.loads(ws.recv()).get("event_type") not in (
                    "job_completed", "job_failed", "job_cancelled"):
                pass
        finally:
            ws.close()
        self.ids["finished"] = [job["job_id"]]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterProcess]:
    tmp = tmp_path_factory.mktemp("fuzz")
    with JupyterProcess(tmp / "state", "server", root_dir=tmp, timeout=60, args=[
            f"--RoutiluxExtension.history_db={tmp / 'history.sqlite'}"]) as proc:
        yield proc


# -- what to send ---------------------------------------------------------------------------------

_ODD_IDS = st.one_of(
    st.sampled_from(["", " ", "..", ".", "%", "null", "0", "-1", "None", "\x00", "a/b", "a?b=1",
                     "#", "\\", "' OR 1=1 --", "${x}", "{job_id}", "🙂", "é" * 300]),
    st.text(min_size=1, max_size=40),
    st.integers(min_value=1, max_value=20_000).map(lambda n: "j" * n),
)
# Values of the wrong type, including the NaN/Infinity literals Python's json reads and writes.
_WRONG_VALUES = json_values | st.floats() | st.integers(min_value=2**63)
_BAD_NUMBERS = st.sampled_from(["-1", "0", "1.5", "1e9", "abc", "", " ", "NaN", "Infinity",
                                "9" * 40, "0x10", "%FF", "１２", "true", "[]"])
_MALFORMED = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([b"{", b"}", b"[", b'{"a":', b'{"a" 1}', b"\xff\xfe", b"\xef\xbb\xbf{}",
                     b"NaN", b"Infinity", b"-Infinity", b"1e999999", b"[" * 50_000,
                     b'{"a":' * 50_000, b"\x00", b'"\\ud800"', b'{"a": 1}{"b": 2}',
                     b'{"flow_id": "\\u0000"}', b"{}" * 1000]),
    json_values.map(lambda v: json.dumps(v).encode()),
)


@dataclass
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    kind: str = "valid"

    def __repr__(self) -> str:  # Hypothesis prints failing cases: keep 50 kB bodies out of it
        body = None if self.body is None else self.body[:300]
        return (f"Request({self.kind}: {self.method} {self.path[:300]} body={body!r} "
                f"({len(self.body or b'')} bytes) headers={self.headers})")


def _path(template: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        template = template.replace("{" + name + "}", urllib.parse.quote(value, safe=""))
    return template


@st.composite
def flow_specs(draw: st.DrawFn) -> dict[str, Any]:
    """DSL specs made of the built-in routine classes, wired at random (some wires wrong)."""
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=3,
                          unique=True))
    classes = st.sampled_from(["Splitter", "Collector", "PassThrough", "Mapper"] * 3 + ["Nope"])
    routines = {n: {"class": draw(classes), **draw(st.fixed_dictionaries(
        {}, optional={"config": st.dictionaries(st.sampled_from(["key", "x"]), json_values,
                                                max_size=2)}))} for n in names}
    event_of = {"Splitter": "item", "PassThrough": "output", "Mapper": "output"}
    emitters = [n for n in names if routines[n]["class"] in event_of]
    wires: list[tuple[tuple[str, str], tuple[str, str]]] = []
    if emitters:
        # Mostly wires that exist, sometimes a wrong event or slot name.
        source = st.sampled_from(emitters).flatmap(lambda n: st.tuples(st.just(n), st.sampled_from(
            [event_of[routines[n]["class"]]] * 6 + ["x"])))
        target = st.tuples(st.sampled_from(names), st.sampled_from(["trigger"] * 6 + ["x"]))
        wires = draw(st.lists(st.tuples(source, target), max_size=3))
    spec: dict[str, Any] = {
        "flow_id": draw(st.text(min_size=1, max_size=12)), "routines": routines,
        "connections": [{"from": f"{a}.{e}", "to": f"{b}.{t}"} for (a, e), (b, t) in wires]}
    numbers = st.sampled_from([-1, 0, 2, 0.5, math.nan, math.inf, -math.inf]) | st.floats()
    for rid in names:
        if draw(st.integers(0, 3)) == 0:
            routines[rid]["error_handler"] = {
                "strategy": draw(st.sampled_from(["stop", "continue", "skip", "retry", "x"])),
                "max_retries": draw(numbers), "retry_delay": draw(numbers),
                "retry_backoff": draw(numbers)}
    if draw(st.booleans()):
        spec["execution"] = {"strategy": draw(st.sampled_from(["sequential", "concurrent", "x"])),
                             "max_workers": draw(st.integers(-1, 8))}
    return spec


# Values that mean something to the service, so generated bodies get past its first checks.
_MEANINGFUL: dict[str, st.SearchStrategy[Any]] = {
    "spec": flow_specs(),
    "entry_slot": st.just("trigger"),
    "slot_name": st.sampled_from(["trigger", "input"]),
    "event_name": st.sampled_from(["item", "output"]),
    "condition": st.sampled_from(["item == 2", "len(data) > 0", "shared.get('x', 0) < 3",
                                  "index >= 1 and item != 'q'", "max(1, 2) == 2",
                                  "().__class__", "item.__init__", "1/0"]),
    "entry_params": st.fixed_dictionaries({"items": st.lists(json_values, max_size=4)}),
}


# Fields that make a request succeed, laid over half of the generated bodies of an operation
# whose success needs several fields to agree (a flow and one of its routines).
_AGREEING: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "startJob": st.sampled_from([{"flow_id": "fan", "entry_routine_id": "split"},
                                 {"flow_id": "echo", "entry_routine_id": "echo"}]).map(
                                     lambda d: {**d, "entry_slot": "trigger", "kernel_id": None}),
    # null reads as absent: one spec, in the server, under a fresh id
    "createFlow": st.fixed_dictionaries({
        "spec": flow_specs(), "dsl": st.none(), "kernel_id": st.none(), "flow_id": st.none()}),
}


def _with_ids(draw: st.DrawFn, value: Any, world: World) -> Any:
    """Swap generated values for existing ids and meaningful values (sometimes), so requests
    get past lookups and first checks into the deeper code."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in world.ids and isinstance(item, str) and draw(st.booleans()):
                item = draw(st.sampled_from(world.ids[key]))
            elif key in _MEANINGFUL and draw(st.booleans()):
                item = draw(_MEANINGFUL[key])
            out[key] = _with_ids(draw, item, world)
        return out
    if isinstance(value, list):
        return [_with_ids(draw, item, world) for item in value]
    return value


def request_for(draw: st.DrawFn, op: Operation, checker: OpenAPIChecker, world: World) -> Request:
    resolve = checker.resolve
    params = op.spec.get("parameters", [])
    kind = draw(st.sampled_from(["valid", "valid", "valid", "wrong_types", "unknown_fields",
                                 "malformed_body", "odd_ids", "bad_query", "wrong_method",
                                 "auth"]))
    ids = {p["name"]: draw(st.sampled_from(world.ids.get(p["name"], ["x"])))
           for p in params if p["in"] == "path"}
    if kind == "odd_ids" and ids:
        name = draw(st.sampled_from(sorted(ids)))
        ids[name] = draw(_ODD_IDS)
    path = _path(op.template, ids)

    query: list[tuple[str, str]] = []
    for p in params:
        if p["in"] == "query" and draw(st.booleans()):
            value = draw(from_schema(p["schema"], resolve))
            if p["name"] in world.ids and draw(st.booleans()):
                value = draw(st.sampled_from(world.ids[p["name"]]))
            query.append((p["name"], str(value)))
    if kind == "bad_query":
        names = [p["name"] for p in params if p["in"] == "query"] + ["limit", "x", ""]
        for _ in range(draw(st.integers(1, 3))):
            query.append((draw(st.sampled_from(names)), draw(_BAD_NUMBERS | st.text(max_size=10))))
    if query:
        # Encoded here, but "%FF" stays raw: an invalid UTF-8 escape is part of the test.
        path += "?" + "&".join(f"{urllib.parse.quote(k)}="
                               f"{v if v == '%FF' else urllib.parse.quote(v)}" for k, v in query)

    body: bytes | None = None
    schema = op.spec.get("requestBody", {}).get("content", {}).get("application/json", {})
    if schema:
        value = _with_ids(draw, draw(from_schema(schema["schema"], resolve)), world)
        if op.op_id in _AGREEING and isinstance(value, dict) and draw(st.booleans()):
            value.update(draw(_AGREEING[op.op_id]))
        if kind == "wrong_types" and isinstance(value, dict) and value:
            key = draw(st.sampled_from(sorted(value)))
            value[key] = draw(_WRONG_VALUES)
        elif kind == "wrong_types":
            value = draw(_WRONG_VALUES)
        if kind == "unknown_fields" and isinstance(value, dict):
            value.update(draw(st.dictionaries(st.text(max_size=10), json_values, max_size=3)))
        body = json.dumps(value).encode()
    if kind == "malformed_body":
        body = draw(_MALFORMED)

    method = op.method
    if kind == "wrong_method":
        defined = {m.upper() for m in checker.document["paths"][op.template]}
        method = draw(st.sampled_from([m for m in _METHODS if m not in defined] or ["PATCH"]))
    headers: dict[str, str] = {}
    if kind == "auth":
        headers["Authorization"] = draw(st.sampled_from(["", "token wrong", "Bearer x", "token"]))
    return Request(method, path, body, headers, kind)


@st.composite
def requests(draw: st.DrawFn, op: Operation, checker: OpenAPIChecker, world: World) -> Request:
    return request_for(draw, op, checker, world)


@st.composite
def unrouted(draw: st.DrawFn) -> Request:
    """Paths under /api/flows/ and /api/jobs/ that no operation has (the JSON 404 catch-all)."""
    root = draw(st.sampled_from(["/api/flows/", "/api/jobs/", "/api/jobs/x/", "/api/jobs/x/debug/"]))
    tail = "/".join(urllib.parse.quote(s, safe="") for s in draw(
        st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=4)))
    return Request(draw(st.sampled_from(_METHODS)), root + tail, draw(st.none() | _MALFORMED),
                   kind="unrouted")


# -- the checks -----------------------------------------------------------------------------------


def check_answer(checker: OpenAPIChecker, req: Request, status: int, content_type: str | None,
                 text: str) -> None:
    where = repr(req)
    assert status < 500, f"{where} -> {status}: {text[:2000]}"
    if req.kind == "auth":
        assert status == 403, f"{where} -> {status} without a valid token"
    try:
        checker.check(req.method, req.path, status, content_type, text)
    except ContractError as exc:
        raise AssertionError(f"{where}\n{exc}") from None


def send_and_check(http: Http, checker: OpenAPIChecker) -> Any:
    """The property: whatever is sent, the answer is one the checks allow."""

    def prop(req: Request) -> None:
        check_answer(checker, req, *http.send(req.method, req.path, req.body, req.headers))

    return prop


def test_fuzz_every_route_with_generated_and_malformed_requests(server: JupyterProcess) -> None:
    http = Http(server)
    status, document = http.json("GET", "/api/routilux/openapi.json")
    assert status == 200
    checker = OpenAPIChecker(document)
    world = World(http, server)
    world.refresh()
    world.finished_job()
    fuzz_settings = settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
        suppress_health_check=list(HealthCheck), print_blob=True)
    started = time.monotonic()
    per_operation: dict[str, int] = {}

    for op in checker.operations:
        world.refresh()
        before = http.count
        statuses_before = Counter(http.statuses)

        fuzz_settings(given(requests(op, checker, world))(send_and_check(http, checker)))()
        per_operation[op.op_id] = http.count - before
        print(op.op_id, dict(http.statuses - statuses_before))

    fuzz_settings(given(unrouted())(send_and_check(http, checker)))()
    elapsed = time.monotonic() - started
    print(f"fuzz: {http.count} requests in {elapsed:.1f} s; per operation: {per_operation}")
    assert all(n >= EXAMPLES_PER_OPERATION // 2 for n in per_operation.values()), per_operation
    assert http.count >= MIN_REQUESTS, f"only {http.count} requests"
    # The server survived it all: still healthy, and it logged no unexpected traceback.
    assert http.json("GET", "/api/health")[0] == 200
    assert "Traceback" not in server.log(), server.log()[-5000:]


_RACING = [("POST", "/debug/step_over"), ("POST", "/debug/step_into"), ("POST", "/debug/step_out"),
           ("POST", "/debug/resume"), ("POST", "/pause"), ("POST", "/resume"), ("POST", "/cancel"),
           ("GET", "/debug/variables"), ("GET", "/debug/call_stack"), ("GET", "/debug/session"),
           ("GET", "/breakpoints"), ("GET", "/trace"), ("GET", "/metrics"), ("GET", ""),
           ("GET", "/activations"), ("POST", "/replay")]


def test_racing_controls_on_the_same_jobs_never_5xx(server: JupyterProcess) -> None:
    """Eight clients stepping, pausing, resuming, cancelling and reading the same paused jobs at
    once: every answer is still a documented one (state races must end in 200/409, not 500)."""
    http = Http(server)
    checker = OpenAPIChecker(http.json("GET", "/api/routilux/openapi.json")[1])
    world = World(http, server)
    jobs = []
    for _ in range(4):
        world.refresh()
        jobs.append(world.ids["job_id"][0])
    failures: list[str] = []

    def client(seed: int) -> None:
        rnd = random.Random(seed)  # which requests is fixed; how they interleave is not
        own = Http(server)
        for _ in range(60):
            method, tail = rnd.choice(_RACING)
            req = Request(method, f"/api/jobs/{rnd.choice(jobs)}{tail}",
                          b"" if method == "POST" else None, kind="racing")
            try:
                check_answer(checker, req, *own.send(req.method, req.path, req.body))
            except AssertionError as exc:
                failures.append(str(exc))

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a client hung"
    assert not failures, failures[:3]
    assert "Traceback" not in server.log(), server.log()[-5000:]
