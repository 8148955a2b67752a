// Assay: small helpers shared by every page. No data is ever put into innerHTML.
"use strict";

const assay = (() => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrfToken = meta ? meta.getAttribute("content") : null;

  // fetch() JSON from the API; writes carry the session's CSRF token.
  async function api(url, options = {}) {
    const headers = new Headers(options.headers || {});
    headers.set("Accept", "application/json");
    const method = (options.method || "GET").toUpperCase();
    if (!["GET", "HEAD", "OPTIONS"].includes(method) && csrfToken) {
      headers.set("X-CSRF-Token", csrfToken);
    }
    if (options.json !== undefined) {
      headers.set("Content-Type", "application/json");
      options.body = JSON.stringify(options.json);
    }
    const response = await fetch(url, { ...options, headers, credentials: "same-origin" });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(body.error || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  // Create an element with attributes and text children (strings become text nodes).
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value !== null && value !== undefined) node.setAttribute(key, String(value));
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function formatNumber(value) {
    if (typeof value !== "number" || !Number.isFinite(value)) return String(value);
    if (Number.isInteger(value)) return value.toLocaleString("en-US");
    // Tiny values in exponent form (a standardized feature's mean, -2.5e-20, is not 22 digits).
    if (Math.abs(value) < 1e-4) return value.toExponential(2);
    return value.toLocaleString("en-US", { maximumSignificantDigits: 4 });
  }

  // Whether a key press is typing into a field (the editors' keys must not act then).
  function typing(target) {
    return Boolean(target && target.closest && target.closest("input:not([type=checkbox]):not([type=range]), textarea, [contenteditable]"));
  }

  // The labeling queue of an editor that takes the item's own place (boxes, spans): one item
  // after another, Enter (or the button) saves and shows the next, S skips; one request per
  // item for its values in every layer. `kind` is the item endpoint (`.../{id}/{kind}`);
  // `open(data, saveNext)` makes the editor on the first item, `empty(text)` shows that the
  // queue is done, `ahead(items)` may fetch the next items' media early.
  function editorQueue(root, { kind, doneText, open, empty, ahead }) {
    const layer = root.dataset.layer;
    const filter = root.dataset.filter;
    const progress = document.getElementById("queue-progress");
    const errorBox = document.getElementById("queue-error");
    const itemInfo = document.getElementById("queue-item");
    const waiting = [];
    let cursor = null;
    let exhausted = false;
    let labeled = 0;
    let total = 0;
    let session = 0;
    let editor = null;
    let current = null;
    let busy = false;

    function showProgress() {
      progress.textContent = `${labeled.toLocaleString("en-US")} labeled / ${total.toLocaleString("en-US")} in queue · ${session} this session`;
      root.dataset.labeled = String(labeled);
    }

    async function refill() {
      if (exhausted) return;
      const params = new URLSearchParams({ layer, limit: "20" });
      if (filter) params.set("filter", filter);
      if (cursor !== null) params.set("after", String(cursor));
      const page = await api(`${root.dataset.queueUrl}?${params}`);
      if (page.total !== undefined) { labeled = page.labeled; total = page.total; }
      waiting.push(...page.items);
      cursor = page.next;
      exhausted = page.next === null;
      if (ahead) ahead(waiting.slice(0, 3));
      showProgress();
    }

    async function next() {
      if (waiting.length < 3) await refill();
      current = waiting.shift() || null;
      if (!current) {
        empty(el("p", { class: "empty", id: "queue-done" }, doneText));
        for (const id of ["queue-save-next", "queue-skip"]) { // nothing to save or skip
          const button = document.getElementById(id);
          if (button) button.hidden = true;
        }
        itemInfo.replaceChildren();
        root.dataset.itemId = "";
        return;
      }
      const url = `${root.dataset.itemApi}${current.id}/${kind}`;
      const data = await api(url);
      data.save_url = url;
      data[`${kind}_url`] = url;
      if (!editor) editor = open(data, saveNext);
      else editor.load(data, layer);
      const href = `${root.dataset.itemPage}${encodeURIComponent(current.key)}`;
      itemInfo.replaceChildren(el("a", { href, target: "_blank", rel: "noopener", class: "key" }, `item ${current.key}`));
      root.dataset.itemId = String(current.id);
    }

    async function saveNext() {
      if (!current || busy) return;
      busy = true;
      try {
        const wasLabeled = editor.entry(layer).labeled;
        if (await editor.save()) {
          if (!wasLabeled) labeled += 1;
          session += 1;
          showProgress();
          await next();
        }
      } finally {
        busy = false;
      }
    }

    async function skip() {
      if (!current || busy) return;
      busy = true;
      try { await next(); } finally { busy = false; }
    }

    document.getElementById("queue-save-next").addEventListener("click", saveNext);
    document.getElementById("queue-skip").addEventListener("click", skip);
    document.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
      if (event.key === "s" || event.key === "S") { event.preventDefault(); skip(); }
    });
    next().catch((error) => { errorBox.textContent = `Could not load the queue: ${error.message}`; errorBox.hidden = false; });
    return root;
  }

  return { api, el, formatNumber, csrfToken, typing, editorQueue };
})();

// Server-rendered colours and bar lengths: the pages' CSP forbids style attributes in the
// markup (style-src 'self'), so templates put them in data attributes and they are applied
// here through the CSSOM, which the CSP allows. data-colour: text colour; data-layer-colour:
// the --layer custom property; data-bg: background; data-width: width in % (data-width-px: px).
(() => {
  function paint(root) {
    for (const el of root.querySelectorAll("[data-colour],[data-layer-colour],[data-bg],[data-width],[data-width-px]")) {
      const d = el.dataset;
      if (d.colour) el.style.color = d.colour;
      if (d.layerColour) el.style.setProperty("--layer", d.layerColour);
      if (d.bg) el.style.background = d.bg;
      if (d.width) el.style.width = `${Number(d.width)}%`;
      if (d.widthPx) el.style.width = `${Number(d.widthPx)}px`;
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => paint(document));
  } else {
    paint(document);
  }
})();
