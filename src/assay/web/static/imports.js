// The "Import data" form of the datasets page (admins): uploads the file as multipart form
// data to POST /api/v1/datasets/{name}/imports, then follows the import job by polling
// GET /api/v1/jobs/{id} and links to the dataset when it is done. Text only (textContent).
"use strict";

(() => {
  const form = document.getElementById("import-form");
  if (!form) return;
  const { api } = assay;
  const status = document.getElementById("import-status");
  const bar = document.getElementById("import-progress");
  const message = document.getElementById("import-message");
  const link = document.getElementById("import-link");
  const errorBox = document.getElementById("import-error");
  const button = form.querySelector("button[type=submit]");
  const POLL_MS = 700;
  // Not form.dataset: the form has an input named "dataset", which shadows that property.
  const apiBase = form.getAttribute("data-api");

  function fail(text) {
    errorBox.textContent = text;
    errorBox.hidden = false;
    button.disabled = false;
  }

  function show(job) {
    status.hidden = false;
    if (job.fraction === null || job.fraction === undefined) {
      bar.removeAttribute("value"); // indeterminate while the total is unknown
    } else {
      bar.value = job.fraction;
    }
    const counts = job.total ? ` (${assay.formatNumber(job.done || 0)} of ${assay.formatNumber(job.total)})` : "";
    message.textContent = `${job.params.filename || "file"}: ${job.message || job.state}${counts}`;
  }

  async function follow(id, dataset) {
    let job;
    try {
      job = (await api(`/api/v1/jobs/${encodeURIComponent(id)}`)).job;
    } catch (error) {
      fail(`Could not read the import's progress: ${error.message}`);
      return;
    }
    show(job);
    if (job.state === "queued" || job.state === "running") {
      setTimeout(() => follow(id, dataset), POLL_MS);
      return;
    }
    button.disabled = false;
    if (job.state === "done") {
      const r = job.result || {};
      bar.value = 1;
      message.textContent = r.kind === "boxes" || r.kind === "predictions"
        ? `Imported the ${r.kind === "boxes" ? "boxes" : "predicted boxes"} into layer ${r.layer} of ${r.dataset || dataset}: `
          + `${assay.formatNumber(r.n_new_labels || 0)} new labels.`
        : `Imported ${assay.formatNumber(r.n_rows || 0)} rows into ${r.dataset || dataset}: `
          + `${assay.formatNumber(r.n_new_items || 0)} new items, ${assay.formatNumber(r.n_new_labels || 0)} new labels.`;
      link.href = `/datasets/${encodeURIComponent(r.dataset || dataset)}`;
      link.hidden = false;
    } else {
      fail(`The import ${job.state}: ${job.error || "no reason given"}`);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    link.hidden = true;
    const data = new FormData(form);
    const dataset = String(data.get("dataset") || "").trim();
    data.delete("dataset"); // it is in the URL
    for (const key of ["label_column", "key_column", "layer"]) {
      if (!String(data.get(key) || "").trim()) data.delete(key);
    }
    button.disabled = true;
    status.hidden = false;
    bar.removeAttribute("value");
    message.textContent = "uploading…";
    try {
      const started = await api(`${apiBase}${encodeURIComponent(dataset)}/imports`, { method: "POST", body: data });
      follow(started.job.id, dataset);
    } catch (error) {
      status.hidden = true;
      fail(`Could not upload: ${error.message}`);
    }
  });
})();
