// SVG view of a flow: routines as nodes (slots on the left, events on the right), connections as
// edges from an event port to a slot port. Live state arrives as class changes only; the layout
// and the DOM are built once per graph.

import { h, s, clear, fmtDuration } from "./util.js";
import { layoutGraph, portOffset, NODE_WIDTH } from "./layout.js";

const MARGIN = 24;
const LIT_MS = 450;
const MIN_SCALE = 0.05;
const MAX_SCALE = 3;

export class GraphView {
  constructor(container, { onSelect } = {}) {
    this.onSelect = onSelect || (() => {});
    this.root = h("div", { class: "rx-graph", tabindex: "0" });
    this.svg = s("svg", { class: "rx-graph-svg", role: "img", "aria-label": "flow graph" });
    this.viewport = s("g", { class: "rx-viewport" });
    this.edgeLayer = s("g", { class: "rx-edges" });
    this.nodeLayer = s("g", { class: "rx-nodes" });
    this.viewport.append(this.edgeLayer, this.nodeLayer);
    this.svg.append(defs(), this.viewport);
    this.toolbar = h(
      "div",
      { class: "rx-graph-toolbar" },
      h("button", { class: "rx-btn", title: "fit the whole flow", onclick: () => this.fit() }, "Fit"),
      h("button", { class: "rx-btn", title: "zoom in", onclick: () => this.zoomBy(1.25) }, "+"),
      h("button", { class: "rx-btn", title: "zoom out", onclick: () => this.zoomBy(0.8) }, "−"),
    );
    this.root.append(this.toolbar, this.svg);
    container.append(this.root);

    this.nodes = new Map(); // rid -> {group, state}
    this.edges = new Map(); // edge id -> {path, hits, timer}
    this.selected = null;
    this.paused = null;
    this.view = { x: 0, y: 0, k: 1 };
    this.size = { width: 0, height: 0 };
    this.lastLayoutMs = 0;
    this._bindPanZoom();
  }

  // Build the whole drawing for a graph {nodes, edges}.
  setGraph(graph) {
    const t0 = performance.now();
    const nodes = (graph && graph.nodes) || [];
    const edges = (graph && graph.edges) || [];
    const layout = layoutGraph(nodes, edges);
    clear(this.edgeLayer);
    clear(this.nodeLayer);
    this.nodes.clear();
    for (const edge of this.edges.values()) clearTimeout(edge.timer);
    this.edges.clear();

    const nodeFrag = document.createDocumentFragment();
    for (const node of nodes) {
      const pos = layout.positions.get(node.id);
      const group = drawNode(node, pos);
      group.addEventListener("click", (ev) => {
        ev.stopPropagation();
        this.select(node.id);
        this.onSelect(node.id);
      });
      this.nodes.set(node.id, { group, state: "pending", node, pos });
      nodeFrag.append(group);
    }
    const edgeFrag = document.createDocumentFragment();
    for (const edge of edges) {
      const from = layout.positions.get(edge.source);
      const to = layout.positions.get(edge.target);
      if (!from || !to) continue;
      const src = this.nodes.get(edge.source).node;
      const dst = this.nodes.get(edge.target).node;
      const start = { x: from.x + from.w, y: from.y + portOffset(indexOr0(src.events, edge.event)) };
      const end = { x: to.x, y: to.y + portOffset(indexOr0(dst.slots, edge.slot)) };
      const route = layout.routes.get(edge.id) || { points: [], back: false };
      const path = s("path", {
        class: route.back ? "rx-edge rx-edge-back" : "rx-edge",
        d: edgePath(start, route.points, end, route.back),
        "data-edge": edge.id,
        "marker-end": "url(#rx-arrow)",
      });
      path.append(s("title", { text: `${edge.source}.${edge.event} → ${edge.target}.${edge.slot}` }));
      this.edges.set(edge.id, { path, hits: 0, timer: 0 });
      edgeFrag.append(path);
    }
    this.edgeLayer.append(edgeFrag);
    this.nodeLayer.append(nodeFrag);
    this.size = { width: layout.width, height: layout.height };
    this.contentHeight = layout.height + 2 * MARGIN + 8;
    this.lastLayoutMs = performance.now() - t0;
    this.fit();
    if (this.selected && this.nodes.has(this.selected)) this.select(this.selected);
    return layout;
  }

