// Job summary, the selected routine's metrics, and a per-routine table (sortable).

import { h, clear, fill, fmtDuration, fmtTime } from "./util.js";

const COLUMNS = [
  ["routine_id", "routine"],
  ["execution_count", "runs"],
  ["avg_duration", "avg"],
  ["min_duration", "min"],
  ["max_duration", "max"],
  ["total_duration", "total"],
  ["error_count", "errors"],
];
const MAX_ROWS = 300;

export class SelectedRoutinePanel {
  constructor(container) {
    this.root = h("div", { class: "rx-selected-panel" });
    container.append(this.root);
    this.update(null, null, null);
  }

  // node: the graph node ({id, class_name, slots, events}); metrics: RoutineMetrics or undefined.
  update(node, metrics, state) {
    clear(this.root);
    if (!node) {
      this.root.append(h("div", { class: "rx-muted" }, "Click a routine to see its metrics."));
      return;
    }
    const m = metrics || {};
    this.root.append(
      h("div", { class: "rx-selected-title" }, h("strong", null, node.id), " ", h("span", { class: "rx-muted" }, node.class_name || "")),
      kv([
        ["state", state || "pending"],
        ["slots", (node.slots || []).join(", ") || "–"],
        ["events", (node.events || []).join(", ") || "–"],
        ["runs", m.execution_count ?? 0],
        ["errors", m.error_count ?? 0],
        ["avg", fmtDuration(m.avg_duration)],
        ["min", fmtDuration(m.min_duration)],
        ["max", fmtDuration(m.max_duration)],
        ["total", fmtDuration(m.total_duration)],
        ["last run", m.last_execution ? fmtTime(m.last_execution) : "–"],
      ]),
    );
  }
}

// Where the job's handlers run; a Dask job links its dashboard (http(s) links only).
function executorItem(job) {
  const name = job && job.executor;
  if (!name) return null;
  const info = job.executor_info || {};
  const link = typeof info.dashboard_link === "string" && /^https?:\/\//.test(info.dashboard_link)
    ? h("a", { class: "rx-executor-link", href: info.dashboard_link, target: "_blank", rel: "noopener" },
      "dashboard")
    : null;
  return h("span", { class: "rx-summary-item rx-executor", "data-executor": name },
    `executor ${name}`, link ? " " : null, link);
}

export class JobSummary {
  constructor(container) {
    this.root = h("div", { class: "rx-summary" });
    container.append(this.root);
  }

  update(job, metrics) {
    const status = (job && job.status) || "no job";
    const m = metrics || {};
    fill(
      this.root,
      h("span", { class: `rx-status rx-status-${status}`, "data-status": status }, status),
      h("span", { class: "rx-summary-item" }, `job ${job && job.job_id ? job.job_id.slice(0, 12) : "–"}`),
      h("span", { class: "rx-summary-item" }, `duration ${fmtDuration(m.duration)}`),
      h("span", { class: "rx-summary-item" }, `routines ${m.completed_routines ?? 0}/${m.total_routines ?? 0}`),
      h("span", { class: "rx-summary-item" }, `failed ${m.failed_routines ?? 0}`),
      h("span", { class: "rx-summary-item" }, `events ${m.total_events ?? 0}`),
      executorItem(job),
      job && job.error ? h("span", { class: "rx-summary-error" }, String(job.error)) : null,
    );
  }
}

export class RoutineTable {
  constructor(container, { onSelect } = {}) {
    this.onSelect = onSelect || (() => {});
    this.sortKey = "total_duration";
    this.desc = true;
    this.data = {};
    this.root = h("div", { class: "rx-table-wrap rx-metrics-table" });
    container.append(this.root);
  }

  update(routineMetrics) {
    this.data = routineMetrics || {};
    this.render();
  }

  render() {
    const rows = Object.entries(this.data).map(([rid, m]) => ({ routine_id: rid, ...m }));
    const key = this.sortKey;
    rows.sort((a, b) => {
      const av = a[key] ?? -Infinity;
      const bv = b[key] ?? -Infinity;
      const cmp = typeof av === "string" ? String(av).localeCompare(String(bv)) : av - bv;
      return this.desc ? -cmp : cmp;
    });
    const head = h(
      "tr",
      null,
      COLUMNS.map(([k, label]) =>
        h(
          "th",
          { class: k === this.sortKey ? "rx-sorted" : null, onclick: () => this._sort(k) },
          label + (k === this.sortKey ? (this.desc ? " ▾" : " ▴") : ""),
        ),
      ),
    );
    const body = rows.slice(0, MAX_ROWS).map((m) =>
      h(
        "tr",
        { onclick: () => this.onSelect(m.routine_id), "data-routine": m.routine_id },
        h("td", null, m.routine_id),
        h("td", { class: "rx-num" }, m.execution_count ?? 0),
        h("td", { class: "rx-num" }, fmtDuration(m.avg_duration)),
        h("td", { class: "rx-num" }, fmtDuration(m.min_duration)),
        h("td", { class: "rx-num" }, fmtDuration(m.max_duration)),
        h("td", { class: "rx-num" }, fmtDuration(m.total_duration)),
        h("td", { class: m.error_count ? "rx-num rx-bad" : "rx-num" }, m.error_count ?? 0),
      ),
    );
    clear(this.root).append(
      rows.length
        ? h("table", { class: "rx-table" }, h("thead", null, head), h("tbody", null, body))
        : h("div", { class: "rx-muted" }, "No routine has run yet."),
    );
  }

  _sort(key) {
    if (this.sortKey === key) this.desc = !this.desc;
    else {
      this.sortKey = key;
      this.desc = key !== "routine_id";
    }
    this.render();
  }
}

function kv(pairs) {
  return h(
    "dl",
    { class: "rx-kv" },
    pairs.map(([k, v]) => [h("dt", null, k), h("dd", null, String(v))]),
  );
}
