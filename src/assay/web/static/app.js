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

  return { api, el, formatNumber, csrfToken };
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