  // routine id -> state string ("running", "completed", ...); unknown ids are ignored.
  setStates(states, pausedAt) {
    for (const [rid, entry] of this.nodes) {
      const state = (states && states[rid]) || "pending";
      if (state !== entry.state) {
        entry.group.classList.remove(`rx-state-${entry.state}`);
        entry.group.classList.add(`rx-state-${state}`);
        entry.state = state;
        entry.group.querySelector(".rx-node-state").textContent = state;
      }
    }
    const paused = pausedAt && pausedAt.routine_id ? pausedAt.routine_id : null;
    if (paused !== this.paused) {
      if (this.paused && this.nodes.has(this.paused)) {
        this.nodes.get(this.paused).group.classList.remove("rx-paused-here");
      }
      if (paused && this.nodes.has(paused)) this.nodes.get(paused).group.classList.add("rx-paused-here");
      this.paused = paused;
    }
  }

  // Cumulative emit counts per edge; an edge whose count grew lights up briefly.
  setEdgeHits(hits) {
    if (!hits) return;
    for (const [id, count] of Object.entries(hits)) {
      const edge = this.edges.get(id);
      if (!edge || count === edge.hits) continue;
      const grew = count > edge.hits;
      edge.hits = count;
      if (!grew) continue;
      edge.path.classList.add("rx-lit");
      clearTimeout(edge.timer);
      edge.timer = setTimeout(() => edge.path.classList.remove("rx-lit"), LIT_MS);
    }
  }

  // Per-routine execution counts shown under each node title.
  setMetrics(routineMetrics) {
    for (const [rid, entry] of this.nodes) {
      const m = routineMetrics && routineMetrics[rid];
      const text = m ? `×${m.execution_count || 0} · ${fmtDuration(m.avg_duration)}` : "";
      const label = entry.group.querySelector(".rx-node-metrics");
      if (label.textContent !== text) label.textContent = text;
    }
  }

  // Mark routines that hold at least one enabled breakpoint.
  setBreakpoints(breakpoints) {
    const marked = new Set((breakpoints || []).filter((b) => b.enabled).map((b) => b.routine_id));
    for (const [rid, entry] of this.nodes) entry.group.classList.toggle("rx-has-bp", marked.has(rid));
  }

  select(rid) {
    if (this.selected && this.nodes.has(this.selected)) {
      this.nodes.get(this.selected).group.classList.remove("rx-selected");
    }
    this.selected = rid;
    if (rid && this.nodes.has(rid)) this.nodes.get(rid).group.classList.add("rx-selected");
  }

  fit() {
    const box = this.svg.getBoundingClientRect();
    const width = box.width || 800;
    const height = box.height || 420;
    const contentW = this.size.width + 2 * MARGIN;
    const contentH = this.size.height + 2 * MARGIN;
    const k = clamp(Math.min(width / contentW, height / contentH, 1), MIN_SCALE, MAX_SCALE);
    this.view = {
      k,
      x: (width - this.size.width * k) / 2,
      y: Math.max(MARGIN * k, (height - this.size.height * k) / 2),
    };
    this._applyView();
  }

  zoomBy(factor, cx, cy) {
    const box = this.svg.getBoundingClientRect();
    const px = cx === undefined ? box.width / 2 : cx;
    const py = cy === undefined ? box.height / 2 : cy;
    const k = clamp(this.view.k * factor, MIN_SCALE, MAX_SCALE);
    const ratio = k / this.view.k;
    this.view = { k, x: px - (px - this.view.x) * ratio, y: py - (py - this.view.y) * ratio };
    this._applyView();
  }

  destroy() {
    for (const edge of this.edges.values()) clearTimeout(edge.timer);
    this.root.remove();
  }

  _applyView() {
    const { x, y, k } = this.view;
    this.viewport.setAttribute("transform", `translate(${x.toFixed(1)},${y.toFixed(1)}) scale(${k.toFixed(4)})`);
  }

