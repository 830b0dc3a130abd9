// Time travel in a JobView: a recorded activation's input and outputs, "Re-run from here" with
// editable JSON, the fork's own JobView under this one, and "Compare with..." colouring the graph.
//
// Commands (routilux_jupyter/widgets/_timetravel.py): activation {seq}, rerun {seq, data: JSON
// text}, flow_jobs {}, compare {job_id}. Forks arrive in the synced "forks" trait as widget
// references ("IPY_MODEL_<id>") and are rendered through the widget manager when there is one.
// On the dashboard page (a REST channel, no widgets) a rerun reply carries the fork's page_url
// instead, and `jobUrl(id)` turns a fork's parent into a link to its page.

import { h, fill, clear } from "./util.js";

const DIFF_CLASSES = ["rx-diff-origin", "rx-diff-propagated", "rx-diff-same"];

function json(value) {
  return JSON.stringify(value, null, 2);
}

export class TimeTravelPanel {
  constructor(container, { command, graph, model, onError, jobUrl }) {
    this.command = command;
    this.jobUrl = jobUrl || null;
    this.graph = graph;
    this.model = model;
    this.onError = onError || (() => {});
    this.current = null;
    this.rendered = new Map(); // fork model id -> element
    this.parentKey = null;     // the forked_from last drawn
    this.parent = h("div", { class: "rx-tt-parent" });
    this.detail = h("div", { class: "rx-tt-detail" }, h("p", { class: "rx-muted" },
      "Click the type of a routine_start, routine_complete or routine_error row in the Trace tab to open what that activation received and emitted."));
    this.picker = h("select", { class: "rx-input rx-tt-pick", "aria-label": "job to compare with" });
    this.compareButton = h("button", { class: "rx-btn rx-tt-compare", onclick: () => this.compare() }, "Compare");
    this.compareOut = h("div", { class: "rx-tt-diff" });
    this.forksBox = h("div", { class: "rx-tt-forks" });
    this.root = h("div", { class: "rx-timetravel" },
      this.parent,
      this.detail,
      h("div", { class: "rx-tt-bar" },
        h("button", { class: "rx-btn rx-tt-compare-with", onclick: () => this.loadJobs() }, "Compare with…"),
        this.picker, this.compareButton),
      this.compareOut,
      this.forksBox);
    container.append(this.root);
    this.picker.hidden = this.compareButton.hidden = true;
  }

  // The job this view shows: a fork names its parent.
  update(job) {
    const from = job && job.forked_from;
    // Job updates come several times a second while it runs: redraw only when the parent changes.
    const key = from ? `${from.job_id}:${from.seq}` : "";
    if (key === this.parentKey) return;
    this.parentKey = key;
    const text = from && `Fork of job ${from.job_id.slice(0, 8)}, re-run from its activation at seq ${from.seq}`;
    fill(this.parent, !from ? null : this.jobUrl
      ? h("a", { class: "rx-tt-link", "data-parent": from.job_id, href: this.jobUrl(from.job_id) }, text)
      : h("span", { class: "rx-tt-link", "data-parent": from.job_id }, text));
  }

  async open(seq) {
    const reply = await this.command("activation", { seq });
    if (!reply.ok) {
      fill(this.detail, h("div", { class: "rx-bad rx-tt-error", role: "alert" }, reply.error));
      return;
    }
    const act = (this.current = reply.data);
    this.editor = h("textarea", { class: "rx-input rx-tt-editor", rows: 8, spellcheck: "false", hidden: true });
    this.editor.value = json(act.input);
    this.reason = h("div", { class: "rx-bad rx-tt-reason", role: "alert" });
    this.runButton = h("button", { class: "rx-btn rx-tt-run", hidden: true, onclick: () => this.rerun() }, "Run fork");
    fill(this.detail,
      h("div", { class: "rx-tt-head" },
        h("b", null, `${act.routine_id}.${act.slot_name}`), ` seq ${act.seq} · ${act.status}`,
        act.error ? h("span", { class: "rx-bad" }, ` · ${act.error}`) : null),
      h("div", { class: "rx-tt-cols" },
        h("div", null, h("div", { class: "rx-muted" }, "input"), h("pre", { class: "rx-tt-input" }, json(act.input))),
        h("div", null, h("div", { class: "rx-muted" }, "emits"),
          h("pre", { class: "rx-tt-emits" }, json((act.emits || []).map((e) => ({ [e.event_name]: e.data }))))),
        h("div", null, h("div", { class: "rx-muted" }, "shared data at start"), h("pre", { class: "rx-tt-shared" }, json(act.shared)))),
      h("button", { class: "rx-btn rx-tt-edit", onclick: () => this.edit() }, "Re-run from here"),
      this.editor, this.runButton, this.reason);
  }

