// The trace: a filterable table of execution events and a timeline of routine executions.
//
// The kernel sends only the newest events (a bounded window); older ones are paged in on demand
// ("Load older"), and the browser keeps at most MAX_KEPT of them.

import { h, clear, fill, fmtDuration, fmtTime, preview, toMillis, frameScheduler } from "./util.js";

const MAX_KEPT = 5000;
const ROW_HEIGHT = 20; // px until a row is measured; rows are fixed-height (see .rx-trace-table)
const OVERSCAN = 6;
const LANE_HEIGHT = 16;
const AXIS_HEIGHT = 18;
const LABEL_WIDTH = 120;
const MAX_LANES = 60;

// Rows that stand for an activation: clicking their type opens its recorded input (time travel).
const ACTIVATION_EVENTS = new Set(["routine_start", "routine_complete", "routine_error"]);

export const EVENT_TYPES = [
  "job_start", "routine_start", "slot_call", "event_emit", "routine_complete", "routine_error",
  "breakpoint_hit", "job_paused", "job_resumed", "job_cancelled", "job_completed", "job_failed",
];

export class TracePanel {
  constructor(container, { onLoadOlder, onSelect, onActivation } = {}) {
    this.onLoadOlder = onLoadOlder || (() => Promise.resolve(null));
    this.onSelect = onSelect || (() => {});
    this.onActivation = onActivation || null;
    this.live = [];
    this.older = [];
    this.total = 0;
    this.hasMore = true;
    this.loading = false;
    this.filter = { routine: "", type: "", text: "" };
    this.routines = [];

    this.routineSelect = h("select", { class: "rx-input", "aria-label": "routine filter", onchange: (e) => this._setFilter("routine", e.target.value) });
    this.typeSelect = h(
      "select",
      { class: "rx-input", "aria-label": "event type filter", onchange: (e) => this._setFilter("type", e.target.value) },
      h("option", { value: "" }, "all types"),
      EVENT_TYPES.map((t) => h("option", { value: t }, t)),
    );
    this.search = h("input", { class: "rx-input", type: "search", placeholder: "filter text…", "aria-label": "text filter", oninput: (e) => this._setFilter("text", e.target.value) });
    this.olderButton = h("button", { class: "rx-btn", onclick: () => this.loadOlder() }, "Load older");
    this.count = h("span", { class: "rx-muted rx-trace-count" });
    this.canvas = h("canvas", { class: "rx-timeline" });
    this.canvas.addEventListener("click", (ev) => this._timelineClick(ev));
    this.tbody = h("tbody");
    this.topSpacer = h("tr", { class: "rx-spacer" });
    this.bottomSpacer = h("tr", { class: "rx-spacer" });
    this.tbody.append(this.topSpacer, this.bottomSpacer);
    this.rowById = new Map();
    this.shown = [];
    this.viewHeight = 280;
    this.rowHeight = ROW_HEIGHT;
    this.measured = false;
    this.tableWrap = h(
      "div",
      { class: "rx-table-wrap rx-trace-table", onscroll: () => this.schedule() },
      h(
        "table",
        { class: "rx-table rx-fixed" },
        h("colgroup", null, ["rx-c-time", "rx-c-type", "rx-c-routine", "rx-c-detail", "rx-c-dur", "rx-c-status"].map((c) => h("col", { class: c }))),
        h("thead", null, h("tr", null, ["time", "type", "routine", "detail", "duration", "status"].map((c) => h("th", null, c)))),
        this.tbody,
      ),
    );
    this.root = h(
      "div",
      { class: "rx-trace" },
      h("div", { class: "rx-trace-bar" }, this.routineSelect, this.typeSelect, this.search, this.olderButton, this.count),
      h("div", { class: "rx-timeline-wrap" }, this.canvas),
      this.tableWrap,
    );
    container.append(this.root);
    this.lanes = [];
    this.width = 600;
    this.colors = null;
    this.canvasSize = "";
    // The canvas width follows its box; read through an observer, never during a redraw.
    this.resize = new ResizeObserver((entries) => {
      const w = Math.round(entries[0].contentRect.width);
      if (w > 0 && w !== this.width) {
        this.width = w;
        this.schedule();
      }
    });
    this.resize.observe(this.canvas.parentElement);
    this.tableResize = new ResizeObserver((entries) => {
      const hgt = Math.round(entries[0].contentRect.height);
      if (hgt > 0 && hgt !== this.viewHeight) {
        this.viewHeight = hgt;
        this.schedule();
      }
    });
    this.tableResize.observe(this.tableWrap);
    this.schedule = frameScheduler(() => this.render());
    this.setRoutines([]);
  }

  setRoutines(ids) {
    this.routines = ids.slice();
    const current = this.filter.routine;
    fill(this.routineSelect,
      h("option", { value: "" }, "all routines"),
      this.routines.map((id) => h("option", { value: id, selected: id === current }, id)),
    );
  }

  // The kernel's newest window of events and the kernel-side total.
  update(events, total) {
    this.live = events || [];
    this.total = total || this.live.length;
    this.schedule();
  }