  _bindPanZoom() {
    let drag = null;
    this.svg.addEventListener(
      "wheel",
      (ev) => {
        // Only zoom with a modifier so scrolling the notebook past the graph still works.
        if (!ev.ctrlKey && !ev.metaKey && !ev.altKey) return;
        ev.preventDefault();
        const box = this.svg.getBoundingClientRect();
        this.zoomBy(Math.exp(-ev.deltaY * 0.002), ev.clientX - box.left, ev.clientY - box.top);
      },
      { passive: false },
    );
    this.svg.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0 || ev.target.closest(".rx-node")) return;
      drag = { x: ev.clientX, y: ev.clientY, vx: this.view.x, vy: this.view.y };
      this.svg.setPointerCapture(ev.pointerId);
    });
    this.svg.addEventListener("pointermove", (ev) => {
      if (!drag) return;
      this.view = { ...this.view, x: drag.vx + ev.clientX - drag.x, y: drag.vy + ev.clientY - drag.y };
      this._applyView();
    });
    const end = () => (drag = null);
    this.svg.addEventListener("pointerup", end);
    this.svg.addEventListener("pointercancel", end);
    this.svg.addEventListener("click", (ev) => {
      if (!ev.target.closest(".rx-node")) {
        this.select(null);
        this.onSelect(null);
      }
    });
  }
}

function defs() {
  return s(
    "defs",
    null,
    s(
      "marker",
      // userSpaceOnUse: a lit (thicker) edge keeps the same arrow head.
      { id: "rx-arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "8", markerHeight: "8", markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" },
      s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "rx-arrow-head" }),
    ),
  );
}

function drawNode(node, pos) {
  const group = s("g", {
    class: "rx-node rx-state-pending",
    transform: `translate(${pos.x},${pos.y})`,
    "data-routine": node.id,
  });
  group.append(
    s("title", { text: `${node.id} (${node.class_name || "Routine"})` }),
    s("rect", { class: "rx-node-box", width: pos.w, height: pos.h, rx: 6 }),
    s("rect", { class: "rx-node-head", width: pos.w, height: 20, rx: 6 }),
    s("text", { class: "rx-node-title", x: 8, y: 14, text: truncate(node.id, 22) }),
    s("text", { class: "rx-node-state", x: pos.w - 6, y: 14, "text-anchor": "end", text: "pending" }),
    s("text", { class: "rx-node-metrics", x: 8, y: 30, text: "" }),
    s("circle", { class: "rx-node-bp", cx: pos.w - 8, cy: 29, r: 4 }),
  );
  (node.slots || []).forEach((name, i) => {
    const y = portOffset(i);
    group.append(
      s("circle", { class: "rx-port rx-slot", cx: 0, cy: y, r: 3.5 }),
      s("text", { class: "rx-port-label", x: 7, y: y + 3.5, text: truncate(name, 12) }),
    );
  });
  (node.events || []).forEach((name, i) => {
    const y = portOffset(i);
    group.append(
      s("circle", { class: "rx-port rx-event", cx: NODE_WIDTH, cy: y, r: 3.5 }),
      s("text", { class: "rx-port-label", x: NODE_WIDTH - 7, y: y + 3.5, "text-anchor": "end", text: truncate(name, 12) }),
    );
  });
  return group;
}

// A smooth path: horizontal tangents at the ports, passing through the dummy points.
function edgePath(start, points, end, back) {
  if (back) {
    // Backward edges loop below/around: leave right, come in from the left.
    const dx = Math.max(60, Math.abs(end.x - start.x) * 0.25);
    return `M${start.x},${start.y} C${start.x + dx},${start.y} ${end.x - dx},${end.y} ${end.x},${end.y}`;
  }
  const all = [start, ...points, end];
  let d = `M${start.x},${start.y}`;
  for (let i = 1; i < all.length; i++) {
    const a = all[i - 1];
    const b = all[i];
    const mx = (a.x + b.x) / 2;
    d += ` C${mx},${a.y} ${mx},${b.y} ${b.x},${b.y}`;
  }
  return d;
}

function indexOr0(list, name) {
  const i = (list || []).indexOf(name);
  return i < 0 ? 0 : i;
}

function truncate(text, max) {
  const str = String(text);
  return str.length > max ? `${str.slice(0, max - 1)}…` : str;
}

function clamp(v, lo, hi) {
  return Math.min(hi, Math.max(lo, v));
}