  edit() {
    this.editor.hidden = false;
    this.runButton.hidden = false;
    this.editor.focus();
  }

  async rerun() {
    const text = this.editor.value;
    try {
      JSON.parse(text); // the reason at once; the kernel checks the payload against the slot
    } catch (err) {
      this.reason.textContent = `Not valid JSON: ${err.message}`;
      return;
    }
    this.reason.textContent = "";
    this.runButton.disabled = true;
    const reply = await this.command("rerun", { seq: this.current.seq, data: text });
    this.runButton.disabled = false;
    if (!reply.ok) {
      this.reason.textContent = reply.error;
      return;
    }
    const fork = reply.data;
    if (!fork.page_url) {
      this.reason.append(h("span", { class: "rx-tt-started rx-muted" }, `Started fork ${fork.job_id.slice(0, 8)} (below).`));
      return;
    }
    // No widget to show under this one: link the fork's own page, here and in the forks list.
    const link = () => h("a", { class: "rx-tt-fork-link", href: fork.page_url, "data-job": fork.job_id }, `job ${fork.job_id}`);
    this.reason.append(h("span", { class: "rx-tt-started rx-muted" }, `Started fork ${fork.job_id.slice(0, 8)}: `, link()));
    this.forksBox.append(h("div", { class: "rx-tt-fork", "data-job": fork.job_id },
      h("span", { class: "rx-muted" }, `Fork from seq ${this.current.seq}: `), link()));
  }

  // Fork views: widget references in the "forks" trait, rendered once each.
  async showForks(refs, manager) {
    for (const ref of refs || []) {
      const id = String(ref).replace(/^IPY_MODEL_/, "");
      if (this.rendered.has(id)) continue;
      const box = h("div", { class: "rx-tt-fork", "data-model": id }, h("div", { class: "rx-muted" }, "Fork:"));
      this.rendered.set(id, box);
      this.forksBox.append(box);
      if (!manager) continue;
      try {
        const child = await manager.get_model(id);
        const view = await manager.create_view(child);
        box.append(view.el);
        if (view.trigger) view.trigger("displayed");
      } catch (err) {
        box.append(h("div", { class: "rx-bad" }, `Could not show the fork's view: ${err}`));
      }
    }
  }

  async loadJobs() {
    const reply = await this.command("flow_jobs", {});
    if (!reply.ok) return this.onError(reply.error);
    const jobs = reply.data || [];
    fill(this.picker, jobs.length
      ? jobs.map((j) => h("option", { value: j.job_id },
        `${j.job_id.slice(0, 8)} ${j.status}${j.label ? ` (${j.label})` : ""}${j.parent_job_id ? " fork" : ""}`))
      : h("option", { value: "" }, "no other job of this flow"));
    this.picker.hidden = this.compareButton.hidden = false;
  }

  async compare() {
    const reply = await this.command("compare", { job_id: this.picker.value });
    if (!reply.ok) {
      fill(this.compareOut, h("div", { class: "rx-bad", role: "alert" }, reply.error));
      return;
    }
    this.showDiff(reply.data);
  }

  showDiff(diff) {
    for (const [rid, entry] of this.graph.nodes) {
      const r = diff.routines.find((x) => x.routine_id === rid);
      entry.group.classList.remove(...DIFF_CLASSES);
      if (!r) continue;
      entry.group.classList.add(!r.differs ? "rx-diff-same" : r.propagated ? "rx-diff-propagated" : "rx-diff-origin");
    }
    const rows = diff.routines.filter((r) => r.differs).map((r) => {
      const d = r.first_difference || {};
      return h("tr", { "data-routine": r.routine_id },
        h("td", null, r.routine_id),
        h("td", null, `${r.status.a || "-"} → ${r.status.b || "-"}`),
        h("td", { class: "rx-mono" }, `${d.kind || ""} ${d.event_name || ""} ${d.path || ""}`),
        h("td", null, h("pre", { class: "rx-tt-a" }, json(d.a))),
        h("td", null, h("pre", { class: "rx-tt-b" }, json(d.b))));
    });
    fill(this.compareOut,
      h("div", { class: "rx-tt-summary" }, diff.same ? "No difference."
        : `Differs in ${diff.differing_routines.join(", ")}; behaviour changed in ${diff.origins.join(", ")}.`),
      rows.length ? h("table", { class: "rx-table rx-tt-table" },
        h("thead", null, h("tr", null, ["routine", "status", "first difference", `this job (${diff.job_a.slice(0, 8)})`, `other (${diff.job_b.slice(0, 8)})`].map((c) => h("th", null, c)))),
        h("tbody", null, rows)) : null);
  }

  destroy() {
    clear(this.root);
  }
}
