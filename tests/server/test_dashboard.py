"""The dashboard page and its all-jobs WebSocket: Jupyter auth, escaping, what the socket sends."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from api_routines import SUM_SPEC
from jupyter_server.auth.authorizer import Authorizer
from server_helpers import wait_job_done
from traitlets.config import Config

from routilux_jupyter.links import dashboard_url

NO_TOKEN = {"Authorization": ""}
PAGES = [["routilux", ""], ["routilux", "jobs", "j1"], ["routilux", "static", "dashboard", "dashboard.js"],
         ["routilux", "static", "views", "views.js"]]


async def test_pages_redirect_to_the_login_page_without_a_token(jp_fetch):
    for path in PAGES:
        response = await jp_fetch(*path, headers=NO_TOKEN, follow_redirects=False, raise_error=False)
        assert response.code == 302, path
        assert "/login?next=" in response.headers["Location"], path


async def test_the_page_and_its_modules_are_served_with_a_token(jp_fetch, jp_base_url):
    page = await jp_fetch("routilux", "")
    html = page.body.decode()
    assert page.code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert f'src="{jp_base_url}routilux/static/dashboard/dashboard.js"' in html
    assert 'data-api-prefix="api"' in html and 'data-job-id=""' in html
    module = await jp_fetch("routilux", "static", "dashboard", "dashboard.js")
    assert "javascript" in module.headers["Content-Type"]
    views = await jp_fetch("routilux", "static", "views", "views.js")
    assert b"export function renderJob" in views.body  # the notebook view's own module


async def test_a_job_id_in_the_url_is_text_in_the_page(jp_fetch):
    page = await jp_fetch("routilux", "jobs", '"><img src=x onerror=alert(1)>')
    html = page.body.decode()
    assert "<img" not in html
    assert 'data-job-id="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"' in html


async def test_static_files_stay_inside_their_folders(jp_fetch):
    for path in (["..", "links.py"], ["%2e%2e", "links.py"], ["..", "..", "server", "dashboard.py"]):
        response = await jp_fetch("routilux", "static", "dashboard", *path, raise_error=False)
        assert response.code in (403, 404), path


class NoRead(Authorizer):
    """Logged in, but without ``read`` on ``routilux``."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return resource != "routilux"


@pytest.fixture
def no_read_config(jp_server_config: Config) -> Config:
    jp_server_config.ServerApp.authorizer_class = NoRead
    return jp_server_config


async def test_without_read_permission_the_page_is_forbidden(no_read_config, jp_fetch):
    for path in PAGES:
        response = await jp_fetch(*path, raise_error=False)
        assert response.code == 403, path


async def _subscribed(service: Any, before: int) -> None:
    """Until the socket's subscription is registered (open() subscribes after the handshake)."""
    async def wait() -> None:
        while service.events.subscriber_count() <= before:
            await asyncio.sleep(0.01)
    await asyncio.wait_for(wait(), 5)


async def _events_until_completed(ws: Any, job_id: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while True:
        message = json.loads(await asyncio.wait_for(ws.read_message(), 5))
        seen.append(message)
        if message.get("job_id") == job_id and message.get("event_type") == "job_completed":
            return seen


async def test_all_jobs_socket_sends_status_events_of_every_job(api, service, jp_ws_fetch):
    await api("POST", "flows", body={"spec": SUM_SPEC}, expect=201)
    before = service.events.subscriber_count()
    ws = await jp_ws_fetch("api", "ws", "jobs")
    everything = await jp_ws_fetch("api", "ws", "jobs", params={"events": "all"})
    await _subscribed(service, before + 1)
    job_id = (await api("POST", "jobs", body={"flow_id": "sum_flow", "entry_routine_id": "numbers"},
                        expect=201))["job_id"]
    await wait_job_done(service, job_id)
    first, *events = await _events_until_completed(ws, job_id)
    assert first["type"] == "jobs" and first["total"] == 0  # the list when it subscribed
    assert [m["event_type"] for m in events] == ["job_start", "job_completed"]  # not per activation
    every = {m.get("event_type") for m in await _events_until_completed(everything, job_id)}
    assert {"job_start", "slot_call", "event_emit", "job_completed"} <= every
    ws.close()
    everything.close()


async def test_all_jobs_socket_starts_with_the_job_list_it_was_asked_for(api, service, jp_ws_fetch):
    await api("POST", "flows", body={"spec": SUM_SPEC}, expect=201)
    for _ in range(3):
        job_id = (await api("POST", "jobs", body={"flow_id": "sum_flow", "entry_routine_id": "numbers"},
                            expect=201))["job_id"]
        await wait_job_done(service, job_id)
    ws = await jp_ws_fetch("api", "ws", "jobs", params={"limit": "2"})
    first = json.loads(await asyncio.wait_for(ws.read_message(), 5))
    assert first["type"] == "jobs" and first["total"] == 3 and len(first["jobs"]) == 2
    assert first["jobs"][0]["job_id"] == job_id  # newest first, as GET /api/jobs
    ws.close()


async def test_all_jobs_socket_needs_a_token_and_a_good_query(jp_ws_fetch):
    with pytest.raises(Exception) as refused:
        await jp_ws_fetch("api", "ws", "jobs", headers=NO_TOKEN)
    assert getattr(refused.value, "code", None) == 403
    with pytest.raises(Exception) as bad:
        await jp_ws_fetch("api", "ws", "jobs", params={"limit": "lots"})
    assert getattr(bad.value, "code", None) == 400


def test_kernels_derive_the_dashboard_url_from_their_bridge_url():
    env = {"ROUTILUX_BRIDGE_URL": "ws://127.0.0.1:8888/user/ada/routilux/bridge"}
    assert dashboard_url(env=env) == "http://127.0.0.1:8888/user/ada/routilux/"
    assert dashboard_url("a/b", env={"ROUTILUX_BRIDGE_URL": "wss://h:1/routilux/bridge"}) == \
        "https://h:1/routilux/jobs/a%2Fb"
    assert dashboard_url(env={}) is None  # a kernel no routilux server started
