"""Time travel on the dashboard's job page (REST/WS, no widget comm) against a real server.

A bridged kernel runs the five-routine flow of test_timetravel_browser, whose ``price`` routine
fails on an item without a price. On that job's dashboard page: open price's activation from the
trace (its start row and its error row), refuse bad JSON and an input the server rejects (the
400's reason shown), re-run with the fixed input, follow the link to the fork's own page (which
links its parent, and completes), then compare the two jobs back on the parent's page.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.kernel.cells import LOAD
from tests.kernel.harness import JupyterServer, wait_for

from .lab import CHROMIUM, browser
from .test_timetravel_browser import FIXED, FLOW

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is missing: make browser-deps"),
]

TIMEOUT = 30_000


def test_rerun_and_compare_from_the_dashboard_job_page(tmp_path: Path, artifacts: Path) -> None:
    server = JupyterServer(tmp_path, secrets.token_hex(16))
    kernel = None
    try:
        kernel = server.start_kernel("tt.ipynb")
        kernel.run(LOAD)
        assert "broken run failed" in kernel.run(FLOW).stdout
        parent = kernel.value("broken.job_id")
        wait_for(lambda: server.call("GET", f"api/jobs/{parent}")[0] == 200, 30, "the bridge to report the job")
        start_seq = next(a["seq"] for a in server.api("GET", f"jobs/{parent}/activations")["activations"]
                         if a["routine_id"] == "price")

        with browser() as page:
            page.goto(server.page_url(f"routilux/jobs/{parent}"))
            view = page.locator(".rx-job-view")
            view.locator('.rx-summary .rx-status[data-status="failed"]').wait_for(timeout=TIMEOUT)
            travel = view.locator(".rx-timetravel")

            # price's routine_error row opens the activation it ends (what the kernel does too),
            # its routine_start row the same one.
            view.locator('button[data-tab="trace"]').click()
            view.locator("tr.rx-ev-routine_error", has_text="price").locator(".rx-open-activation").click()
            travel.locator(".rx-tt-input").wait_for(timeout=TIMEOUT)
            head = travel.locator(".rx-tt-head")
            assert f"seq {start_seq}" in head.inner_text() and "failed" in head.inner_text()
            view.locator('button[data-tab="trace"]').click()
            view.locator("tr.rx-ev-routine_start", has_text="price").locator(".rx-open-activation").click()
            travel.locator(".rx-tt-input").wait_for(timeout=TIMEOUT)
            shown = json.loads(travel.locator(".rx-tt-input").inner_text())
            assert shown["items"][1] == {"name": "jam", "price": None, "qty": 1}
            assert "price" in travel.locator(".rx-tt-head").inner_text()
            assert travel.locator(".rx-tt-emits").inner_text().strip() == "[]"  # it failed before emitting
            page.screenshot(path=str(artifacts / "dashboard_tt_activation.png"), full_page=True)

            # Re-run from here: bad JSON is refused in the page, an input the slot's handler
            # cannot take by the server (its 400 reason shown), the fixed input starts a fork.
            travel.locator(".rx-tt-edit").click()
            editor = travel.locator(".rx-tt-editor")
            reason = travel.locator(".rx-tt-reason")
            editor.fill('{"items": [')
            travel.locator(".rx-tt-run").click()
            assert "Not valid JSON" in reason.inner_text()
            editor.fill('{"wrong": 1}')
            travel.locator(".rx-tt-run").click()
            page.wait_for_function("() => document.querySelector('.rx-tt-reason').textContent.includes('lacks')",
                                   timeout=TIMEOUT)
            assert "items" in reason.inner_text()
            page.screenshot(path=str(artifacts / "dashboard_tt_refused.png"), full_page=True)
            editor.fill(json.dumps(FIXED, indent=1))
            travel.locator(".rx-tt-run").click()
            link = travel.locator(".rx-tt-started a.rx-tt-fork-link")
            link.wait_for(timeout=TIMEOUT)
            assert "Not valid" not in reason.inner_text() and "lacks" not in reason.inner_text()
            fork = link.get_attribute("data-job")
            assert fork and fork != parent
            assert travel.locator(f'.rx-tt-forks .rx-tt-fork[data-job="{fork}"] a.rx-tt-fork-link').count() == 1
            page.screenshot(path=str(artifacts / "dashboard_tt_started.png"), full_page=True)
            made = server.api("GET", f"jobs/{fork}")
            assert made["parent_job_id"] == parent and made["forked_from"] == {"job_id": parent, "seq": start_seq}

            # The fork's own page: it completes and links back to its parent.
            link.click()
            page.wait_for_url(f"**/routilux/jobs/{fork}", timeout=TIMEOUT)
            view.locator('.rx-summary .rx-status[data-status="completed"]').wait_for(timeout=TIMEOUT)
            view.locator('button[data-tab="timetravel"]').click()
            back = travel.locator(".rx-tt-parent a.rx-tt-link")
            back.wait_for(timeout=TIMEOUT)
            assert "Fork of job" in back.inner_text() and f"seq {start_seq}" in back.inner_text()
            assert back.get_attribute("href").endswith(f"/routilux/jobs/{parent}")
            page.screenshot(path=str(artifacts / "dashboard_tt_fork.png"), full_page=True)

            # Back on the parent: compare with the fork, graph coloured, payloads side by side.
            back.click()
            page.wait_for_url(f"**/routilux/jobs/{parent}", timeout=TIMEOUT)
            view.locator('.rx-summary .rx-status[data-status="failed"]').wait_for(timeout=TIMEOUT)
            view.locator('button[data-tab="timetravel"]').click()
            travel.locator(".rx-tt-compare-with").click()
            travel.locator(f'.rx-tt-pick option[value="{fork}"]').wait_for(state="attached", timeout=TIMEOUT)
            assert "fork" in travel.locator(f'.rx-tt-pick option[value="{fork}"]').inner_text()
            assert travel.locator(f'.rx-tt-pick option[value="{parent}"]').count() == 0  # not itself
            travel.locator(".rx-tt-pick").select_option(fork)
            travel.locator(".rx-tt-compare").click()
            travel.locator(".rx-tt-table").wait_for(timeout=TIMEOUT)
            assert "price" in travel.locator(".rx-tt-summary").inner_text()
            origin = view.locator(".rx-graph-box .rx-node.rx-diff-origin")
            assert origin.evaluate_all("ns => ns.map(n => n.dataset.routine)") == ["price"]
            row = travel.locator('.rx-tt-table tr[data-routine="price"]')
            assert "items[1].price" in row.inner_text()
            assert "null" in row.locator(".rx-tt-a").inner_text() and "4" in row.locator(".rx-tt-b").inner_text()
            page.screenshot(path=str(artifacts / "dashboard_tt_compare.png"), full_page=True)

            assert page.locator(".rx-error").count() == 0, page.locator(".rx-error").all_inner_texts()
            # Chromium logs every 4xx response; the one refusal asked for (the input the handler
            # cannot take) is expected, anything else is a bug.
            refused = "Failed to load resource: the server responded with a status of 400"
            errors = page.errors  # type: ignore[attr-defined]
            assert [e for e in errors if refused not in e] == [] and len(errors) <= 1, errors
    finally:
        if kernel is not None:
            kernel.close()
        server.stop()


SPLIT_FLOW = {
    "flow_id": "tt_server_flow",
    "routines": {"split": {"class": "Splitter"}, "keep": {"class": "Collector"}},
    "connections": [{"from": "split.item", "to": "keep.trigger"}],
}


def test_a_server_jobs_fork_from_its_dashboard_page(tmp_path: Path, artifacts: Path) -> None:
    """The same on a server-owned job: Splitter fails on items that are not a list."""
    server = JupyterServer(tmp_path, secrets.token_hex(16))
    try:
        server.api("POST", "flows", {"spec": SPLIT_FLOW}, expect=201)
        started = server.api("POST", "jobs", {"flow_id": "tt_server_flow", "entry_routine_id": "split",
                                              "entry_params": {"items": 5}}, expect=201)
        parent = started["job_id"]
        wait_for(lambda: server.api("GET", f"jobs/{parent}")["status"] == "failed", 30, "the server job to fail")
        with browser() as page:
            page.goto(server.page_url(f"routilux/jobs/{parent}"))
            view = page.locator(".rx-job-view")
            view.locator('.rx-summary .rx-status[data-status="failed"]').wait_for(timeout=TIMEOUT)
            travel = view.locator(".rx-timetravel")
            view.locator('button[data-tab="trace"]').click()
            view.locator("tr.rx-ev-routine_error", has_text="split").locator(".rx-open-activation").click()
            travel.locator(".rx-tt-input").wait_for(timeout=TIMEOUT)
            assert json.loads(travel.locator(".rx-tt-input").inner_text()) == {"items": 5}
            travel.locator(".rx-tt-edit").click()
            travel.locator(".rx-tt-editor").fill('{"items": ["a", "b"]}')
            travel.locator(".rx-tt-run").click()
            link = travel.locator(".rx-tt-started a.rx-tt-fork-link")
            link.wait_for(timeout=TIMEOUT)
            fork = link.get_attribute("data-job")
            link.click()
            page.wait_for_url(f"**/routilux/jobs/{fork}", timeout=TIMEOUT)
            view.locator('.rx-summary .rx-status[data-status="completed"]').wait_for(timeout=TIMEOUT)
            view.locator('button[data-tab="timetravel"]').click()
            assert travel.locator(".rx-tt-parent a.rx-tt-link").get_attribute("href").endswith(f"/routilux/jobs/{parent}")
            # From the fork's side this time: the parent is the other job of the flow.
            travel.locator(".rx-tt-compare-with").click()
            travel.locator(f'.rx-tt-pick option[value="{parent}"]').wait_for(state="attached", timeout=TIMEOUT)
            travel.locator(".rx-tt-pick").select_option(parent)
            travel.locator(".rx-tt-compare").click()
            travel.locator(".rx-tt-table").wait_for(timeout=TIMEOUT)
            assert "split" in travel.locator(".rx-tt-summary").inner_text()
            assert view.locator('.rx-graph-box .rx-node[data-routine="split"]').get_attribute("class").count("rx-diff-") == 1
            page.screenshot(path=str(artifacts / "dashboard_tt_server_compare.png"), full_page=True)
            assert page.locator(".rx-error").count() == 0, page.locator(".rx-error").all_inner_texts()
            assert page.errors == [], page.errors  # type: ignore[attr-defined]
    finally:
        server.stop()


# The REST channel alone, in a blank page with a fake API (no server): what each time-travel
# command asks the API and how the answer is reshaped into the kernel reply.
CHANNEL = """async () => {
  const { makeJobModel } = await import("/dashboard/job_model.js");
  const calls = [];
  const answers = {
    "GET jobs/j1/trace": { events: [
      { seq: 3, event_type: "routine_start", routine_id: "a", activation_id: 1 },
      { seq: 4, event_type: "routine_start", routine_id: "b", activation_id: 2 },
      { seq: 6, event_type: "routine_error", routine_id: "a", activation_id: 1 }] },
    "GET jobs/j1/activations?seq=3": { activations: [{ seq: 3, routine_id: "a", input: { x: 1 } }], total: 1 },
    "POST jobs/j1/rerun": { job_id: "f/1", flow_id: "fl", status: "running", parent_job_id: "j1",
                            forked_from: { job_id: "j1", seq: 3 } },
    "GET jobs?flow_id=fl&limit=100": { jobs: [
      { job_id: "f/1", flow_id: "fl", status: "completed", parent_job_id: "j1", owner: { kind: "kernel", kernel_id: "k" } },
      { job_id: "j1", flow_id: "fl", status: "failed", owner: { kind: "kernel", kernel_id: "k" } },
      { job_id: "other-kernel", flow_id: "fl", status: "completed", owner: { kind: "kernel", kernel_id: "k2" } },
      { job_id: "server-job", flow_id: "fl", status: "completed", owner: { kind: "server" } }] },
    "GET jobs/j1/diff/f%2F1": { job_a: "j1", job_b: "f/1", same: false, routines: [] },
  };
  const api = {
    async request(method, path, body) {
      calls.push([method, path, body === undefined ? null : body]);
      const data = answers[`${method} ${path}`];
      return data ? { ok: true, status: 200, data, error: null } : { ok: false, status: 404, data: null, error: "no such thing" };
    },
    socket() { return { close() {} }; },
  };
  const job = makeJobModel(api, "j1", { pageUrl: "/base/routilux/" });
  job.model.set("job", { job_id: "j1", flow_id: "fl", owner: { kind: "kernel", kernel_id: "k" } });
  const c = job.channel.command;
  const out = {};
  out.fromError = await c("activation", { seq: 6 });
  out.fromStart = await c("activation", { seq: 3 });
  out.badSeq = await c("activation", { seq: "3" });
  out.rerun = await c("rerun", { seq: 3, data: '{"x": 2}' });
  out.rerunNull = await c("rerun", { seq: 3, data: "null" });
  out.rerunList = await c("rerun", { seq: 3, data: "[1]" });
  out.rerunBad = await c("rerun", { seq: 3, data: "{" });
  out.jobs = await c("flow_jobs", {});
  out.compare = await c("compare", { job_id: "f/1" });
  out.compareNone = await c("compare", { job_id: "" });
  out.proto = await c("toString", {});
  out.parentUrl = job.channel.jobUrl("j 1");
  job.dispose();
  return { out, calls };
}"""


def test_the_rest_channel_answers_time_travel_commands_in_the_kernel_shapes() -> None:
    from routilux_jupyter.dashboard import STATIC as DASHBOARD_STATIC
    from routilux_jupyter.dashboard import VIEWS_STATIC

    def serve(route: Any) -> None:
        path = route.request.url.split("://rx.test/", 1)[1]
        if path == "":
            route.fulfill(body="<!doctype html><html><body></body></html>", content_type="text/html")
            return
        folder, _, name = path.partition("/")
        base = {"dashboard": DASHBOARD_STATIC, "views": VIEWS_STATIC}[folder]
        route.fulfill(body=(Path(base) / name).read_text(), content_type="text/javascript")

    with browser() as page:
        page.route("http://rx.test/**", serve)
        page.goto("http://rx.test/")
        result = page.evaluate(CHANNEL)
        out, calls = result["out"], result["calls"]

    # An error row opens the activation it ends: its routine_start's seq is what REST knows.
    assert out["fromError"] == {"ok": True, "error": None, "data": {"seq": 3, "routine_id": "a", "input": {"x": 1}}}
    assert out["fromStart"] == out["fromError"]
    assert not out["badSeq"]["ok"] and "positive integer" in out["badSeq"]["error"]
    # The fork: the kernel's reply keys, with the fork's page instead of its widget.
    assert out["rerun"] == {"ok": True, "error": None, "data": {
        "job_id": "f/1", "parent_job_id": "j1", "forked_from": {"job_id": "j1", "seq": 3},
        "page_url": "/base/routilux/jobs/f%2F1"}}
    assert ["POST", "jobs/j1/rerun", {"seq": 3, "data": {"x": 2}}] in calls
    for key in ("rerunNull", "rerunList"):
        assert not out[key]["ok"] and "must be a JSON object" in out[key]["error"], out[key]
    assert not out["rerunBad"]["ok"] and "not valid JSON" in out["rerunBad"]["error"]
    assert sum(1 for c in calls if c[1] == "jobs/j1/rerun") == 1  # refused inputs never reach the server
    # Other jobs of the same flow and owner, in the kernel's shape.
    assert out["jobs"] == {"ok": True, "error": None, "data": [
        {"job_id": "f/1", "status": "completed", "label": None, "created_at": None, "parent_job_id": "j1"}]}
    assert out["compare"]["ok"] and out["compare"]["data"]["job_b"] == "f/1"
    assert out["compareNone"] == {"ok": False, "error": "pick a job to compare with", "data": None}
    assert out["proto"] == {"ok": False, "error": 'unknown action "toString"', "data": None}
    assert out["parentUrl"] == "/base/routilux/jobs/j%201"