  async loadOlder() {
    if (this.loading || !this.hasMore) return;
    const all = this.events();
    const before = all.length ? all[0].event_id : null;
    this.loading = true;
    this.olderButton.disabled = true;
    try {
      const page = await this.onLoadOlder(before);
      if (page) this.addOlder(page.events || [], Boolean(page.has_more));
    } finally {
      this.loading = false;
      this.olderButton.disabled = !this.hasMore;
    }
  }

  addOlder(events, hasMore) {
    const known = new Set(this.older.map((e) => e.event_id));
    const fresh = events.filter((e) => !known.has(e.event_id));
    this.older = fresh.concat(this.older).slice(-MAX_KEPT);
    this.hasMore = hasMore && this.older.length < MAX_KEPT;
    this.olderButton.disabled = !this.hasMore;
    this.olderButton.textContent = this.hasMore ? "Load older" : "No older events";
    this.schedule();
  }

  // Older pages followed by the live window, without duplicates, oldest first.
  events() {
    if (!this.older.length) return this.live;
    const liveIds = new Set(this.live.map((e) => e.event_id));
    return this.older.filter((e) => !liveIds.has(e.event_id)).concat(this.live);
  }

  filtered() {
    const { routine, type, text } = this.filter;
    const needle = text.trim().toLowerCase();
    return this.events().filter(
      (e) =>
        (!routine || e.routine_id === routine) &&
        (!type || e.event_type === type) &&
        (!needle || rowText(e).toLowerCase().includes(needle)),
    );
  }

  render() {
    const rows = this.filtered();
    this.count.textContent = `${rows.length} shown · ${this.events().length} loaded · ${this.total} recorded`;
    // Draw the canvas first: it only reads cached sizes, so no layout is forced mid-update.
    this.drawTimeline(rows);
    this.updateRows(rows.slice().reverse()); // newest first
  }

  // A virtual table: only the rows in view (plus a few) are in the DOM, between two spacer
  // rows, so 10,000 events a second cost the same as ten. Rows keep their place while new events
  // arrive above them, unless the view is at the top (then it follows the newest).
  updateRows(shown) {
    const wrap = this.tableWrap;
    const rh = this.rowHeight;
    const previous = this.shown;
    let scrollTop = wrap.scrollTop;
    if (scrollTop > 0 && previous.length) {
      const anchorIndex = Math.floor(scrollTop / rh);
      const anchor = previous[Math.min(anchorIndex, previous.length - 1)];
      const moved = anchor ? shown.findIndex((e) => e.event_id === anchor.event_id) : -1;
      if (moved >= 0 && moved !== anchorIndex) {
        scrollTop += (moved - anchorIndex) * rh;
        wrap.scrollTop = scrollTop;
      }
    }
    this.shown = shown;
    const first = Math.max(0, Math.floor(scrollTop / rh) - OVERSCAN);
    const last = Math.min(shown.length, Math.ceil((scrollTop + this.viewHeight) / rh) + OVERSCAN);
    const slice = shown.slice(first, last);
    const keep = new Set();
    for (const e of slice) keep.add(e.event_id);
    for (const [id, tr] of this.rowById) {
      if (!keep.has(id)) {
        tr.remove();
        this.rowById.delete(id);
      }
    }
    this.topSpacer.style.height = `${first * rh}px`;
    this.bottomSpacer.style.height = `${(shown.length - last) * rh}px`;
    const body = this.tbody;
    let cursor = this.topSpacer.nextSibling;
    for (const e of slice) {
      let tr = this.rowById.get(e.event_id);
      if (!tr) {
        tr = this.row(e);
        this.rowById.set(e.event_id, tr);
      }
      if (tr === cursor) cursor = cursor.nextSibling;
      else body.insertBefore(tr, cursor);
    }
    // Measure the real row height once (theme fonts decide it), then lay out with it.
    if (!this.measured && slice.length && wrap.isConnected && !this.root.closest("[hidden]")) {
      const height = this.rowById.get(slice[0].event_id).getBoundingClientRect().height;
      if (height > 0) {
        this.measured = true;
        if (Math.abs(height - rh) > 0.5) {
          this.rowHeight = height;
          this.schedule();
        }
      }
    }
  }

  row(e) {
    return h(
      "tr",
      { class: `rx-ev rx-ev-${e.event_type}`, "data-event": e.event_id },
      h("td", { class: "rx-mono" }, fmtTime(e.timestamp)),
      ACTIVATION_EVENTS.has(e.event_type) && this.onActivation
        ? h("td", { class: "rx-link rx-open-activation", title: "open the recorded input and outputs", onclick: () => this.onActivation(e.seq) }, e.event_type)
        : h("td", null, e.event_type),
      h("td", { class: "rx-link", onclick: () => e.routine_id && this.onSelect(e.routine_id) }, e.routine_id || ""),
      h("td", { class: "rx-mono rx-detail" }, detail(e)),
      h("td", { class: "rx-num" }, e.duration ? fmtDuration(e.duration) : ""),
      h("td", null, e.status || ""),
    );
  }

