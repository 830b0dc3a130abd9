// Small DOM helpers shared by the routilux views. No dependencies, no globals.

const SVG_NS = "http://www.w3.org/2000/svg";

// Create an HTML element: h("div", {class: "x", onclick: fn}, child, "text").
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  applyAttrs(node, attrs);
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// Create an SVG element with attributes (never innerHTML: labels are user data).
export function s(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  applyAttrs(node, attrs);
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function applyAttrs(node, attrs) {
  if (!attrs) return;
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "text") {
      node.textContent = String(value);
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

// Replace all children of a node.
export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

// Replace the children with the given ones (arrays flattened, null/false skipped): the DOM's own
// append() would print an array or null as text.
export function fill(node, ...children) {
  clear(node);
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// Show an error inside the cell (not only in the console), so a broken view is visible.
export function showError(container, err, where) {
  const message = err && err.stack ? String(err.stack) : String(err);
  let box = container.querySelector(":scope > .rx-error");
  if (!box) {
    box = h("pre", { class: "rx-error", role: "alert" });
    container.prepend(box);
  }
  box.textContent = `routilux view error${where ? ` (${where})` : ""}: ${message}`;
  return box;
}

// Run fn and route any exception to the cell's error box; returns fn's value or undefined.
export function guarded(container, where, fn) {
  try {
    return fn();
  } catch (err) {
    showError(container, err, where);
    return undefined;
  }
}

// Seconds -> short human text ("12 ms", "1.20 s", "2 min 3 s").
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return "–";
  const v = Number(seconds);
  if (v < 0.001) return `${(v * 1e6).toFixed(0)} µs`;
  if (v < 1) return `${(v * 1000).toFixed(v < 0.01 ? 2 : 1)} ms`;
  if (v < 60) return `${v.toFixed(2)} s`;
  return `${Math.floor(v / 60)} min ${Math.round(v % 60)} s`;
}

// A timestamp (ISO string or epoch seconds) -> "HH:MM:SS.mmm" in local time.
export function fmtTime(ts) {
  const ms = toMillis(ts);
  if (ms === null) return "–";
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// ISO 8601 string or epoch seconds -> epoch milliseconds (null when unknown).
export function toMillis(ts) {
  if (ts === null || ts === undefined || ts === "") return null;
  if (typeof ts === "number") return ts * 1000;
  const ms = Date.parse(ts);
  return Number.isNaN(ms) ? null : ms;
}

// A JSON-ish value -> compact one-line text, bounded so one huge payload cannot stall the page.
export function preview(value, max = 120) {
  let text;
  if (typeof value === "string") text = value;
  else {
    try {
      text = JSON.stringify(value);
    } catch (err) {
      text = String(value);
    }
  }
  if (text === undefined) text = String(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// Coalesce repeated calls into one per animation frame (the browser's own pace).
export function frameScheduler(fn) {
  let pending = false;
  let handle = 0;
  const run = () => {
    pending = false;
    fn();
  };
  const schedule = () => {
    if (pending) return;
    pending = true;
    handle = requestAnimationFrame(run);
  };
  schedule.cancel = () => {
    if (pending) cancelAnimationFrame(handle);
    pending = false;
  };
  return schedule;
}

// The states a routine or job can be in, in the order a legend shows them.
export const STATES = ["pending", "running", "paused", "completed", "failed", "skipped", "cancelled"];
