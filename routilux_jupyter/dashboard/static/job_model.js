// A job page's stand-in for the widget model: the same state keys the notebook JobView syncs
// (routilux_jupyter/widgets/_protocol.py), filled from REST and the job's monitor WebSocket,
// and a channel that turns the views' commands into REST calls instead of comm messages.

import { seg, STATUS_AFTER, TERMINAL, ownerKey } from "./api.js";

const TRACE_KEEP = 200;   // what the notebook view keeps too; older events are paged on demand
const REFRESH_MS = 200;   // re-read job, metrics and debugger state at most 5 times a second

function graphOf(flow) {
  const nodes = Object.entries(flow.routines || {}).map(([rid, r]) => ({
    id: rid, class_name: r.class_name || "", slots: [...(r.slots || [])], events: [...(r.events || [])],
  }));
  const edges = (flow.connections || []).map((c) => ({
    id: c.connection_id, source: c.source_routine, event: c.source_event, target: c.target_routine, slot: c.target_slot,
  }));
  return { flow_id: flow.flow_id, nodes, edges };
}

export function makeJobModel(api, jobId, { pageUrl = null } = {}) {
  const state = {
    graph: { flow_id: "", nodes: [], edges: [] }, job: {}, routine_states: {}, routine_metrics: {},
    edge_hits: {}, metrics: {}, breakpoints: [], debug: {}, error: "", height: 520, trace: [], trace_total: 0,
  };
  const listeners = new Map();
  const emit = (name) => (listeners.get(name) || []).slice().forEach((fn) => fn());
  const model = {
    get: (key) => state[key],
    set(key, value) {
      state[key] = value;
      emit(`change:${key}`);
    },
    on: (name, fn) => listeners.set(name, [...(listeners.get(name) || []), fn]),
    off: (name, fn) => listeners.set(name, (listeners.get(name) || []).filter((g) => g !== fn)),
    send() {}, // commands go through the REST channel below, never through a comm
  };

  const job = `jobs/${seg(jobId)}`;
  const emits = new Map();     // "routine.event" -> emits seen (lights the edges)
  const active = new Map();    // routine id -> handlers running (the stream knows first)
  let socket = null;
  let disposed = false;

  function countEvent(ev) {
    const rid = ev.routine_id;
    if (!rid) return;
    if (ev.event_type === "event_emit" && ev.event_name) {
      const key = `${rid}\u0000${ev.event_name}`;
      emits.set(key, (emits.get(key) || 0) + 1);
    } else if (ev.event_type === "routine_start") {
      active.set(rid, (active.get(rid) || 0) + 1);
    } else if (ev.event_type === "routine_complete" || ev.event_type === "routine_error") {
      const left = (active.get(rid) || 0) - 1;
      if (left > 0) active.set(rid, left);
      else active.delete(rid);
    }
  }

  function edgeHits() {
    const hits = {};
    for (const edge of state.graph.edges) {
      const n = emits.get(`${edge.source}\u0000${edge.event}`) || 0;
      if (n) hits[edge.id] = n;
    }
    return hits;
  }

  // -- reading the job -----------------------------------------------------------------------
  let busy = false;
  let again = false;
  let timer = 0;
  let withBreakpoints = true;

  async function readDebug(status) {
    if (status !== "paused") return {};
    const [session, vars, stack] = await Promise.all([
      api.request("GET", `${job}/debug/session`),
      api.request("GET", `${job}/debug/variables`),
      api.request("GET", `${job}/debug/call_stack`),
    ]);
    const pausedAt = (session.ok && session.data && session.data.paused_at) || { routine_id: null, reason: "pause" };
    return {
      paused_at: { ...pausedAt, reason: pausedAt.reason || (session.data && session.data.pause_reason) || null },
      variables: vars.ok ? vars.data.variables : null,
      call_stack: stack.ok ? stack.data.frames || [] : [],
    };
  }

  async function readOnce() {
    const [info, metrics] = await Promise.all([api.request("GET", job), api.request("GET", `${job}/metrics`)]);
    if (disposed) return;
    if (!info.ok) {
      model.set("error", `could not read job ${jobId}: ${info.error}`);
      return;
    }
    const status = info.data.status;
    const live = !TERMINAL.has(status);
    // Breakpoints and the debugger exist only while the job runs (the API answers 409 after).
    const [bps, debug] = await Promise.all([
      live && withBreakpoints ? api.request("GET", `${job}/breakpoints`) : null,
      live ? readDebug(status) : {},
    ]);
    if (disposed) return;
    const m = metrics.ok ? metrics.data : {};
    const routineMetrics = m.routine_metrics || {};
    const states = {};
    for (const [rid, rm] of Object.entries(routineMetrics)) states[rid] = rm.status || "pending";
    if (live) for (const rid of active.keys()) states[rid] = "running";
    const summary = { ...m };
    delete summary.routine_metrics;
    model.set("job", info.data);
    model.set("metrics", summary);
    model.set("routine_metrics", routineMetrics);
    model.set("routine_states", states);
    model.set("trace_total", Number(m.total_events || state.trace.length));
    if (bps && bps.ok) model.set("breakpoints", bps.data.breakpoints || []);
    if (bps) withBreakpoints = false;
    model.set("debug", debug);
    if (state.error) model.set("error", "");
  }

  // Coalesced: a burst of events costs one round of requests per REFRESH_MS.
  function refresh({ breakpoints = false } = {}) {
    if (breakpoints) withBreakpoints = true;
    if (busy) {
      again = true;
      return;
    }
    if (timer) return;
    timer = setTimeout(async () => {
      timer = 0;
      busy = true;
      try {
        await readOnce();
      } finally {
        busy = false;
        if (again && !disposed) {
          again = false;
          refresh();
        }
      }
    }, REFRESH_MS);
  }

  function onEvent(item) {
    if (item.type === "gap") {
      refresh({ breakpoints: true });
      return;
    }
    if (item.type !== "event") return;
    countEvent(item);
    const trace = state.trace.length >= TRACE_KEEP ? state.trace.slice(1 - TRACE_KEEP) : state.trace.slice();
    trace.push(item);
    state.trace = trace;
    state.edge_hits = edgeHits();
    if (STATUS_AFTER[item.event_type] && state.job.job_id) {
      model.set("job", { ...state.job, status: STATUS_AFTER[item.event_type] });
    }
    scheduleLive();
    refresh({ breakpoints: item.event_type === "breakpoint_hit" });
  }

  // Trace and edge changes from a burst of events reach the views once per frame.
  let frame = 0;
  function scheduleLive() {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      emit("change:trace");
      emit("change:edge_hits");
    });
  }

  async function start() {
    const info = await api.request("GET", job);
    if (!info.ok) {
      model.set("error", `could not read job ${jobId}: ${info.error}`);
      return null;
    }
    model.set("job", info.data);
    const owner = info.data.owner || {};
    const query = owner.kind === "kernel" && owner.kernel_id ? `?kernel_id=${seg(owner.kernel_id)}` : "";
    const flow = await api.request("GET", `flows/${seg(info.data.flow_id)}${query}`);
    if (flow.ok) model.set("graph", graphOf(flow.data));
    else model.set("error", `the flow of this job is not available (${flow.error}); events still show`);
    // The monitor socket sends the job's recent history first, then live events: trace and edge
    // counts come from it alone, so nothing is counted twice.
    socket = api.socket(`ws/${job}/monitor?batch=1`, {
      onMessage: onEvent,
      onOpen: () => {
        emits.clear();
        active.clear();
        state.trace = [];
        refresh({ breakpoints: true });
      },
    });
    await readOnce();
    return info.data;
  }

  function dispose() {
    disposed = true;
    clearTimeout(timer);
    if (frame) cancelAnimationFrame(frame);
    if (socket) socket.close();
  }

  return { model, start, refresh, dispose, channel: makeRestChannel(api, jobId, model, refresh, pageUrl) };
}