  // Bars for routine executions (end = event time, start = end - duration), ticks for the rest.
  drawTimeline(events) {
    const spans = [];
    const marks = [];
    let t0 = Infinity;
    let t1 = -Infinity;
    for (const e of events) {
      const end = toMillis(e.timestamp);
      if (end === null) continue;
      if (e.event_type === "routine_complete" || e.event_type === "routine_error") {
        const start = end - (Number(e.duration) || 0) * 1000;
        spans.push({ rid: e.routine_id, start, end, error: e.event_type === "routine_error" });
        t0 = Math.min(t0, start);
      } else if (e.event_type === "breakpoint_hit" || e.event_type.startsWith("job_")) {
        marks.push({ rid: e.routine_id, at: end, type: e.event_type });
        t0 = Math.min(t0, end);
      } else continue;
      t1 = Math.max(t1, end);
    }
    const laneIds = [];
    const laneOf = new Map();
    for (const sp of spans) {
      if (!laneOf.has(sp.rid) && laneIds.length < MAX_LANES) {
        laneOf.set(sp.rid, laneIds.length);
        laneIds.push(sp.rid);
      }
    }
    this.lanes = laneIds;
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(200, this.width);
    const height = AXIS_HEIGHT + Math.max(1, laneIds.length) * LANE_HEIGHT + 4;
    const size = `${width}x${height}@${ratio}`;
    if (size !== this.canvasSize) {
      // Resizing a canvas is costly (and clears it): only when the size really changes.
      this.canvasSize = size;
      this.canvas.style.width = `${width}px`;
      this.canvas.style.height = `${height}px`;
      this.canvas.width = Math.round(width * ratio);
      this.canvas.height = Math.round(height * ratio);
    }
    const ctx = this.canvas.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    if (!this.colors && this.root.isConnected) {
      const style = getComputedStyle(this.root); // once: it forces a style pass
      this.colors = {
        fg: style.getPropertyValue("--rx-fg").trim() || "#333",
        muted: style.getPropertyValue("--rx-muted").trim() || "#888",
      };
    }
    const { fg, muted } = this.colors || { fg: "#333", muted: "#888" };
    ctx.clearRect(0, 0, width, height);
    ctx.font = "11px sans-serif";
    ctx.fillStyle = muted;
    if (!Number.isFinite(t0) || !Number.isFinite(t1)) {
      ctx.fillText("No routine executions in the loaded trace yet.", 8, 13);
      return;
    }
    const span = Math.max(t1 - t0, 1);
    const plotW = width - LABEL_WIDTH - 8;
    const xOf = (t) => LABEL_WIDTH + ((t - t0) / span) * plotW;
    ctx.fillText(fmtTime(t0 / 1000), LABEL_WIDTH, 12);
    ctx.textAlign = "right";
    ctx.fillText(`${fmtTime(t1 / 1000)} (${fmtDuration(span / 1000)})`, width - 8, 12);
    ctx.textAlign = "left";
    laneIds.forEach((rid, i) => {
      ctx.fillStyle = fg;
      ctx.fillText(rid.length > 18 ? `${rid.slice(0, 17)}…` : rid, 4, AXIS_HEIGHT + i * LANE_HEIGHT + 11);
    });
    for (const sp of spans) {
      const lane = laneOf.get(sp.rid);
      if (lane === undefined) continue;
      const x = xOf(sp.start);
      ctx.fillStyle = sp.error ? "#d9534f" : "#3c8dbc";
      ctx.fillRect(x, AXIS_HEIGHT + lane * LANE_HEIGHT + 2, Math.max(1.5, xOf(sp.end) - x), LANE_HEIGHT - 5);
    }
    for (const mark of marks) {
      const x = xOf(mark.at);
      ctx.fillStyle = mark.type === "breakpoint_hit" ? "#e0a800" : muted;
      ctx.fillRect(x - 0.5, AXIS_HEIGHT - 4, 1.5, height - AXIS_HEIGHT);
    }
  }

  destroy() {
    this.schedule.cancel();
    this.resize.disconnect();
    this.tableResize.disconnect();
    this.root.remove();
  }

  _setFilter(key, value) {
    this.filter[key] = value;
    this.schedule();
  }

  _timelineClick(ev) {
    const box = this.canvas.getBoundingClientRect();
    const lane = Math.floor((ev.clientY - box.top - AXIS_HEIGHT) / LANE_HEIGHT);
    if (lane >= 0 && lane < this.lanes.length) this.onSelect(this.lanes[lane]);
  }
}

function detail(e) {
  const where = e.slot_name || e.event_name || "";
  const empty = e.data === undefined || e.data === null || e.data === "" ||
    (typeof e.data === "object" && Object.keys(e.data).length === 0);
  const data = empty ? "" : preview(e.data, 100);
  return where && data ? `${where} ${data}` : where || data;
}

function rowText(e) {
  return `${e.event_type} ${e.routine_id || ""} ${detail(e)} ${e.status || ""}`;
}
