// The routilux REST and WebSocket API, as seen from the dashboard page.
//
// The page is served by the same Jupyter server, so requests ride on the login cookie; writes
// echo the _xsrf token the page was rendered with (Jupyter refuses cookie writes without it).
// Every call resolves to {ok, status, data, error}: panels show a refusal, they never throw.

export const seg = encodeURIComponent;

export function makeApi({ baseUrl, apiPrefix, xsrf }) {
  const slash = (p) => (p ? p.replace(/\/?$/, "/") : "");
  const root = slash(baseUrl || "/") + slash(apiPrefix);

  async function request(method, path, body) {
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (method !== "GET") headers["X-XSRFToken"] = xsrf;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(root + path, init);
    } catch (err) {
      return { ok: false, status: 0, data: null, error: `Could not reach the server: ${err}` };
    }
    let data = null;
    if (response.status !== 204) {
      try {
        data = await response.json();
      } catch (err) {
        data = null;
      }
    }
    if (!response.ok) {
      const message = data && typeof data.message === "string" ? data.message : `HTTP ${response.status}`;
      return { ok: false, status: response.status, data, error: message };
    }
    return { ok: true, status: response.status, data, error: null };
  }

  // A WebSocket that comes back after a drop (server restart, network): onOpen runs on every
  // (re)connection so the caller can catch up on what it missed; onState says live or not.
  function socket(path, { onMessage, onOpen, onState }) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}${root}${path}`;
    let ws = null;
    let closed = false;
    let delay = 500;
    let timer = 0;
    const connect = () => {
      ws = new WebSocket(url);
      ws.onopen = () => {
        delay = 500;
        if (onState) onState("live");
        if (onOpen) onOpen();
      };
      ws.onmessage = (ev) => {
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch (err) {
          return;
        }
        for (const item of msg.type === "batch" ? msg.events : [msg]) onMessage(item);
      };
      ws.onclose = () => {
        if (closed) return;
        if (onState) onState("reconnecting");
        timer = setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10000);
      };
    };
    connect();
    return {
      close() {
        closed = true;
        clearTimeout(timer);
        if (ws) ws.close();
      },
    };
  }

  return { request, socket, root };
}

// Status a job has after one of its events (the list updates at once, then re-reads the job).
export const STATUS_AFTER = {
  job_start: "running",
  job_resumed: "running",
  job_paused: "paused",
  breakpoint_hit: "paused",
  job_completed: "completed",
  job_failed: "failed",
  job_cancelled: "cancelled",
  job_lost: "lost",
};

export const TERMINAL = new Set(["completed", "failed", "cancelled", "lost"]);

// "server", or "kernel:<id>": what the owner filter compares.
export function ownerKey(owner) {
  if (!owner || owner.kind !== "kernel") return "server";
  return `kernel:${owner.kernel_id}`;
}

export function ownerLabel(owner) {
  if (!owner || owner.kind !== "kernel") return "server";
  const id = String(owner.kernel_id || "?").slice(0, 8);
  return owner.notebook_path ? `${owner.notebook_path} (${id})` : `kernel ${id}`;
}
