// A job's page on the dashboard: the notebook JobView's own modules (graph, metrics, trace,
// debugger from routilux_jupyter/widgets/static), fed by REST and the job's WebSocket.

import { h } from "../views/util.js";
import { renderJob } from "../views/views.js";
import { ownerLabel } from "./api.js";
import { makeJobModel } from "./job_model.js";

export function renderJobPage(root, api, { pageUrl, jobId }) {
  const title = h("h1", {}, `job ${jobId}`);
  const where = h("span", { class: "rx-muted rxd-job-where" });
  root.append(h("header", { class: "rxd-header" },
    h("a", { class: "rxd-back", href: pageUrl }, "← all jobs"), title, where));
  const el = h("div", { class: "rxd-job-view" });
  root.append(el);

  const job = makeJobModel(api, jobId, { pageUrl });
  const cleanup = renderJob({ model: job.model, el, channel: job.channel });
  job.start().then((info) => {
    if (info) where.textContent = `flow ${info.flow_id} · ${ownerLabel(info.owner)}`;
  });
  return {
    dispose() {
      job.dispose();
      cleanup();
    },
  };
}
