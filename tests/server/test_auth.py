"""Every route is authenticated and authorized through Jupyter; cookie writes need XSRF."""

from __future__ import annotations

import json
from http.cookies import SimpleCookie
from typing import Any

import pytest
from api_routines import SUM_SPEC, gate_spec
from jupyter_server.auth.authorizer import Authorizer
from server_helpers import wait_gate_entered
from traitlets.config import Config

NO_TOKEN = {"Authorization": ""}

# (method, path under /api) for every REST route; ids need not exist: auth comes first.
ROUTES: list[tuple[str, list[str]]] = [
    ("GET", ["health"]),
    ("GET", ["routilux", "openapi.json"]),
    ("GET", ["flows"]),
    ("POST", ["flows"]),
    ("GET", ["flows", "f"]),
    ("DELETE", ["flows", "f"]),
    ("GET", ["jobs"]),
    ("POST", ["jobs"]),
    ("GET", ["jobs", "j"]),
    ("POST", ["jobs", "j", "pause"]),
    ("POST", ["jobs", "j", "resume"]),
    ("POST", ["jobs", "j", "cancel"]),
    ("GET", ["jobs", "j", "metrics"]),
    ("GET", ["jobs", "j", "trace"]),
    ("GET", ["jobs", "j", "breakpoints"]),
    ("POST", ["jobs", "j", "breakpoints"]),
    ("PUT", ["jobs", "j", "breakpoints", "b"]),
    ("DELETE", ["jobs", "j", "breakpoints", "b"]),
    ("POST", ["jobs", "j", "debug", "step_over"]),
    ("POST", ["jobs", "j", "debug", "step-into"]),
    ("POST", ["jobs", "j", "debug", "step_out"]),
    ("POST", ["jobs", "j", "debug", "resume"]),
    ("GET", ["jobs", "j", "debug", "session"]),
    ("GET", ["jobs", "j", "debug", "variables"]),
    ("PUT", ["jobs", "j", "debug", "variables", "x"]),
    ("GET", ["jobs", "j", "debug", "call_stack"]),
    ("GET", ["jobs", "j", "debug", "call-stack"]),
    ("GET", ["jobs", "j", "no-such-route"]),
]


async def test_every_route_is_403_without_a_token(jp_fetch):
    for method, path in ROUTES:
        body = b"{}" if method in ("POST", "PUT") else None
        response = await jp_fetch("api", *path, method=method, body=body, headers=NO_TOKEN,
                                  raise_error=False)
        assert response.code == 403, (method, path, response.code)
        error = json.loads(response.body)
        assert set(error) == {"message", "detail"}, (method, path, error)


def _cookies(response: Any) -> dict[str, str]:
    jar: dict[str, str] = {}
    for header in response.headers.get_list("Set-Cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        jar.update({name: morsel.value for name, morsel in cookie.items()})
    return jar


async def test_cookie_authenticated_writes_need_xsrf(jp_fetch):
    # A token-authenticated request leaves a login cookie; a page render leaves an _xsrf cookie.
    login = _cookies(await jp_fetch("api", "health"))
    assert login, "no login cookie was set"
    xsrf = _cookies(await jp_fetch("login", headers=NO_TOKEN))["_xsrf"]
    cookie_header = "; ".join(f"{k}={v}" for k, v in {**login, "_xsrf": xsrf}.items())
    body = json.dumps({"spec": SUM_SPEC})

    read = await jp_fetch("api", "flows", headers={**NO_TOKEN, "Cookie": cookie_header})
    assert read.code == 200  # the cookie alone authenticates reads

    refused = await jp_fetch("api", "flows", method="POST", body=body, raise_error=False,
                             headers={**NO_TOKEN, "Cookie": cookie_header})
    assert refused.code == 403
    assert "xsrf" in json.loads(refused.body)["message"].lower()

    accepted = await jp_fetch("api", "flows", method="POST", body=body, raise_error=False,
                              headers={**NO_TOKEN, "Cookie": cookie_header, "X-XSRFToken": xsrf})
    assert accepted.code == 201, accepted.body


class NoExecute(Authorizer):
    """Allows everything except the ``execute`` action on ``routilux``."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return not (resource == "routilux" and action == "execute")


@pytest.fixture
def no_execute_config(jp_server_config: Config) -> Config:
    jp_server_config.ServerApp.authorizer_class = NoExecute
    return jp_server_config


async def test_control_and_debug_need_execute_but_reads_and_creates_do_not(
    no_execute_config, api, jp_ws_fetch
):
    await api("POST", "flows", body={"spec": gate_spec("gated", "x1")}, expect=201)
    job_id = (await api("POST", "jobs", body={"flow_id": "gated", "entry_routine_id": "gate"},
                        expect=201))["job_id"]
    await wait_gate_entered("x1")
    await api("GET", "jobs", job_id)
    await api("POST", "jobs", job_id, "breakpoints", body={"routine_id": "gate"}, expect=201)
    for path in (["pause"], ["resume"], ["cancel"], ["debug", "step_over"], ["debug", "resume"]):
        error = await api("POST", "jobs", job_id, *path, expect=403)
        assert "execute" in error["message"], path
    await api("PUT", "jobs", job_id, "debug", "variables", "x", body={"value": 1}, expect=403)
    monitor = await jp_ws_fetch("api", "ws", "jobs", job_id, "monitor")  # read is enough
    monitor.close()
    with pytest.raises(Exception) as refused:
        await jp_ws_fetch("api", "ws", "jobs", job_id, "debug")
    assert getattr(refused.value, "code", None) == 403
