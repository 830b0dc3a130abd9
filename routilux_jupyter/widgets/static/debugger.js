// Debugger panel: job controls, stepping, breakpoints (with conditions), variables, call stack.
//
// Every control sends a command through `command(action, args)`, which resolves with the
// kernel's {ok, error, data}; a refusal (bad condition, wrong state) is shown next to the control.

import { h, clear, fill, preview } from "./util.js";

const TERMINAL = new Set(["completed", "failed", "cancelled", "lost"]);

export class DebuggerPanel {
  constructor(container, { command } = {}) {
    this.command = command;
    this.nodes = [];
    this.status = "pending";
    this.editing = null; // "scope:name" of the variable being edited (kept across refreshes)

    this.buttons = {};
    const button = (action, label, title) => {
      const b = h("button", { class: "rx-btn", "data-action": action, title, onclick: () => this.run(action) }, label);
      this.buttons[action] = b;
      return b;
    };
    this.controls = h(
      "div",
      { class: "rx-dbg-controls" },
      button("pause", "Pause", "pause the job at the next activation"),
      button("resume", "Resume", "resume a paused job"),
      button("cancel", "Cancel", "cancel the job"),
      h("span", { class: "rx-sep" }),
      button("step_over", "Step over", "run this activation, pause at the next"),
      button("step_into", "Step into", "pause at the first line of the handler"),
      button("step_out", "Step out", "back to routine level"),
      button("continue", "Continue", "run to the next breakpoint"),
    );
    this.message = h("div", { class: "rx-dbg-message", role: "status" });
    this.pausedAt = h("div", { class: "rx-dbg-paused" });

    this.bpType = h(
      "select",
      { class: "rx-input", "aria-label": "breakpoint type", onchange: () => this._fillTargets() },
      ["routine", "slot", "event"].map((t) => h("option", { value: t }, t)),
    );
    this.bpRoutine = h("select", { class: "rx-input", "aria-label": "breakpoint routine", onchange: () => this._fillTargets() });
    this.bpTarget = h("select", { class: "rx-input", "aria-label": "slot or event" });
    this.bpCondition = h("input", {
      class: "rx-input rx-bp-condition",
      placeholder: "condition, e.g. value > 10 (optional)",
      "aria-label": "breakpoint condition",
      onkeydown: (ev) => ev.key === "Enter" && this.addBreakpoint(),
    });
    this.bpAdd = h("button", { class: "rx-btn", "data-action": "add_breakpoint", onclick: () => this.addBreakpoint() }, "Add breakpoint");
    this.bpError = h("div", { class: "rx-bp-error", role: "alert" });
    this.bpList = h("div", { class: "rx-bp-list" });
    this.variables = h("div", { class: "rx-vars" });
    this.stack = h("div", { class: "rx-stack" });

    this.root = h(
      "div",
      { class: "rx-debugger" },
      this.controls,
      this.message,
      this.pausedAt,
      h(
        "div",
        { class: "rx-dbg-columns" },
        h(
          "section",
          { class: "rx-dbg-section" },
          h("h4", null, "Breakpoints"),
          h("div", { class: "rx-bp-form" }, this.bpType, this.bpRoutine, this.bpTarget, this.bpCondition, this.bpAdd),
          this.bpError,
          this.bpList,
        ),
        h("section", { class: "rx-dbg-section" }, h("h4", null, "Variables"), this.variables),
        h("section", { class: "rx-dbg-section" }, h("h4", null, "Call stack"), this.stack),
      ),
    );
    container.append(this.root);
    this.setStatus("pending");
  }

  setNodes(nodes) {
    this.nodes = nodes || [];
    const current = this.bpRoutine.value;
    fill(this.bpRoutine, this.nodes.map((n) => h("option", { value: n.id, selected: n.id === current }, n.id)));
    this._fillTargets();
  }

  // Preselect a routine (clicked in the graph) in the breakpoint form.
  focusRoutine(rid) {
    if (!rid) return;
    this.bpRoutine.value = rid;
    this._fillTargets();
  }