// The views' commands (see _protocol.py Action) as REST calls; replies keep the comm's shape
// {ok, error, data} so the debugger panel shows refusals exactly as in a notebook.
function makeRestChannel(api, jobId, model, refresh, pageUrl) {
  const job = `jobs/${seg(jobId)}`;
  const bp = (args) => `${job}/breakpoints/${seg(args.breakpoint_id || "")}`;
  const ok = (data) => ({ ok: true, error: null, data });
  const refused = (error) => ({ ok: false, error, data: null });
  // The dashboard page of a job (a fork's, a fork's parent's), or null outside the dashboard.
  const jobUrl = pageUrl ? (id) => `${pageUrl}jobs/${seg(id)}` : null;
  const routes = {
    pause: () => ["POST", `${job}/pause`],
    resume: () => ["POST", `${job}/resume`],
    cancel: () => ["POST", `${job}/cancel`],
    continue: () => ["POST", `${job}/debug/resume`],
    step_over: () => ["POST", `${job}/debug/step_over`],
    step_into: () => ["POST", `${job}/debug/step_into`],
    step_out: () => ["POST", `${job}/debug/step_out`],
    add_breakpoint: (a) => ["POST", `${job}/breakpoints`, {
      type: a.type || "routine", routine_id: a.routine_id, slot_name: a.slot_name || null,
      event_name: a.event_name || null, condition: a.condition || null, enabled: a.enabled !== false,
    }],
    remove_breakpoint: (a) => ["DELETE", bp(a)],
    toggle_breakpoint: (a) => {
      const current = (model.get("breakpoints") || []).find((b) => b.breakpoint_id === a.breakpoint_id);
      const enabled = a.enabled === undefined ? !(current && current.enabled) : Boolean(a.enabled);
      return ["PUT", bp(a), { enabled }];
    },
    update_breakpoint: (a) => ["PUT", bp(a), { condition: a.condition ?? null }],
    set_variable: (a) => ["PUT", `${job}/debug/variables/${seg(a.name || "")}`, { value: a.value, scope: a.scope || "local" }],
  };

  async function pageTrace({ before = null, limit = 200 } = {}) {
    const reply = await api.request("GET", `${job}/trace`);
    if (!reply.ok) return { ok: false, error: reply.error, data: null };
    let events = reply.data.events || [];
    if (before !== null) {
      const seq = Number(String(before).split(":").pop());
      events = events.filter((e) => Number(e.seq) < seq);
    }
    const page = events.slice(-limit);
    return { ok: true, error: null, data: { events: page, has_more: events.length > page.length } };
  }

  // -- time travel (the kernel side is routilux_jupyter/widgets/_timetravel.py) ---------------

  async function fullTrace() {
    const reply = await api.request("GET", `${job}/trace`);
    return reply.ok ? reply.data.events || [] : [];
  }

  // {seq} -> the recorded activation. The trace offers routine_complete and routine_error rows
  // too; like the kernel, those open the activation they end: the routine_start with the same
  // activation id before them, whose seq is the one the REST route knows.
  async function activation({ seq }) {
    if (!Number.isInteger(seq) || seq < 1) {
      return refused(`seq must be a positive integer (a trace event's seq), got ${JSON.stringify(seq)}`);
    }
    const local = model.get("trace") || [];
    const ev = local.find((e) => e.seq === seq) || (await fullTrace()).find((e) => e.seq === seq);
    let at = seq;
    if (ev && (ev.event_type === "routine_complete" || ev.event_type === "routine_error") && ev.activation_id != null) {
      const startOf = (events) => events.filter((e) =>
        e.event_type === "routine_start" && e.activation_id === ev.activation_id && e.seq < seq).pop();
      const start = startOf(local) || startOf(await fullTrace());
      if (start) at = start.seq;
    }
    const reply = await api.request("GET", `${job}/activations?seq=${seg(at)}`);
    if (!reply.ok) return refused(reply.error);
    const act = (reply.data.activations || [])[0];
    return act ? ok(act) : refused(`Job ${jobId} has no recorded activation at seq ${at}.`);
  }

  // {seq, data: JSON text} -> the fork. Where the notebook answers with the fork's widget, the
  // dashboard answers with the fork's own page (page_url), which the panel links.
  async function rerun({ seq, data }) {
    const body = { seq };
    if (typeof data === "string") {
      let value;
      try {
        value = JSON.parse(data);
      } catch (err) {
        return refused(`The input is not valid JSON: ${err.message}`);
      }
      // As in the kernel: edited text must be an object (REST would read null as "the recorded input").
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        return refused(`The input must be a JSON object of payload keys, got ${Array.isArray(value) ? "an array" : JSON.stringify(value)}`);
      }
      body.data = value;
    } else if (data !== undefined && data !== null) {
      body.data = data;
    }
    // An input the slot's handler cannot take the server refuses with a 400 whose reason shows.
    const reply = await api.request("POST", `${job}/rerun`, body);
    if (!reply.ok) return refused(reply.error);
    const fork = reply.data;
    return ok({
      job_id: fork.job_id, parent_job_id: fork.parent_job_id ?? jobId, forked_from: fork.forked_from ?? { job_id: jobId, seq },
      page_url: jobUrl ? jobUrl(fork.job_id) : null,
    });
  }

  // {} -> the other jobs of this flow (same flow id, same owner: a flow lives in one kernel or
  // the server), newest first, in the kernel reply's shape.
  async function flowJobs() {
    const me = model.get("job") || {};
    if (!me.flow_id) return refused("this job's flow is not known yet");
    const reply = await api.request("GET", `jobs?flow_id=${seg(me.flow_id)}&limit=100`);
    if (!reply.ok) return refused(reply.error);
    const owner = ownerKey(me.owner);
    return ok((reply.data.jobs || [])
      .filter((j) => j.job_id !== jobId && j.flow_id === me.flow_id && ownerKey(j.owner) === owner)
      .map((j) => ({ job_id: j.job_id, status: j.status, label: j.label ?? null,
                     created_at: j.created_at ?? null, parent_job_id: j.parent_job_id ?? null })));
  }

  // {job_id} -> compare(this job, that job), the same JSON the kernel answers.
  async function compareWith({ job_id: other }) {
    if (typeof other !== "string" || !other) return refused("pick a job to compare with");
    const reply = await api.request("GET", `${job}/diff/${seg(other)}`);
    return reply.ok ? ok(reply.data) : refused(reply.error);
  }

  const timeTravel = { activation, rerun, flow_jobs: flowJobs, compare: compareWith };

  async function command(action, args = {}) {
    if (action === "page_trace") return pageTrace(args);
    if (action === "refresh") {
      refresh({ breakpoints: true });
      return { ok: true, error: null, data: null };
    }
    if (Object.hasOwn(timeTravel, action)) return timeTravel[action](args);
    const route = Object.hasOwn(routes, action) ? routes[action] : null;
    if (!route) return { ok: false, error: `unknown action ${JSON.stringify(action)}`, data: null };
    const [method, path, body] = route(args);
    const reply = await api.request(method, path, body);
    // The panel should reflect the command at once, not at the next event.
    refresh({ breakpoints: action.includes("breakpoint") });
    return { ok: reply.ok, error: reply.error, data: reply.data };
  }

  return { command, jobUrl, dispose() {} };
}
