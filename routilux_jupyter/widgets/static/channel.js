// Request/reply over the widget's custom messages.
//
// The front end sends {type: "command", id, action, args}; the kernel answers with
// {type: "result", id, ok, error, data}. Replies are matched by id, so several views of one model
// (or a slow kernel) never confuse them.

let counter = 0;

export function makeChannel(model, { timeoutMs = 20000 } = {}) {
  const waiting = new Map();
  const prefix = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

  const onMessage = (msg) => {
    if (!msg || msg.type !== "result" || !waiting.has(msg.id)) return;
    const { resolve, timer } = waiting.get(msg.id);
    clearTimeout(timer);
    waiting.delete(msg.id);
    resolve({ ok: Boolean(msg.ok), error: msg.error || null, data: msg.data ?? null });
  };
  model.on("msg:custom", onMessage);

  function command(action, args = {}) {
    const id = `${prefix}-${++counter}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve({ ok: false, error: `The kernel did not answer "${action}" within ${timeoutMs / 1000} s (is it busy or gone?).`, data: null });
      }, timeoutMs);
      waiting.set(id, { resolve, timer });
      try {
        model.send({ type: "command", id, action, args });
      } catch (err) {
        clearTimeout(timer);
        waiting.delete(id);
        resolve({ ok: false, error: `Could not reach the kernel: ${err}`, data: null });
      }
    });
  }

  function dispose() {
    model.off("msg:custom", onMessage);
    for (const { timer, resolve } of waiting.values()) {
      clearTimeout(timer);
      resolve({ ok: false, error: "view closed", data: null });
    }
    waiting.clear();
  }

  return { command, dispose };
}
