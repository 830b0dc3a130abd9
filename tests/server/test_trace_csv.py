"""``GET /api/jobs/{id}/trace?format=csv`` on a real in-process server."""

from __future__ import annotations

import csv
import io
import json

from api_routines import SUM_SPEC
from server_helpers import wait_job_done

from routilux.monitoring.frames import TRACE_COLUMNS


async def _finished_job(api, service) -> str:  # type: ignore[no-untyped-def]
    await api("POST", "flows", body={"spec": SUM_SPEC}, expect=201)
    started = await api(
        "POST", "jobs",
        body={"flow_id": "sum_flow", "entry_routine_id": "numbers", "entry_params": {"count": 3}},
        expect=201,
    )
    await wait_job_done(service, started["job_id"])
    return started["job_id"]


async def test_trace_as_csv_has_one_row_per_event_of_the_json_trace(api, jp_fetch, service):
    job_id = await _finished_job(api, service)
    as_json = await api("GET", "jobs", job_id, "trace")

    response = await jp_fetch("api", "jobs", job_id, "trace", params={"format": "csv"})
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.body.decode())))
    assert list(rows[0]) == list(TRACE_COLUMNS)
    events = as_json["events"]
    assert [int(r["seq"]) for r in rows] == [e["seq"] for e in events]
    assert [r["event_type"] for r in rows] == [e["event_type"] for e in events]
    assert [r["timestamp"] for r in rows] == [e["timestamp"] for e in events]
    emits = [r for r in rows if r["event_type"] == "event_emit"]
    assert json.loads(emits[0]["data"]) == next(
        e["data"] for e in events if e["event_type"] == "event_emit")
    assert rows[0]["routine_id"] == ""   # job events have no routine: an empty cell

    last_two = await jp_fetch("api", "jobs", job_id, "trace", params={"format": "csv", "limit": 2})
    assert [int(r["seq"]) for r in csv.DictReader(io.StringIO(last_two.body.decode()))] == \
        [e["seq"] for e in events[-2:]]


async def test_an_unknown_trace_format_is_a_400_that_names_the_choices(api, service):
    job_id = await _finished_job(api, service)
    error = await api("GET", "jobs", job_id, "trace", params={"format": "xml"}, expect=400)
    assert "json, csv" in error["message"]
    assert error["detail"]["field"] == "format"
    await api("GET", "jobs", "no-such-job", "trace", params={"format": "csv"}, expect=404)
