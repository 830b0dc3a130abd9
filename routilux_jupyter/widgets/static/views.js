// The two views, assembled from the panels. Each returns a cleanup function for anywidget.
//
// Model state (synced from the kernel, see routilux_jupyter/widgets/_protocol.py):
//   graph {flow_id, nodes, edges}, job {job_id, status, ...}, routine_states {rid: state},
//   routine_metrics {rid: RoutineMetrics}, edge_hits {edge_id: n}, metrics {...}, trace [...],
//   trace_total, breakpoints [...], debug {paused_at, variables, call_stack}, error, height.

import { h, guarded, showError, frameScheduler } from "./util.js";
import { GraphView } from "./graph.js";
import { SelectedRoutinePanel, JobSummary, RoutineTable } from "./metrics.js";
import { TracePanel } from "./trace.js";
import { DebuggerPanel } from "./debugger.js";
import { makeChannel } from "./channel.js";
import { TimeTravelPanel } from "./timetravel.js";

// Graph + summary + selected-routine details: all a FlowView shows; a JobView builds on it.
function flowPart(model, el, extraSelect) {
  const summary = new JobSummary(el);
  const kernelError = h("div", { class: "rx-kernel-error", role: "alert", hidden: true });
  const body = h("div", { class: "rx-body" });
  const graphBox = h("div", { class: "rx-graph-box" });
  const side = h("div", { class: "rx-side" });
  body.append(graphBox, side);
  el.append(kernelError, body);

  let selected = null;
  const details = new SelectedRoutinePanel(side);
  const graph = new GraphView(graphBox, { onSelect: (rid) => select(rid) });

  function nodeOf(rid) {
    return ((model.get("graph") || {}).nodes || []).find((n) => n.id === rid) || null;
  }
  function refreshDetails() {
    const rid = selected;
    details.update(nodeOf(rid), (model.get("routine_metrics") || {})[rid], (model.get("routine_states") || {})[rid]);
  }
  function select(rid) {
    selected = rid;
    graph.select(rid);
    refreshDetails();
    if (extraSelect) extraSelect(rid);
  }

  // A small flow gets a short box; a big one the model's height (pan and zoom for the rest).
  const setHeight = () => {
    const max = model.get("height") || 520;
    const want = graph.contentHeight ? Math.max(160, Math.min(max, graph.contentHeight)) : max;
    graphBox.style.height = `${Math.round(want)}px`;
  };
  const drawGraph = () => {
    const t0 = performance.now();
    const g = model.get("graph") || { nodes: [], edges: [] };
    graph.setGraph(g);
    setHeight();
    graph.fit();
    graph.setStates(model.get("routine_states"), (model.get("debug") || {}).paused_at || model.get("paused_at"));
    graph.setMetrics(model.get("routine_metrics"));
    graph.setBreakpoints(model.get("breakpoints"));
    graph.edges.forEach((edge, id) => (edge.hits = (model.get("edge_hits") || {})[id] || 0));
    el.dataset.nodes = String((g.nodes || []).length);
    el.dataset.renderMs = (performance.now() - t0).toFixed(1);
  };
  const live = frameScheduler(() =>
    guarded(el, "update", () => {
      graph.setStates(model.get("routine_states"), (model.get("debug") || {}).paused_at || model.get("paused_at"));
      graph.setMetrics(model.get("routine_metrics"));
      graph.setEdgeHits(model.get("edge_hits"));
      graph.setBreakpoints(model.get("breakpoints"));
      summary.update(model.get("job"), model.get("metrics"));
      if (selected) refreshDetails();
    }),
  );
  const showKernelError = () => {
    const message = model.get("error") || "";
    kernelError.textContent = message;
    kernelError.hidden = !message;
  };

  guarded(el, "render", () => {
    drawGraph();
    summary.update(model.get("job"), model.get("metrics"));
    showKernelError();
  });
  // Fit once the element is attached and has a size (render runs before insertion).
  const observer = new ResizeObserver(() => guarded(el, "fit", () => graph.fit()));
  observer.observe(graphBox);

  const handlers = [
    ["change:graph", () => guarded(el, "graph", drawGraph)],
    ["change:height", () => guarded(el, "height", setHeight)],
    ["change:error", showKernelError],
  ];
  for (const name of ["routine_states", "routine_metrics", "edge_hits", "breakpoints", "job", "metrics", "debug", "paused_at"]) {
    handlers.push([`change:${name}`, live]);
  }
  for (const [name, fn] of handlers) model.on(name, fn);

  return {
    graph,
    select,
    dispose() {
      for (const [name, fn] of handlers) model.off(name, fn);
      live.cancel();
      observer.disconnect();
      graph.destroy();
    },
  };
}

export function renderFlow({ model, el }) {
  el.classList.add("rx-root", "rx-flow-view");
  let part = null;
  try {
    part = flowPart(model, el, null);
  } catch (err) {
    showError(el, err, "render");
  }
  return () => part && part.dispose();
}

