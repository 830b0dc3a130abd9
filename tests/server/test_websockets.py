"""WebSocket routes: job and flow monitors, the debug socket, auth and dead peers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import api_routines
import pytest
from api_routines import SUM_SPEC, gate_spec
from server_helpers import wait_gate_entered, wait_job_done, wait_paused
from tornado.httpclient import HTTPClientError

from routilux.monitoring import MonitoringRegistry


async def next_json(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.read_message(), timeout)
    assert message is not None, "socket closed"
    return json.loads(message)


async def read_until(ws: Any, predicate: Any, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Messages up to and including the first one ``predicate`` accepts (batches unpacked)."""
    seen: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        assert left > 0, f"timed out; saw {[m.get('event_type', m.get('type')) for m in seen]}"
        message = await next_json(ws, left)
        items = message["events"] if message.get("type") == "batch" else [message]
        for item in items:
            seen.append(item)
            if predicate(item):
                return seen


class Inbox:
    """Messages of one socket; ``take`` finds the first match, leaving the others queued."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.pending: list[dict[str, Any]] = []

    async def take(self, predicate: Any, timeout: float = 5.0) -> dict[str, Any]:
        for i, item in enumerate(self.pending):
            if predicate(item):
                return self.pending.pop(i)
        while True:
            message = await next_json(self.ws, timeout)
            items = message["events"] if message.get("type") == "batch" else [message]
            for item in items:
                self.pending.append(item)
            for i, item in enumerate(self.pending):
                if predicate(item):
                    return self.pending.pop(i)


def of_type(event_type: str) -> Any:
    return lambda m: m.get("event_type") == event_type


async def start(api: Any, body: dict[str, Any]) -> str:
    return (await api("POST", "jobs", body=body, expect=201))["job_id"]


async def test_job_monitor_replays_history_then_streams_live_events(api, service, jp_ws_fetch):
    await api("POST", "flows", body={"spec": gate_spec("gated", "m1")}, expect=201)
    job_id = await start(api, {"flow_id": "gated", "entry_routine_id": "gate", "entry_params": {"n": 1}})
    await wait_gate_entered("m1")
    ws = await jp_ws_fetch("api", "ws", "jobs", job_id, "monitor")
    history = await read_until(ws, of_type("routine_start"))
    assert history[0]["event_type"] == "job_start"  # the ring buffer comes first
    assert all(m["type"] == "event" and m["job_id"] == job_id for m in history)
    api_routines.GATES["m1"].set()
    live = await read_until(ws, of_type("job_completed"))
    types = [m["event_type"] for m in live]
    assert "routine_complete" in types
    seqs = [m["seq"] for m in history + live]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # in order, nothing repeated
    ws.close()
    await wait_job_done(service, job_id)


async def test_batched_monitor_carries_the_same_events(api, service, jp_ws_fetch):
    await api("POST", "flows", body={"spec": SUM_SPEC}, expect=201)
    job_id = await start(api, {"flow_id": "sum_flow", "entry_routine_id": "numbers",
                               "entry_params": {"count": 20}})
    await wait_job_done(service, job_id)
    ws = await jp_ws_fetch("api", "ws", "jobs", job_id, "monitor", params={"batch": "1"})
    first = await next_json(ws)
    assert first["type"] == "batch"
    events = await read_until(ws, of_type("job_completed")) if not any(
        e.get("event_type") == "job_completed" for e in first["events"]) else first["events"]
    trace = await api("GET", "jobs", job_id, "trace")
    everything = first["events"] + ([] if events is first["events"] else events)
    assert [e["seq"] for e in everything] == [e["seq"] for e in trace["events"]]
    ws.close()


async def test_flow_monitor_sees_every_job_of_the_flow(api, service, jp_ws_fetch):
    await api("POST", "flows", body={"spec": SUM_SPEC}, expect=201)
    ws = await jp_ws_fetch("api", "ws", "flows", "sum_flow", "monitor")
    first = await start(api, {"flow_id": "sum_flow", "entry_routine_id": "numbers"})
    second = await start(api, {"flow_id": "sum_flow", "entry_routine_id": "numbers"})
    done: set[str] = set()
    await read_until(ws, lambda m: m.get("event_type") == "job_completed"
                     and (done.add(m["job_id"]) or done == {first, second}))
    ws.close()


async def test_debug_socket_answers_every_command(api, service, jp_ws_fetch):
    await api("POST", "flows", body={"spec": SUM_SPEC}, expect=201)
    job_id = await start(api, {
        "flow_id": "sum_flow", "entry_routine_id": "numbers", "entry_params": {"count": 4},
        "breakpoints": [{"type": "slot", "routine_id": "sum", "slot_name": "input",
                         "condition": "value == 1"}],
    })
    ws = await jp_ws_fetch("api", "ws", "jobs", job_id, "debug")
    inbox = Inbox(ws)
    hit = await inbox.take(of_type("breakpoint_hit"))
    assert hit["routine_id"] == "sum"

    async def command(command_name: str, **args: Any) -> dict[str, Any]:
        ws.write_message(json.dumps({"command": command_name, "id": command_name, **args}))
        return await inbox.take(lambda m: m.get("type") == "response")

    variables = await command("get_variables")
    assert variables["ok"] and variables["id"] == "get_variables"
    assert variables["result"]["variables"]["local"] == {"value": 1}
    stack = await command("get-call-stack")
    assert stack["result"]["frames"][0]["routine_id"] == "sum"
    edited = await command("set_variable", name="value", value=5)
    assert edited["ok"] and edited["result"]["name"] == "value"
    bad = await command("set_variable", value=5)
    assert bad["ok"] is False and bad["status"] == 400 and bad["error"]["message"]
    assert (await command("step_over"))["result"]["status"] == "running"
    await wait_paused(job_id)  # before the next activation (sum with value 2)
    session = (await command("get_session"))["result"]
    assert session["paused_at"]["routine_id"] == "sum" and session["paused_at"]["line"] is None
    assert (await command("step_into"))["ok"]
    await wait_paused(job_id)  # at the handler's first line
    inside = (await command("get_session"))["result"]["paused_at"]
    assert inside["line"] is not None and inside["function"] == "run"
    assert (await command("step_out"))["ok"]
    await wait_paused(job_id)  # before the next activation (sum with value 3)
    assert (await command("continue"))["ok"]
    await inbox.take(of_type("job_completed"))
    refused = await command("step-over")
    assert refused["ok"] is False and refused["status"] == 409
    unknown = await command("dance")
    assert unknown["status"] == 400 and "dance" in unknown["error"]["message"]
    ws.write_message("not json")
    garbled = await inbox.take(lambda m: m.get("type") == "response")
    assert garbled["status"] == 400 and garbled["id"] is None
    ws.close()
    await wait_job_done(service, job_id)


async def test_sockets_need_auth_and_existing_targets(api, jp_ws_fetch):
    await api("POST", "flows", body={"spec": SUM_SPEC}, expect=201)
    for path in (["jobs", "x", "monitor"], ["jobs", "x", "debug"], ["flows", "sum_flow", "monitor"]):
        with pytest.raises(HTTPClientError) as refused:
            await jp_ws_fetch("api", "ws", *path, headers={"Authorization": ""})
        assert refused.value.code == 403, path
    with pytest.raises(HTTPClientError) as missing:
        await jp_ws_fetch("api", "ws", "jobs", "nope", "monitor")
    assert missing.value.code == 404
    with pytest.raises(HTTPClientError) as missing:
        await jp_ws_fetch("api", "ws", "flows", "nope", "monitor")
    assert missing.value.code == 404


async def _wait_unsubscribed(manager: Any, job_id: str) -> None:
    for _ in range(500):  # the server sees the close on one of its next loop turns
        if manager.subscriber_count(job_id) == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{manager.subscriber_count(job_id)} subscriber(s) left")


async def test_closed_and_vanished_peers_are_unsubscribed(api, service, jp_ws_fetch):
    await api("POST", "flows", body={"spec": gate_spec("gated", "v1")}, expect=201)
    job_id = await start(api, {"flow_id": "gated", "entry_routine_id": "gate"})
    await wait_gate_entered("v1")
    manager = MonitoringRegistry.get_instance().event_manager

    polite = await jp_ws_fetch("api", "ws", "jobs", job_id, "monitor")
    await read_until(polite, of_type("routine_start"))
    assert manager.subscriber_count(job_id) == 1
    polite.close()  # close handshake: on_close unsubscribes
    await _wait_unsubscribed(manager, job_id)

    rude = await jp_ws_fetch("api", "ws", "jobs", job_id, "monitor")
    await read_until(rude, of_type("routine_start"))
    assert manager.subscriber_count(job_id) == 1
    rude.protocol.stream.close()  # the TCP connection just goes away, no close frame
    api_routines.GATES["v1"].set()  # more events for a peer that is gone
    await wait_job_done(service, job_id)
    await _wait_unsubscribed(manager, job_id)
