// Entry module of the dashboard page ({base_url}routilux/ and {base_url}routilux/jobs/{id}).
// The server renders only <body data-*>; everything else is built here from the API.

import { showError } from "../views/util.js";
import { makeApi } from "./api.js";
import { renderJobsList } from "./jobs_list.js";
import { renderJobPage } from "./job_page.js";

const body = document.body;
const api = makeApi({ baseUrl: body.dataset.baseUrl, apiPrefix: body.dataset.apiPrefix, xsrf: body.dataset.xsrf });
const pageUrl = `${(body.dataset.baseUrl || "/").replace(/\/?$/, "/")}routilux/`;
const root = document.createElement("main");
root.className = "rx-root rxd-main";
body.append(root);

try {
  const jobId = body.dataset.jobId;
  window.routiluxDashboard = jobId ? renderJobPage(root, api, { pageUrl, jobId }) : renderJobsList(root, api, { pageUrl });
} catch (err) {
  showError(root, err, "dashboard");
}