  setStatus(status) {
    this.status = status || "pending";
    const paused = this.status === "paused";
    const running = this.status === "running";
    const done = TERMINAL.has(this.status) || this.status === "pending" || this.status === "no job";
    this.buttons.pause.disabled = !running;
    this.buttons.resume.disabled = !paused;
    this.buttons.cancel.disabled = done;
    for (const a of ["step_over", "step_into", "step_out", "continue"]) this.buttons[a].disabled = !paused;
    this.root.dataset.status = this.status;
  }

  update({ job, breakpoints, debug }) {
    this.setStatus(job && job.status);
    this._renderBreakpoints(breakpoints || []);
    const d = debug || {};
    const at = d.paused_at;
    this.pausedAt.textContent = at
      ? `Paused${at.routine_id ? ` at ${at.routine_id}` : ""}${at.slot_name ? `.${at.slot_name}` : ""}${at.event_name ? ` → ${at.event_name}` : ""}${at.line ? ` (line ${at.line})` : ""}${at.reason ? ` — ${at.reason}` : ""}`
      : "";
    this.pausedAt.hidden = !at;
    this._renderVariables(d.variables || null);
    this._renderStack(d.call_stack || []);
  }

  async run(action, args = {}) {
    const reply = await this.command(action, args);
    this._say(reply.ok ? "" : reply.error || `${action} failed`, !reply.ok);
    return reply;
  }

  async addBreakpoint() {
    const type = this.bpType.value;
    const args = { type, routine_id: this.bpRoutine.value, condition: this.bpCondition.value.trim() || null };
    if (type === "slot") args.slot_name = this.bpTarget.value;
    if (type === "event") args.event_name = this.bpTarget.value;
    this.bpAdd.disabled = true;
    try {
      const reply = await this.command("add_breakpoint", args);
      this.bpError.textContent = reply.ok ? "" : reply.error || "could not add the breakpoint";
      if (reply.ok) this.bpCondition.value = "";
      return reply;
    } finally {
      this.bpAdd.disabled = false;
    }
  }

  _say(text, bad) {
    this.message.textContent = text;
    this.message.classList.toggle("rx-bad", Boolean(bad));
  }

  _fillTargets() {
    const type = this.bpType.value;
    const node = this.nodes.find((n) => n.id === this.bpRoutine.value);
    const names = !node ? [] : type === "slot" ? node.slots || [] : type === "event" ? node.events || [] : [];
    fill(this.bpTarget, names.map((n) => h("option", { value: n }, n)));
    this.bpTarget.hidden = type === "routine";
  }

  _renderBreakpoints(list) {
    // Rebuild only on a real change, and never under the user's cursor (an edited condition).
    const key = JSON.stringify(list);
    // (A focused button, e.g. the × just clicked, is no cursor: its row must go.)
    const editing = this.bpList.contains(document.activeElement) && document.activeElement.matches(".rx-bp-cond-edit");
    if (key === this.bpKey || editing) return;
    this.bpKey = key;
    clear(this.bpList);
    if (!list.length) {
      this.bpList.append(h("div", { class: "rx-muted" }, "No breakpoints."));
      return;
    }
    for (const bp of list) {
      const where = `${bp.routine_id}${bp.slot_name ? `.${bp.slot_name}` : ""}${bp.event_name ? ` → ${bp.event_name}` : ""}`;
      const condition = h("input", {
        class: "rx-input rx-bp-cond-edit",
        value: bp.condition || "",
        placeholder: "no condition",
        "aria-label": `condition of ${where}`,
        onkeydown: async (ev) => {
          if (ev.key !== "Enter") return;
          const reply = await this.command("update_breakpoint", { breakpoint_id: bp.breakpoint_id, condition: ev.target.value.trim() || null });
          this.bpError.textContent = reply.ok ? "" : reply.error || "could not update the condition";
        },
      });
      this.bpList.append(
        h(
          "div",
          { class: "rx-bp-row", "data-breakpoint": bp.breakpoint_id },
          h("input", {
            type: "checkbox",
            checked: bp.enabled,
            title: "enabled",
            "aria-label": `enable ${where}`,
            onchange: (ev) => this.run("toggle_breakpoint", { breakpoint_id: bp.breakpoint_id, enabled: ev.target.checked }),
          }),
          h("span", { class: "rx-bp-type" }, bp.type),
          h("span", { class: "rx-bp-where" }, where),
          condition,
          h("span", { class: "rx-muted", title: "hit count" }, `hits ${bp.hit_count || 0}`),
          h("button", { class: "rx-btn rx-btn-small", "data-action": "remove_breakpoint", title: "remove", onclick: () => this.run("remove_breakpoint", { breakpoint_id: bp.breakpoint_id }) }, "×"),
        ),
      );
    }
  }

