"""The views' ES modules in a blank Chromium page (no Jupyter): layout, virtual trace, error box.

A tiny in-page model stands in for the widget model (get/on/off/send), so these run in a second
and pin down front-end behaviour the Lab test only passes through.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from routilux_jupyter.widgets._bundle import STATIC, bundle

from .lab import CHROMIUM, browser

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is missing: make browser-deps"),
]

MOUNT = """async ([src, css, state]) => {
  const style = document.createElement("style"); style.textContent = css; document.head.append(style);
  const mod = await import(URL.createObjectURL(new Blob([src], { type: "text/javascript" })));
  const listeners = {};
  const model = {
    get: (k) => state[k],
    set: (k, v) => { state[k] = v; (listeners["change:" + k] || []).forEach((f) => f()); },
    on: (n, f) => (listeners[n] = [...(listeners[n] || []), f]),
    off: (n, f) => (listeners[n] = (listeners[n] || []).filter((g) => g !== f)),
    sent: [], send(msg) { this.sent.push(msg); },
  };
  const el = document.createElement("div"); el.style.width = "1200px"; document.body.append(el);
  const fire = (name, payload) => (listeners[name] || []).forEach((f) => f(payload));
  window.rx = { model, el, fire, cleanup: mod.default.render({ model, el }) };
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  return true;
}"""


def base_state(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    return {"graph": {"flow_id": "f", "nodes": nodes, "edges": edges}, "routine_states": {},
            "routine_metrics": {}, "edge_hits": {}, "job": {}, "metrics": {}, "breakpoints": [],
            "debug": {}, "error": "", "height": 600, "trace": [], "trace_total": 0}


def dag(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nodes = [{"id": f"r{i}", "class_name": "Step", "slots": ["trigger", "side"], "events": ["out", "alt"]} for i in range(n)]
    edges = []
    for i in range(1, n):
        edges.append({"id": f"e{i}", "source": f"r{(i * 7919) % i}", "event": "out", "target": f"r{i}", "slot": "trigger"})
        if i % 3 == 0:
            edges.append({"id": f"s{i}", "source": f"r{(i * 104729) % i}", "event": "alt", "target": f"r{i}", "slot": "side"})
    edges.append({"id": "loop", "source": f"r{n - 1}", "event": "out", "target": "r0", "slot": "side"})  # a cycle
    return nodes, edges


def mount(page: Any, entry: str, state: dict[str, Any]) -> None:
    page.set_content("<!doctype html><html><body></body></html>")
    page.evaluate(MOUNT, [bundle(entry), (STATIC / "routilux.css").read_text(), state])


def test_two_hundred_routines_lay_out_without_overlaps_and_edges_run_forward() -> None:
    nodes, edges = dag(200)
    with browser() as page:
        mount(page, "flow_view.js", base_state(nodes, edges))
        boxes = page.evaluate("""() => [...rx.el.querySelectorAll('.rx-node')].map((g) => {
            const m = g.getAttribute('transform').match(/translate\\(([-\\d.]+),([-\\d.]+)\\)/);
            const r = g.querySelector('.rx-node-box');
            return { id: g.dataset.routine, x: +m[1], y: +m[2], w: +r.getAttribute('width'), h: +r.getAttribute('height') };
        })""")
        assert len(boxes) == 200
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                apart = a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"]
                assert apart, (a, b)
        x = {b["id"]: b["x"] for b in boxes}
        forward = [e for e in edges if e["id"] != "loop"]
        assert all(x[e["source"]] < x[e["target"]] for e in forward)
        assert page.locator(".rx-edge").count() == len(edges)
        assert page.locator(".rx-edge-back").count() == 1  # the cycle's closing edge loops back
        assert float(page.get_attribute(".rx-flow-view", "data-render-ms")) < 1000
        assert page.errors == []  # type: ignore[attr-defined]


def test_live_state_colours_nodes_and_lights_edges() -> None:
    nodes, edges = dag(5)
    with browser() as page:
        mount(page, "flow_view.js", base_state(nodes, edges))
        page.evaluate("""() => { rx.model.set('routine_states', {r0: 'completed', r1: 'running', r2: 'failed'});
                                rx.model.set('edge_hits', {e1: 3}); }""")
        page.wait_for_selector('.rx-node[data-routine="r1"].rx-state-running')
        assert page.get_attribute('.rx-node[data-routine="r2"]', "class").count("rx-state-failed") == 1
        assert "rx-lit" in page.get_attribute('.rx-edge[data-edge="e1"]', "class")
        page.wait_for_function("() => !document.querySelector('.rx-edge[data-edge=\"e1\"]').classList.contains('rx-lit')")
        page.click('.rx-node[data-routine="r2"]')
        assert "r2" in page.inner_text(".rx-selected-panel") and "failed" in page.inner_text(".rx-selected-panel")


def test_trace_table_keeps_only_the_rows_in_view_and_scrolls_through_all() -> None:
    events = [{"event_id": f"j:{i}", "seq": i, "routine_id": f"r{i % 5}", "event_type": "routine_complete",
               "timestamp": 1700000000 + i / 1000, "duration": 0.001, "status": "completed", "slot_name": "trigger",
               "data": {}} for i in range(3000)]
    nodes, edges = dag(5)
    state = {**base_state(nodes, edges), "trace": events, "trace_total": 3000}
    with browser() as page:
        mount(page, "job_view.js", state)
        page.click('button[data-tab="trace"]')
        page.wait_for_selector(".rx-trace-table tr.rx-ev")
        rows = page.locator(".rx-trace-table tr.rx-ev")
        assert rows.count() < 60  # a window, not 3000 rows
        assert rows.first.get_attribute("data-event") == "j:2999"  # newest first
        page.evaluate("() => { const w = document.querySelector('.rx-trace-table'); w.scrollTop = w.scrollHeight; }")
        page.wait_for_function("() => [...document.querySelectorAll('.rx-trace-table tr.rx-ev')].some((r) => r.dataset.event === 'j:0')")
        page.evaluate("() => { const w = document.querySelector('.rx-trace-table'); w.scrollTop = w.scrollHeight / 2; }")
        page.wait_for_function("""() => { const w = document.querySelector('.rx-trace-table');
            const top = w.getBoundingClientRect().top + 40;
            const row = [...w.querySelectorAll('tr.rx-ev')].find((r) => r.getBoundingClientRect().top >= top);
            const seq = +row.dataset.event.split(':')[1]; return seq > 1300 && seq < 1700; }""")
        page.fill('input[aria-label="text filter"]', "r3 ")
        page.wait_for_function("() => [...document.querySelectorAll('.rx-trace-table tr.rx-ev')].every((r) => r.textContent.includes('r3'))")


def test_a_rendering_failure_shows_in_the_cell() -> None:
    with browser() as page:
        state = base_state([{"id": "a", "class_name": "X", "slots": None, "events": ["out"]}], [])
        state["graph"] = {"nodes": "not a list", "edges": []}
        mount(page, "job_view.js", state)
        assert "routilux view error" in page.inner_text(".rx-error")


def test_debugger_controls_send_commands_and_show_refusals() -> None:
    nodes, edges = dag(3)
    state = {**base_state(nodes, edges), "job": {"job_id": "j", "status": "paused"},
             "debug": {"paused_at": {"routine_id": "r1", "slot_name": "trigger", "reason": "breakpoint"},
                       "variables": {"local": {"value": 1}, "shared": {}}, "call_stack": []}}
    with browser() as page:
        mount(page, "job_view.js", state)
        assert page.is_enabled('button[data-action="continue"]')
        assert not page.is_enabled('button[data-action="pause"]')
        page.click('button[data-action="step_over"]')
        sent = page.evaluate("() => rx.model.sent")
        assert sent[-1]["type"] == "command" and sent[-1]["action"] == "step_over"
        # The kernel refuses (as it would for a job that is not paused): the reason shows.
        page.evaluate("""(id) => rx.fire('msg:custom', {type: 'result', id, ok: false,
                         error: 'cannot step over: job j is running, not paused'})""", sent[-1]["id"])
        page.wait_for_function("() => document.querySelector('.rx-dbg-message').textContent.includes('not paused')")

        page.fill('input[aria-label="breakpoint condition"]', "value >")
        page.click('button[data-action="add_breakpoint"]')
        add = page.evaluate("() => rx.model.sent[rx.model.sent.length - 1]")
        assert add["action"] == "add_breakpoint" and add["args"]["condition"] == "value >"
        assert add["args"]["routine_id"] == "r0" and add["args"]["type"] == "routine"
        page.evaluate("""(id) => rx.fire('msg:custom', {type: 'result', id, ok: false, error: 'invalid syntax in condition'})""", add["id"])
        page.wait_for_function("() => document.querySelector('.rx-bp-error').textContent === 'invalid syntax in condition'")

        page.click('.rx-var-value')
        page.fill('input.rx-var-edit', '{"a": [1, 2]}')
        page.press('input.rx-var-edit', "Enter")
        edit = page.evaluate("() => rx.model.sent[rx.model.sent.length - 1]")
        assert edit["action"] == "set_variable" and edit["args"] == {"name": "value", "value": {"a": [1, 2]}, "scope": "local"}
        assert page.errors == []  # type: ignore[attr-defined]


def test_breakpoint_rows_toggle_edit_and_remove_and_older_events_page_in() -> None:
    nodes, edges = dag(3)
    bp = {"breakpoint_id": "b1", "type": "slot", "routine_id": "r1", "slot_name": "trigger",
          "event_name": None, "condition": "value > 1", "enabled": True, "hit_count": 2}
    live = [{"event_id": f"j:{i}", "seq": i, "routine_id": "r1", "event_type": "slot_call",
             "timestamp": 1700000000 + i, "data": {"value": i}} for i in range(100, 300)]
    state = {**base_state(nodes, edges), "job": {"job_id": "j", "status": "running"},
             "breakpoints": [bp], "trace": live, "trace_total": 300}
    with browser() as page:
        mount(page, "job_view.js", state)
        last = lambda: page.evaluate("() => rx.model.sent[rx.model.sent.length - 1]")  # noqa: E731
        assert "hits 2" in page.inner_text(".rx-bp-row")
        page.uncheck('.rx-bp-row input[type="checkbox"]')
        assert last()["action"] == "toggle_breakpoint" and last()["args"] == {"breakpoint_id": "b1", "enabled": False}
        page.fill(".rx-bp-cond-edit", "value > 5")
        page.press(".rx-bp-cond-edit", "Enter")
        assert last()["action"] == "update_breakpoint" and last()["args"]["condition"] == "value > 5"
        page.click('.rx-bp-row button[data-action="remove_breakpoint"]')
        assert last()["action"] == "remove_breakpoint" and last()["args"] == {"breakpoint_id": "b1"}
        page.click('button[data-action="pause"]')
        assert last()["action"] == "pause"

        page.click('button[data-tab="trace"]')
        page.click("text=Load older")
        ask = last()
        assert ask["action"] == "page_trace" and ask["args"] == {"before": "j:100", "limit": 200}
        older = [{"event_id": f"j:{i}", "seq": i, "routine_id": "r0", "event_type": "event_emit",
                  "timestamp": 1700000000 + i, "data": {}} for i in range(0, 100)]
        page.evaluate("""([id, events]) => rx.fire('msg:custom', {type: 'result', id, ok: true,
                         data: {events, has_more: false}})""", [ask["id"], older])
        page.wait_for_function("() => document.querySelector('.rx-trace-count').textContent.startsWith('300 shown')")
        assert page.inner_text("text=No older events")
        assert page.errors == []  # type: ignore[attr-defined]


def test_metrics_tab_lists_routines_sorted_and_selects_on_click() -> None:
    nodes, edges = dag(4)
    metrics = {f"r{i}": {"execution_count": i + 1, "total_duration": 0.01 * (i + 1), "avg_duration": 0.01,
                         "min_duration": 0.01, "max_duration": 0.01, "error_count": 0} for i in range(4)}
    state = {**base_state(nodes, edges), "routine_metrics": metrics, "job": {"job_id": "j", "status": "completed"}}
    with browser() as page:
        mount(page, "job_view.js", state)
        page.click('button[data-tab="metrics"]')
        rows = page.locator(".rx-metrics-table tbody tr")
        assert rows.count() == 4
        assert rows.first.get_attribute("data-routine") == "r3"  # most total time first
        rows.nth(1).click()
        assert "r2" in page.inner_text(".rx-selected-panel")
        assert "rx-selected" in page.get_attribute('.rx-node[data-routine="r2"]', "class")


def test_job_summary_shows_the_executor_and_links_a_dask_dashboard() -> None:
    nodes, edges = dag(2)
    state = base_state(nodes, edges)
    state["job"] = {"job_id": "j1", "flow_id": "f", "status": "running", "executor": "dask",
                    "executor_info": {"name": "dask",
                                      "dashboard_link": "http://127.0.0.1:8787/status"}}
    with browser() as page:
        mount(page, "job_view.js", state)
        item = page.locator(".rx-executor")
        assert item.get_attribute("data-executor") == "dask"
        assert "executor dask" in item.inner_text()
        assert page.locator(".rx-executor-link").get_attribute("href") == \
            "http://127.0.0.1:8787/status"
        # A link that is not http(s) is not rendered as a link.
        page.evaluate("""() => rx.model.set('job', {job_id: 'j1', status: 'running',
            executor: 'dask', executor_info: {dashboard_link: 'javascript:alert(1)'}})""")
        # (the view redraws on its next animation frame: wait for it)
        page.wait_for_function("() => document.querySelectorAll('.rx-executor-link').length === 0",
                               timeout=5000)
        assert "executor dask" in page.locator(".rx-executor").inner_text()
