// Assay: the suggestions & jobs page. Each form starts a job through the API; the job table
// follows every queued or running job (polled once a second) with a progress bar, and links
// to what a finished job made. Text goes into the page with textContent only.
"use strict";

(() => {
  const { api, el } = assay;
  const root = document.getElementById("suggest");
  if (!root) return;
  const jobsApi = root.dataset.jobsApi;
  const dataset = root.dataset.dataset;
  const body = document.getElementById("jobs-body");
  const errorBox = document.getElementById("jobs-error");
  const pageLayer = (document.querySelector("#suggest-form input[name=layer]") || {}).value;
  const seenActive = new Set();
  const POLL_MS = 1000;
  let timer = null;

  const q = encodeURIComponent;
  const base = `/datasets/${q(dataset)}`;

  function fail(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  function outcome(job) {
    if (job.state !== "done") return null;
    const r = job.result || {};
    switch (job.kind) {
      case "cross-validate":
      case "train":
        return el("a", { href: `${base}/predictions?run=${q(r.run || "")}` }, "see predictions");
      case "map":
        return el("a", { href: `${base}/map` }, "open the map");
      case "issues":
        return el("a", { href: `${base}/review?reason=mislabel` }, "review the issues");
      case "review-scan":
        return el("a", { href: `${base}/review` }, "open the review queue");
      case "consensus":
        return el("a", { href: `${base}/agreement` }, "see agreement");
      case "suggest":
        return el("a", { href: `${base}/label?layer=${q(job.params.layer)}` }, "label them");
      case "import":
        if (r.kind === "boxes" || r.kind === "predictions") {
          return el("a", { href: base }, `${(r.n_new_labels || 0).toLocaleString()} new labels in ${r.layer}`);
        }
        return el("a", { href: base }, `${(r.n_new_items || 0).toLocaleString()} new items`);
      default:
        return null;
    }
  }

  function row(job) {
    const bar = el("progress", { max: "1" });
    if (job.fraction !== null && job.fraction !== undefined) bar.value = job.fraction;
    const message = el("span", { class: "job-message" }, job.error || job.message || "");
    const actions = el("td");
    if (job.state === "queued" || job.state === "running") {
      const cancel = el("button", { type: "button", class: "link", "data-cancel": job.id },
        job.cancel_requested ? "stopping…" : "Cancel");
      if (job.cancel_requested) cancel.disabled = true;
      actions.append(cancel);
    } else {
      const link = outcome(job);
      if (link) actions.append(link);
    }
    const tr = el("tr", { "data-job-id": job.id, "data-kind": job.kind, "data-state": job.state },
      el("td", {}, job.id), el("td", {}, job.kind), el("td", { class: "state" }, job.state),
      el("td", { class: "progress" }, bar, " ", message), el("td", {}, job.created_by),
      el("td", {}, (job.created_at || "").slice(0, 19).replace("T", " ")), actions);
    return tr;
  }

  function render(jobs) {
    if (!jobs.length) {
      body.replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: "7" }, "No jobs yet.")));
      return;
    }
    body.replaceChildren(...jobs.map(row));
  }

  async function poll() {
    timer = null;
    let jobs;
    try {
      jobs = (await api(`${jobsApi}?limit=30`)).jobs;
    } catch (error) {
      fail(`Could not read the jobs: ${error.message}`);
      timer = setTimeout(poll, POLL_MS * 5);
      return;
    }
    render(jobs);
    let reload = false;
    for (const job of jobs) {
      const active = job.state === "queued" || job.state === "running";
      if (active) seenActive.add(job.id);
      else if (seenActive.delete(job.id) && job.kind === "suggest" && job.state === "done"
        && job.params.layer === pageLayer) reload = true;
    }
    if (reload) {
      window.location.reload();
      return;
    }
    if (jobs.some((j) => j.state === "queued" || j.state === "running")) {
      timer = setTimeout(poll, POLL_MS);
    }
  }

  function follow() {
    if (timer === null) timer = setTimeout(poll, 0);
  }

  function params(form) {
    const out = {};
    for (const field of form.elements) {
      if (!field.name || field.value === "") continue;
      const type = field.dataset.type;
      out[field.name] = type === "int" ? parseInt(field.value, 10)
        : type === "float" ? parseFloat(field.value) : field.value;
    }
    return out;
  }

  for (const form of document.querySelectorAll("form.job-form")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      errorBox.hidden = true;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const started = await api(jobsApi, { method: "POST", json: { kind: form.dataset.kind, params: params(form) } });
        seenActive.add(started.job.id);
        follow();
      } catch (error) {
        fail(`Could not start the job: ${error.message}`);
      } finally {
        button.disabled = false;
      }
    });
  }

  body.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-cancel]");
    if (!button) return;
    button.disabled = true;
    try {
      await api(`/api/v1/jobs/${q(button.dataset.cancel)}/cancel`, { method: "POST" });
    } catch (error) {
      fail(`Could not cancel job ${button.dataset.cancel}: ${error.message}`);
    }
    follow();
  });

  if (body.querySelector('tr[data-state="queued"], tr[data-state="running"]')) {
    for (const tr of body.querySelectorAll('tr[data-state="queued"], tr[data-state="running"]')) {
      seenActive.add(Number(tr.dataset.jobId));
    }
    follow();
  } else {
    poll(); // renders the outcome links of finished jobs
  }
})();
