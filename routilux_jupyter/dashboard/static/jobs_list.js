// The dashboard's front page: every flow and job of the server and its kernels, kept current by
// the all-jobs WebSocket, filterable by flow, status and owner (server or a kernel).

import { h, fill, fmtTime } from "../views/util.js";
import { seg, STATUS_AFTER, TERMINAL, ownerKey, ownerLabel } from "./api.js";

const STATUSES = ["pending", "running", "paused", "completed", "failed", "cancelled", "lost"];
const JOB_LIMIT = 500;

export function renderJobsList(root, api, { pageUrl }) {
  const jobs = new Map();    // job_id -> job dict
  let flows = [];
  const params = new URLSearchParams(location.search);
  const filters = { flow: params.get("flow") || "", status: params.get("status") || "", owner: params.get("owner") || "" };

  const live = h("span", { class: "rxd-live", "data-state": "connecting" }, "connecting…");
  const message = h("div", { class: "rxd-message", role: "alert", hidden: true });
  const select = (name, label) =>
    h("select", { class: "rx-input", name, "aria-label": label, onchange: (ev) => setFilter(name, ev.target.value) });
  const flowSelect = select("flow", "filter by flow");
  const statusSelect = select("status", "filter by status");
  const ownerSelect = select("owner", "filter by kernel");
  const counts = h("span", { class: "rxd-counts rx-muted" });
  const jobsBody = h("tbody");
  const flowsBody = h("tbody");
  const head = (...names) => h("thead", {}, h("tr", {}, names.map((n) => h("th", {}, n))));

  root.append(
    h("header", { class: "rxd-header" },
      h("h1", {}, "routilux"), h("span", { class: "rx-muted" }, "flows and jobs of this server and its kernels"), live,
      h("button", { class: "rx-btn", "data-action": "reload", onclick: () => reload() }, "Reload")),
    message,
    h("section", { class: "rxd-section" },
      h("h2", {}, "Jobs"),
      h("div", { class: "rxd-filters" },
        h("label", {}, "flow ", flowSelect), h("label", {}, "status ", statusSelect),
        h("label", {}, "kernel ", ownerSelect), counts),
      h("table", { class: "rxd-table rxd-jobs" },
        head("job", "flow", "status", "owner", "created", "started", "ended", ""), jobsBody)),
    h("section", { class: "rxd-section" },
      h("h2", {}, "Flows"),
      h("table", { class: "rxd-table rxd-flows" },
        head("flow", "owner", "routines", "connections", "strategy", "jobs listed"), flowsBody)),
  );

  function showMessage(text) {
    message.textContent = text || "";
    message.hidden = !text;
  }

  function setFilter(name, value) {
    filters[name] = value;
    const query = new URLSearchParams();
    for (const [key, val] of Object.entries(filters)) if (val) query.set(key, val);
    const search = query.toString();
    history.replaceState(null, "", search ? `?${search}` : location.pathname);
    schedule();
  }

  function options(node, current, entries) {
    fill(node, h("option", { value: "" }, "all"),
      entries.map(([value, label]) => h("option", { value, selected: value === current }, label)));
    node.value = current;
  }

  function owners() {
    const seen = new Map([["server", "server"]]);
    for (const item of [...flows, ...jobs.values()]) seen.set(ownerKey(item.owner), ownerLabel(item.owner));
    return [...seen.entries()].sort((a, b) => (a[0] === "server" ? -1 : b[0] === "server" ? 1 : a[1].localeCompare(b[1])));
  }

  function matches(job) {
    return (!filters.flow || job.flow_id === filters.flow)
      && (!filters.status || job.status === filters.status)
      && (!filters.owner || ownerKey(job.owner) === filters.owner);
  }

  async function control(job, action) {
    const reply = await api.request("POST", `jobs/${seg(job.job_id)}/${action}`);
    if (!reply.ok) {
      showMessage(`${action} ${job.job_id}: ${reply.error}`);
      return;
    }
    showMessage("");
    jobs.set(job.job_id, { ...jobs.get(job.job_id), status: reply.data.status });
    schedule();
  }

  function jobRow(job) {
    const status = job.status || "pending";
    const live = !TERMINAL.has(status);
    const button = (action, label, enabled) =>
      h("button", { class: "rx-btn", "data-action": action, disabled: !enabled, onclick: () => control(job, action) }, label);
    return h("tr", { class: "rxd-job", "data-job-id": job.job_id, "data-status": status, "data-owner": ownerKey(job.owner) },
      h("td", {}, h("a", { class: "rxd-job-link", href: `${pageUrl}jobs/${seg(job.job_id)}` }, job.job_id)),
      h("td", {}, job.flow_id),
      h("td", {}, h("span", { class: `rx-status rx-status-${status}`, "data-status": status }, status)),
      h("td", { class: "rxd-owner" }, ownerLabel(job.owner)),
      h("td", {}, fmtTime(job.created_at)),
      h("td", {}, fmtTime(job.started_at)),
      h("td", {}, fmtTime(job.completed_at)),
      h("td", { class: "rxd-actions" },
        button("pause", "Pause", live && status !== "paused"),
        button("resume", "Resume", status === "paused"),
        button("cancel", "Cancel", live)),
    );
  }

  function render() {
    const all = [...jobs.values()].sort((a, b) => String(b.created_at || "").localeCompare(String(a.created_at || "")));
    const shown = all.filter(matches);
    fill(jobsBody, shown.length ? shown.map(jobRow)
      : h("tr", {}, h("td", { colspan: 8, class: "rx-muted" }, all.length ? "No job matches the filters." : "No jobs yet.")));
    counts.textContent = `${shown.length} of ${all.length} jobs`;
    const perFlow = new Map();
    for (const job of all) perFlow.set(job.flow_id, (perFlow.get(job.flow_id) || 0) + 1);
    fill(flowsBody, flows.length ? flows.map((f) =>
      h("tr", { class: "rxd-flow", "data-flow-id": f.flow_id, "data-owner": ownerKey(f.owner) },
        h("td", {}, h("a", { href: "#", onclick: (ev) => { ev.preventDefault(); flowSelect.value = f.flow_id; setFilter("flow", f.flow_id); } }, f.flow_id)),
        h("td", { class: "rxd-owner" }, ownerLabel(f.owner)),
        h("td", {}, Object.keys(f.routines || {}).length),
        h("td", {}, (f.connections || []).length),
        h("td", {}, f.execution_strategy || ""),
        h("td", {}, perFlow.get(f.flow_id) || 0)))
      : h("tr", {}, h("td", { colspan: 6, class: "rx-muted" }, "No flows yet.")));
    const flowIds = [...new Set([...flows.map((f) => f.flow_id), ...all.map((j) => j.flow_id)])].sort();
    options(flowSelect, filters.flow, flowIds.map((id) => [id, id]));
    options(statusSelect, filters.status, STATUSES.map((s) => [s, s]));
    options(ownerSelect, filters.owner, owners());
    root.dataset.jobs = String(all.length);
  }

  let frame = 0;
  function schedule() {
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; render(); });
  }

  function setJobs(list) {
    jobs.clear();
    for (const job of list || []) jobs.set(job.job_id, job);
    schedule();
  }

  async function loadFlows() {
    const reply = await api.request("GET", "flows");
    if (!reply.ok) {
      showMessage(`Could not list the flows: ${reply.error}`);
      return;
    }
    flows = reply.data.flows || [];
    schedule();
  }

  async function reload() {
    const [, jobList] = await Promise.all([loadFlows(), api.request("GET", `jobs?limit=${JOB_LIMIT}`)]);
    if (!jobList.ok) {
      showMessage(`Could not list the jobs: ${jobList.error}`);
      return;
    }
    showMessage("");
    setJobs(jobList.data.jobs);
  }

  // One job re-read after its status changed, so times and errors are exact too.
  const pending = new Set();
  async function reread(jobId) {
    if (pending.has(jobId)) return;
    pending.add(jobId);
    const reply = await api.request("GET", `jobs/${seg(jobId)}`);
    pending.delete(jobId);
    if (reply.ok) {
      jobs.set(jobId, reply.data);
      if (!flows.some((f) => f.flow_id === reply.data.flow_id)) {
        const list = await api.request("GET", "flows");
        if (list.ok) flows = list.data.flows || [];
      }
      schedule();
    }
  }

  function onEvent(item) {
    if (item.type === "jobs") {
      // The socket's first message: the list as of its subscription; events follow in order.
      showMessage("");
      setJobs(item.jobs);
      return;
    }
    if (item.type === "gap") {
      reload();
      return;
    }
    const next = STATUS_AFTER[item.event_type];
    if (item.type !== "event" || !next || !item.job_id) return;
    const known = jobs.get(item.job_id);
    if (known) {
      jobs.set(item.job_id, { ...known, status: next });
      schedule();
    }
    reread(item.job_id);
  }

  // Also after a reconnection: the socket's first message is the job list again.
  const socket = api.socket(`ws/jobs?limit=${JOB_LIMIT}`, {
    onMessage: onEvent,
    onOpen: loadFlows,
    onState: (state) => {
      live.dataset.state = state;
      live.textContent = state === "live" ? "● live" : "reconnecting…";
    },
  });
  render();

  return { reload, dispose: () => socket.close() };
}