// Where the dashboard's page of a job is, or null. In a Jupyter page (Lab, Notebook 7) the page's
// own base URL is right for this browser even behind a proxy; elsewhere (e.g. VS Code) the
// kernel's idea of its server (the `dashboard_url` trait) is the best we have.
function dashboardLink(model) {
  const jobId = (model.get("job") || {}).job_id;
  if (!jobId) return null;
  let base = null;
  const config = document.getElementById("jupyter-config-data");
  if (config) {
    try {
      const baseUrl = JSON.parse(config.textContent || "{}").baseUrl;
      if (baseUrl) base = `${baseUrl.replace(/\/?$/, "/")}routilux/`;
    } catch (err) {
      base = null;
    }
  }
  base = base || model.get("dashboard_url") || null;
  return base ? `${base}jobs/${encodeURIComponent(jobId)}` : null;
}

// `channel` defaults to the widget comm; the dashboard page passes one that speaks REST.
export function renderJob({ model, el, channel: given = null }) {
  el.classList.add("rx-root", "rx-job-view");
  const channel = given || makeChannel(model);
  const parts = [];
  try {
    let dbg = null;
    let trace = null;
    let table = null;
    const flow = flowPart(model, el, (rid) => dbg && dbg.focusRoutine(rid));
    parts.push(flow);

    const tabs = h("div", { class: "rx-tabs", role: "tablist" });
    const pages = h("div", { class: "rx-pages" });
    const link = h("a", { class: "rx-dashboard-link", target: "_blank", rel: "noopener", hidden: true,
                          title: "this job on the routilux dashboard page" }, "Open in dashboard ↗");
    const refreshLink = () => {
      const href = given ? null : dashboardLink(model); // already on the dashboard: no link
      link.hidden = !href;
      if (href) link.href = href;
    };
    el.append(tabs, pages);
    const tab = (name, label) => {
      const page = h("div", { class: "rx-page", "data-page": name, hidden: true });
      const button = h("button", { class: "rx-tab", role: "tab", "data-tab": name, onclick: () => show(name) }, label);
      tabs.append(button);
      pages.append(page);
      return page;
    };
    let current = null;
    const pageFor = {
      debugger: tab("debugger", "Debugger"),
      metrics: tab("metrics", "Metrics"),
      trace: tab("trace", "Trace"),
      timetravel: tab("timetravel", "Time travel"),
    };
    function show(name) {
      current = name;
      for (const [key, page] of Object.entries(pageFor)) page.hidden = key !== name;
      for (const b of tabs.children) b.classList.toggle("rx-active", b.dataset.tab === name);
      if (name === "trace") trace.update(model.get("trace"), model.get("trace_total"));
      if (name === "metrics") table.update(model.get("routine_metrics"));
    }

    dbg = new DebuggerPanel(pageFor.debugger, { command: channel.command });
    table = new RoutineTable(pageFor.metrics, { onSelect: (rid) => flow.select(rid) });
    const travel = new TimeTravelPanel(pageFor.timetravel, {
      command: channel.command, graph: flow.graph, model, onError: (e) => showError(el, e, "time travel"),
      jobUrl: channel.jobUrl || null, // the dashboard's channel links jobs' pages; the comm's does not
    });
    trace = new TracePanel(pageFor.trace, {
      onSelect: (rid) => flow.select(rid),
      onActivation: (seq) => {
        show("timetravel");
        travel.open(seq);
      },
      onLoadOlder: async (before) => {
        const reply = await channel.command("page_trace", { before, limit: 200 });
        if (!reply.ok) showError(el, reply.error, "load older events");
        return reply.ok ? reply.data : null;
      },
    });
    show("debugger");
    tabs.append(link);
    refreshLink();

    const nodeIds = () => ((model.get("graph") || {}).nodes || []).map((n) => n.id);
    const refreshNodes = () => {
      dbg.setNodes((model.get("graph") || {}).nodes || []);
      trace.setRoutines(nodeIds());
    };
    const refreshDebugger = frameScheduler(() =>
      guarded(el, "debugger", () =>
        dbg.update({ job: model.get("job"), breakpoints: model.get("breakpoints"), debug: model.get("debug") }),
      ),
    );
    // Hidden tabs do not redraw at 10 Hz; showing one draws it from the current state.
    const refreshTable = () => current === "metrics" && guarded(el, "metrics", () => table.update(model.get("routine_metrics")));
    const refreshTrace = () => current === "trace" && trace.update(model.get("trace"), model.get("trace_total"));
    const refreshTravel = () => guarded(el, "time travel", () => travel.update(model.get("job")));
    const refreshForks = () => travel.showForks(model.get("forks"), model.widget_manager);
    guarded(el, "render", () => {
      refreshNodes();
      refreshDebugger();
      refreshTable();
      refreshTravel();
      refreshForks();
    });
    const handlers = [
      ["change:graph", refreshNodes],
      ["change:job", refreshDebugger],
      ["change:job", refreshLink],
      ["change:dashboard_url", refreshLink],
      ["change:breakpoints", refreshDebugger],
      ["change:debug", refreshDebugger],
      ["change:routine_metrics", refreshTable],
      ["change:trace", refreshTrace],
      ["change:trace_total", refreshTrace],
      ["change:job", refreshTravel],
      ["change:forks", refreshForks],
    ];
    for (const [name, fn] of handlers) model.on(name, fn);
    parts.push({
      dispose() {
        for (const [name, fn] of handlers) model.off(name, fn);
        refreshDebugger.cancel();
        trace.destroy();
        travel.destroy();
      },
    });
  } catch (err) {
    showError(el, err, "render");
  }
  return () => {
    channel.dispose();
    for (const part of parts) part.dispose();
  };
}