  _renderVariables(vars) {
    // Do not rebuild while the user is typing in a value editor, nor when nothing changed.
    if (this.editing && this.variables.contains(document.activeElement)) return;
    const key = JSON.stringify(vars);
    if (key === this.varsKey && !this.editing) return;
    this.varsKey = key;
    this.editing = null;
    clear(this.variables);
    if (!vars) {
      this.variables.append(h("div", { class: "rx-muted" }, "Variables appear while the job is paused."));
      return;
    }
    for (const scope of ["local", "shared"]) {
      const entries = Object.entries(vars[scope] || {});
      this.variables.append(h("div", { class: "rx-vars-scope" }, scope));
      if (!entries.length) {
        this.variables.append(h("div", { class: "rx-muted" }, "(none)"));
        continue;
      }
      this.variables.append(
        h(
          "table",
          { class: "rx-table rx-vars-table" },
          h(
            "tbody",
            null,
            entries.map(([name, value]) =>
              h(
                "tr",
                { "data-var": `${scope}:${name}` },
                h("td", { class: "rx-mono" }, name),
                h("td", { class: "rx-mono rx-var-value", title: "click to edit", onclick: (ev) => this._edit(ev.currentTarget, scope, name, value) }, preview(value, 80)),
              ),
            ),
          ),
        ),
      );
    }
  }

  _edit(cell, scope, name, value) {
    if (cell.querySelector("input")) return;
    this.editing = `${scope}:${name}`;
    const input = h("input", {
      class: "rx-input rx-var-edit",
      value: typeof value === "string" ? JSON.stringify(value) : preview(value, 10000),
      "aria-label": `new value of ${name}`,
      title: "a JSON value (text that is not JSON is taken as a string); Enter to set, Esc to cancel",
    });
    input.addEventListener("keydown", async (ev) => {
      if (ev.key === "Escape") {
        this.editing = null;
        cell.textContent = preview(value, 80);
        return;
      }
      if (ev.key !== "Enter") return;
      let parsed;
      try {
        parsed = JSON.parse(input.value);
      } catch (err) {
        parsed = input.value;
      }
      const reply = await this.run("set_variable", { name, value: parsed, scope });
      if (reply.ok) {
        this.editing = null;
        cell.textContent = preview(parsed, 80);
      }
    });
    clear(cell).append(input);
    input.focus();
    input.select();
  }

  _renderStack(frames) {
    const key = JSON.stringify(frames);
    if (key === this.stackKey) return;
    this.stackKey = key;
    clear(this.stack);
    if (!frames.length) {
      this.stack.append(h("div", { class: "rx-muted" }, "(empty)"));
      return;
    }
    this.stack.append(
      h(
        "ol",
        { class: "rx-stack-list" },
        frames.map((f) =>
          h(
            "li",
            { class: "rx-mono" },
            `${f.routine_id || ""}${f.slot_name ? `.${f.slot_name}` : ""}${f.event_name ? ` ← ${f.event_name}` : ""}`,
            f.function ? h("span", { class: "rx-muted" }, `  ${f.function}${f.file ? ` ${shortFile(f.file)}:${f.line ?? ""}` : ""}`) : null,
          ),
        ),
      ),
    );
  }
}

function shortFile(path) {
  const parts = String(path).split(/[\\/]/);
  return parts[parts.length - 1];
}
