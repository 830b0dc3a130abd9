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
