// The embedding map: every item as a point on a canvas, colored by label, prediction, review
// issue or disagreement. Points arrive as one binary payload (see assay/web/maps.py) and are
// painted into an ImageData from typed arrays, so 100,000 points redraw in a few ms on pan
// (drag) and zoom (wheel). A lasso (button, or Shift+drag) selects points: open them in the
// grid as a saved selection, or label them in a layer through the bulk labels API.
// Text goes into the page with textContent only.
"use strict";

(() => {
  const BASE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
    "#ff9da7", "#9c755f", "#2f4b7c", "#a0cbe8", "#ffbe7d", "#8cd17d", "#86bcb6", "#f1ce63",
    "#d4a6c8", "#fabfd2", "#d37295", "#79706e", "#b6992d"];
  const NONE = 255;
  const NONE_COLOR = "#cfd4dc";
  const BACKGROUND = "#ffffff";
  const HOVER_PX = 8; // how near (CSS px) the pointer must be to a point to pick it
  const CLICK_PX = 4; // a press that moves less than this is a click, not a drag
  const GRID = 256; // cells per side of the hover index
  const MAX_LASSO = 4000;
  const MAX_BULK = 100000; // the bulk labels API takes this many ids; more go by selection

  setupJobs();
  const root = document.getElementById("map");
  if (!root) return;

  const canvas = document.getElementById("map-canvas");
  const stage = document.getElementById("map-stage");
  const tip = document.getElementById("map-tip");
  const status = document.getElementById("map-status");
  const bySelect = document.getElementById("map-by");
  const layerSelect = document.getElementById("map-layer");
  const layerField = document.getElementById("map-layer-field");
  const lassoButton = document.getElementById("map-lasso");
  const legendList = document.getElementById("map-legend");
  const legendTitle = document.getElementById("map-legend-title");
  const panel = document.getElementById("map-selection");
  const selectedText = document.getElementById("map-selected");
  const selectionStatus = document.getElementById("map-selection-status");
  const labelForm = document.getElementById("map-label-form");
  const ctx = canvas.getContext("2d");

  let n = 0;
  let xs = new Float32Array(0);
  let ys = new Float32Array(0);
  let ids = new Uint32Array(0);
  let bounds = [0, 0, 1, 1];
  let codes = new Uint8Array(0);
  let legend = [];
  let selected = new Uint8Array(0);
  let nSelected = 0;
  let order = new Int32Array(0); // draw order: uncolored first, selected last
  let palette = new Uint32Array(256);
  let dimmed = new Uint32Array(256);
  const view = { cx: 0, cy: 0, scale: 1 };
  let cssW = 1;
  let cssH = 1;
  let dpr = 1;
  let image = null;
  let pixels = null;
  let cellStart = new Int32Array(0);
  let cellItems = new Int32Array(0);
  let lasso = null; // [[x, y], ...] in CSS px while drawing
  let lassoMode = false;
  let press = null;
  let hovered = -1;
  let scheduled = false;
  let drawn = false;

  // -- colors -----------------------------------------------------------------------------

  function hexRgb(hex) {
    const v = parseInt(hex.slice(1), 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }

  function packed(rgb) { // ImageData's Uint32 view is little-endian RGBA
    return ((255 << 24) | (rgb[2] << 16) | (rgb[1] << 8) | rgb[0]) >>> 0;
  }

  function classColor(i, by) {
    if (by === "disagreement") return i === 0 ? "#9ab7d8" : "#e15759";
    if (i < BASE.length) return BASE[i];
    const hue = (i * 137.508) % 360; // golden angle: neighbours stay apart
    const s = 0.55, l = 0.5;
    const f = (k) => {
      const a = s * Math.min(l, 1 - l);
      const h = (k + hue / 30) % 12;
      return Math.round(255 * (l - a * Math.max(-1, Math.min(h - 3, 9 - h, 1))));
    };
    return `#${[f(0), f(8), f(4)].map((c) => c.toString(16).padStart(2, "0")).join("")}`;
  }

  function buildPalette(by) {
    const bg = hexRgb(BACKGROUND);
    palette = new Uint32Array(256);
    dimmed = new Uint32Array(256);
    for (let i = 0; i < 256; i += 1) {
      const rgb = hexRgb(i === NONE ? NONE_COLOR : classColor(i, by));
      palette[i] = packed(rgb);
      dimmed[i] = packed(rgb.map((c, k) => Math.round(bg[k] * 0.7 + c * 0.3)));
    }
  }

  // -- geometry ---------------------------------------------------------------------------

  function fit() {
    const spanX = Math.max(bounds[2] - bounds[0], 1e-9);
    const spanY = Math.max(bounds[3] - bounds[1], 1e-9);
    view.cx = (bounds[0] + bounds[2]) / 2;
    view.cy = (bounds[1] + bounds[3]) / 2;
    view.scale = 0.92 * Math.min(cssW / spanX, cssH / spanY);
  }

  function toScreen(i) {
    return [(xs[i] - view.cx) * view.scale + cssW / 2, cssH / 2 - (ys[i] - view.cy) * view.scale];
  }

  function toWorld(px, py) {
    return [view.cx + (px - cssW / 2) / view.scale, view.cy - (py - cssH / 2) / view.scale];
  }

  function resize() {
    const rect = stage.getBoundingClientRect();
    dpr = window.devicePixelRatio || 1;
    const first = cssW <= 1;
    cssW = Math.max(1, Math.round(rect.width));
    cssH = Math.max(1, Math.round(rect.height));
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
    image = ctx.createImageData(canvas.width, canvas.height);
    pixels = new Uint32Array(image.data.buffer);
    if (first && n) fit();
  }

  // A uniform grid over the map's bounds (counting sort of the points into cells).
  function buildIndex() {
    const cells = GRID * GRID;
    const counts = new Int32Array(cells + 1);
    const cellOf = new Int32Array(n);
    const sx = GRID / Math.max(bounds[2] - bounds[0], 1e-9);
    const sy = GRID / Math.max(bounds[3] - bounds[1], 1e-9);
    for (let i = 0; i < n; i += 1) {
      const cx = Math.min(GRID - 1, Math.max(0, Math.floor((xs[i] - bounds[0]) * sx)));
      const cy = Math.min(GRID - 1, Math.max(0, Math.floor((ys[i] - bounds[1]) * sy)));
      cellOf[i] = cy * GRID + cx;
      counts[cellOf[i] + 1] += 1;
    }
    for (let c = 0; c < cells; c += 1) counts[c + 1] += counts[c];
    cellStart = counts.slice();
    cellItems = new Int32Array(n);
    const fill = counts.slice(0, cells);
    for (let i = 0; i < n; i += 1) cellItems[fill[cellOf[i]]++] = i;
  }

  function nearest(px, py) {
    const [wx, wy] = toWorld(px, py);
    const r = HOVER_PX / view.scale;
    const sx = GRID / Math.max(bounds[2] - bounds[0], 1e-9);
    const sy = GRID / Math.max(bounds[3] - bounds[1], 1e-9);
    const x0 = Math.max(0, Math.floor((wx - r - bounds[0]) * sx));
    const x1 = Math.min(GRID - 1, Math.floor((wx + r - bounds[0]) * sx));
    const y0 = Math.max(0, Math.floor((wy - r - bounds[1]) * sy));
    const y1 = Math.min(GRID - 1, Math.floor((wy + r - bounds[1]) * sy));
    if (x1 < x0 || y1 < y0 || (x1 - x0 + 1) * (y1 - y0 + 1) > 4096) return -1;
    let best = -1;
    let bestD = HOVER_PX * HOVER_PX;
    for (let cy = y0; cy <= y1; cy += 1) {
      for (let cx = x0; cx <= x1; cx += 1) {
        const c = cy * GRID + cx;
        for (let k = cellStart[c]; k < cellStart[c + 1]; k += 1) {
          const i = cellItems[k];
          const [sxp, syp] = toScreen(i);
          const d = (sxp - px) ** 2 + (syp - py) ** 2;
          if (d <= bestD) { bestD = d; best = i; }
        }
      }
    }
    return best;
  }

  // -- drawing ----------------------------------------------------------------------------

  function rebuildOrder() {
    const rank = (i) => (selected[i] ? 2 : 0) + (codes[i] !== NONE ? 1 : 0);
    const counts = new Int32Array(5);
    for (let i = 0; i < n; i += 1) counts[rank(i) + 1] += 1;
    for (let r = 0; r < 4; r += 1) counts[r + 1] += counts[r];
    order = new Int32Array(n);
    for (let i = 0; i < n; i += 1) order[counts[rank(i)]++] = i;
  }

  function draw() {
    if (!image) return;
    const W = canvas.width;
    const H = canvas.height;
    pixels.fill(packed(hexRgb(BACKGROUND)));
    const s = view.scale * dpr;
    const ox = W / 2 - view.cx * s;
    const oy = H / 2 + view.cy * s;
    const size = Math.max(2, Math.round(2.5 * dpr));
    const half = size >> 1;
    const dim = nSelected > 0;
    for (let k = 0; k < n; k += 1) {
      const i = order[k];
      const px = Math.round(xs[i] * s + ox) - half;
      const py = Math.round(oy - ys[i] * s) - half;
      if (px < 0 || py < 0 || px + size > W || py + size > H) continue;
      const color = dim && !selected[i] ? dimmed[codes[i]] : palette[codes[i]];
      let at = py * W + px;
      for (let dy = 0; dy < size; dy += 1, at += W) {
        for (let dx = 0; dx < size; dx += 1) pixels[at + dx] = color;
      }
    }
    ctx.putImageData(image, 0, 0);
    ctx.save();
    ctx.scale(dpr, dpr);
    if (hovered >= 0) {
      const [hx, hy] = toScreen(hovered);
      ctx.strokeStyle = "#1d2330";
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.arc(hx, hy, 5, 0, 2 * Math.PI);
      ctx.stroke();
    }
    if (lasso && lasso.length > 1) {
      ctx.strokeStyle = "#1f4f8f";
      ctx.fillStyle = "rgba(31, 79, 143, 0.08)";
      ctx.lineWidth = 1.5;
      ctx.setLineDash([5, 4]);
      ctx.beginPath();
      ctx.moveTo(lasso[0][0], lasso[0][1]);
      for (const [x, y] of lasso) ctx.lineTo(x, y);
      ctx.closePath();
      ctx.fill();
      ctx.stroke();
    }
    ctx.restore();
    if (!drawn && n > 0) {
      drawn = true;
      // Time from navigation start to the first painted frame of points (benchmarks, tests).
      canvas.dataset.drawnMs = String(Math.round(performance.now()));
      canvas.dataset.points = String(n);
    }
  }

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => { scheduled = false; draw(); });
  }

  // -- loading ----------------------------------------------------------------------------

  async function fetchError(response) {
    const body = await response.json().catch(() => ({}));
    return new Error(body.error || `HTTP ${response.status}`);
  }

  async function loadPoints() {
    const response = await fetch(root.dataset.pointsUrl, { credentials: "same-origin" });
    if (!response.ok) throw await fetchError(response);
    const buffer = await response.arrayBuffer();
    const head = new DataView(buffer, 0, 24);
    n = head.getUint32(0, true);
    const width = head.getUint32(4, true);
    bounds = [0, 1, 2, 3].map((k) => head.getFloat32(8 + 4 * k, true));
    xs = new Float32Array(buffer, 24, n);
    ys = new Float32Array(buffer, 24 + 4 * n, n);
    ids = width === 8 ? new Float64Array(buffer, 24 + 8 * n, n) : new Uint32Array(buffer, 24 + 8 * n, n);
    codes = new Uint8Array(n).fill(NONE);
    selected = new Uint8Array(n);
  }

  function colorQuery() {
    const by = bySelect.value;
    const params = new URLSearchParams({ by });
    if ((by === "label" || by === "prediction") && layerSelect.value) params.set("layer", layerSelect.value);
    return params;
  }

  async function fetchColors() {
    const params = colorQuery();
    const out = await assay.api(`${root.dataset.colorsUrl}?${params}`);
    const raw = atob(out.codes);
    const next = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i += 1) next[i] = raw.charCodeAt(i);
    return { out, next, key: `${params.get("by")}:${params.get("layer") || ""}` };
  }

  function applyColors({ out, next, key }) {
    if (next.length !== n) throw new Error("the colors do not match the points; reload the page");
    codes = next;
    legend = out.legend;
    buildPalette(out.by);
    rebuildOrder();
    renderLegend(out);
    root.dataset.colored = key;
    schedule();
  }

  function renderLegend(out) {
    const counts = new Int32Array(256);
    for (let i = 0; i < n; i += 1) counts[codes[i]] += 1;
    legendTitle.textContent = out.layer ? `${out.by}: ${out.layer}` : out.by;
    const rows = [];
    legend.forEach((name, code) => {
      if (counts[code] === 0 && legend.length > 12) return;
      rows.push([name, classColor(code, out.by), counts[code]]);
    });
    if (counts[NONE]) rows.push(["(none)", NONE_COLOR, counts[NONE]]);
    legendList.replaceChildren(...rows.map(([name, color, count]) => {
      const swatch = assay.el("span", { class: "swatch" });
      swatch.style.backgroundColor = color;
      return assay.el("li", {}, swatch, assay.el("span", { class: "name", title: name }, name),
        assay.el("span", { class: "count" }, assay.formatNumber(count)));
    }));
  }

  async function recolor() {
    status.className = "loading";
    status.textContent = "Coloring…";
    try {
      applyColors(await fetchColors());
      status.className = "";
      status.textContent = `${assay.formatNumber(n)} points`;
    } catch (error) {
      status.className = "error";
      status.textContent = `Could not color the map: ${error.message}`;
    }
  }

  function syncLayerChoices() {
    const by = bySelect.value;
    layerField.hidden = !(by === "label" || by === "prediction");
    const options = Array.from(layerSelect.options);
    for (const option of options) option.hidden = by === "prediction" && option.dataset.kind !== "model";
    const wanted = by === "prediction" ? root.dataset.predictionLayer : root.dataset.labelLayer;
    const current = layerSelect.selectedOptions[0];
    if (wanted && (!current || current.hidden || by !== layerSelect.dataset.by)) layerSelect.value = wanted;
    layerSelect.dataset.by = by;
  }

  // -- selection --------------------------------------------------------------------------

  function selectPolygon(polygon) {
    const world = polygon.map(([x, y]) => toWorld(x, y));
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const [x, y] of world) {
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
    selected = new Uint8Array(n);
    nSelected = 0;
    const m = world.length;
    for (let i = 0; i < n; i += 1) {
      const px = xs[i], py = ys[i];
      if (px < x0 || px > x1 || py < y0 || py > y1) continue;
      let inside = false;
      for (let a = 0, b = m - 1; a < m; b = a, a += 1) {
        const [ax, ay] = world[a];
        const [bx, by] = world[b];
        if ((ay > py) !== (by > py) && px < ((bx - ax) * (py - ay)) / (by - ay) + ax) inside = !inside;
      }
      if (inside) { selected[i] = 1; nSelected += 1; }
    }
    showSelection();
  }

  function selectedIds() {
    const out = [];
    for (let i = 0; i < n; i += 1) if (selected[i]) out.push(Number(ids[i]));
    return out;
  }

  function showSelection() {
    rebuildOrder();
    canvas.dataset.selected = String(nSelected);
    panel.hidden = nSelected === 0;
    selectedText.textContent = `${assay.formatNumber(nSelected)} item${nSelected === 1 ? "" : "s"} selected`;
    selectionStatus.textContent = "";
    selectionStatus.className = "";
    schedule();
  }

  async function saveSelection() {
    return assay.api(root.dataset.selectionsUrl, { method: "POST", json: { item_ids: selectedIds() } });
  }

  document.getElementById("map-open-grid").addEventListener("click", async (event) => {
    event.target.disabled = true;
    selectionStatus.className = "";
    selectionStatus.textContent = "Saving the selection…";
    try {
      const out = await saveSelection();
      window.location.href = out.grid_url;
    } catch (error) {
      event.target.disabled = false;
      selectionStatus.className = "error";
      selectionStatus.textContent = `Could not save the selection: ${error.message}`;
    }
  });

  document.getElementById("map-clear").addEventListener("click", () => {
    selected = new Uint8Array(n);
    nSelected = 0;
    showSelection();
  });

  if (labelForm) {
    labelForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const layer = document.getElementById("map-label-layer").value;
      const label = document.getElementById("map-label-class").value;
      const apply = document.getElementById("map-label-apply");
      const items = selectedIds();
      if (!items.length) return;
      if (!layer || !label) { // nothing is chosen for the user: a label never lands by default
        const missing = [!label && "class", !layer && "layer"].filter(Boolean).join(" and the ");
        selectionStatus.className = "error";
        selectionStatus.textContent = `Choose the ${missing} to label the selection with; nothing was written.`;
        return;
      }
      apply.disabled = true;
      selectionStatus.className = "";
      selectionStatus.textContent = `Labeling ${assay.formatNumber(items.length)} items…`;
      try {
        let body = { layer, label, items };
        if (items.length > MAX_BULK) {
          const saved = await saveSelection();
          body = { layer, label, filter: `selection=${saved.id}` };
        }
        const out = await assay.api(root.dataset.labelsUrl, { method: "POST", json: body });
        selectionStatus.className = "ok";
        selectionStatus.textContent = `Labeled ${assay.formatNumber(out.items)} items as ${label} in ${layer}` +
          ` (${out.written} written, ${out.unchanged} unchanged).`;
        if (bySelect.value === "label" && layerSelect.value === layer) recolor();
      } catch (error) {
        selectionStatus.className = "error";
        selectionStatus.textContent = `Could not label: ${error.message}`;
      } finally {
        apply.disabled = false;
      }
    });
  }

  // -- interaction ------------------------------------------------------------------------

  function local(event) {
    const rect = canvas.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  }

  function setLassoMode(on) {
    lassoMode = on;
    lassoButton.setAttribute("aria-pressed", String(on));
    canvas.classList.toggle("lasso", on);
  }

  // The points carry ids; people see keys: a hovered item's key is asked for once.
  const keys = new Map(); // item id -> key (null while asked)
  function keyOf(i, x, y) {
    const id = Number(ids[i]);
    if (!keys.has(id)) {
      keys.set(id, null);
      assay.api(`${root.dataset.itemApi}${id}`)
        .then((out) => { keys.set(id, out.item.key); if (hovered === i) showTip(i, x, y); })
        .catch(() => keys.delete(id));
    }
    return keys.get(id);
  }

  async function openItem(id) {
    let key = keys.get(id);
    if (!key) key = (await assay.api(`${root.dataset.itemApi}${id}`)).item.key;
    window.location.href = `${root.dataset.itemUrl}${encodeURIComponent(key)}`;
  }

  function showTip(i, x, y) {
    if (i < 0) { tip.hidden = true; return; }
    const name = codes[i] === NONE ? "—" : legend[codes[i]];
    tip.textContent = `item ${keyOf(i, x, y) ?? "…"} · ${bySelect.value}: ${name ?? "—"}`;
    tip.hidden = false;
    tip.style.left = `${Math.min(x + 12, cssW - tip.offsetWidth - 4)}px`;
    tip.style.top = `${Math.max(4, y - 28)}px`;
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || !n) return;
    const [x, y] = local(event);
    canvas.setPointerCapture(event.pointerId);
    press = { x, y, cx: view.cx, cy: view.cy, moved: false, lasso: lassoMode || event.shiftKey };
    if (press.lasso) lasso = [[x, y]];
    tip.hidden = true;
  });

  canvas.addEventListener("pointermove", (event) => {
    const [x, y] = local(event);
    if (press) {
      if (Math.hypot(x - press.x, y - press.y) >= CLICK_PX) press.moved = true;
      if (press.lasso) {
        const last = lasso[lasso.length - 1];
        if (lasso.length < MAX_LASSO && Math.hypot(x - last[0], y - last[1]) >= 2) lasso.push([x, y]);
      } else if (press.moved) {
        canvas.classList.add("dragging");
        view.cx = press.cx - (x - press.x) / view.scale;
        view.cy = press.cy + (y - press.y) / view.scale;
      }
      schedule();
      return;
    }
    const found = nearest(x, y);
    canvas.classList.toggle("over", found >= 0 && !lassoMode);
    if (found !== hovered) { hovered = found; schedule(); }
    showTip(found, x, y);
  });

  canvas.addEventListener("pointerup", (event) => {
    if (!press) return;
    const [x, y] = local(event);
    const done = press;
    press = null;
    canvas.classList.remove("dragging");
    if (done.lasso) {
      const polygon = lasso;
      lasso = null;
      if (polygon.length >= 3 && done.moved) selectPolygon(polygon);
      else schedule();
      return;
    }
    if (!done.moved) {
      const i = nearest(x, y);
      if (i >= 0) openItem(Number(ids[i])).catch((error) => { selectionStatus.textContent = `Could not open the item: ${error.message}`; });
    }
  });

  canvas.addEventListener("pointerleave", () => {
    tip.hidden = true;
    if (hovered >= 0 && !press) { hovered = -1; schedule(); }
  });

  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const [x, y] = local(event);
    const [wx, wy] = toWorld(x, y);
    const factor = Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015));
    view.scale = Math.min(1e7, Math.max(1e-7, view.scale * factor));
    view.cx = wx - (x - cssW / 2) / view.scale;
    view.cy = wy + (y - cssH / 2) / view.scale;
    hovered = -1;
    tip.hidden = true;
    schedule();
  }, { passive: false });

  lassoButton.addEventListener("click", () => setLassoMode(!lassoMode));
  document.getElementById("map-reset").addEventListener("click", () => { fit(); schedule(); });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && lassoMode) setLassoMode(false);
  });
  bySelect.addEventListener("change", () => { syncLayerChoices(); recolor(); });
  layerSelect.addEventListener("change", recolor);
  new ResizeObserver(() => { resize(); schedule(); }).observe(stage);

  // -- start ------------------------------------------------------------------------------

  (async () => {
    syncLayerChoices();
    buildPalette("label");
    const colors = fetchColors().catch((error) => error);
    try {
      await loadPoints();
    } catch (error) {
      status.className = "error";
      status.textContent = `Could not load the map: ${error.message}`;
      return;
    }
    resize();
    fit();
    rebuildOrder();
    const got = await colors;
    if (got instanceof Error) {
      status.className = "error";
      status.textContent = `Could not color the map: ${got.message}`;
    } else {
      applyColors(got);
      status.className = "";
      status.textContent = `${assay.formatNumber(n)} points`;
    }
    draw();
    buildIndex();
  })();
})();

// "Compute map": start a background job and follow it until the map is ready.
function setupJobs() {
  const box = document.getElementById("map-jobs");
  const button = document.getElementById("map-compute");
  if (!box || !button) return;
  const bar = document.getElementById("map-progress");
  const message = document.getElementById("map-job-message");

  function report(job) {
    bar.hidden = false;
    if (job.total) {
      bar.max = job.total;
      bar.value = Math.min(job.done || 0, job.total);
    } else {
      bar.removeAttribute("value");
    }
    message.className = "";
    message.textContent = job.message || job.state;
  }

  async function follow(id) {
    for (;;) {
      const out = await assay.api(`${box.dataset.jobUrl}${encodeURIComponent(id)}`);
      const job = out.job || out;
      report(job);
      if (job.state === "done") { window.location.reload(); return; }
      if (job.state === "failed" || job.state === "cancelled") {
        message.className = "error";
        message.textContent = `The map was not computed (${job.state}): ${job.error || job.message || ""}`;
        button.disabled = false;
        bar.hidden = true;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    message.className = "";
    message.textContent = "Starting…";
    try {
      const out = await assay.api(box.dataset.jobsUrl, {
        method: "POST", json: { kind: "map", params: { featurizer: "auto" } },
      });
      const job = out.job || out;
      report(job);
      await follow(job.id);
    } catch (error) {
      button.disabled = false;
      bar.hidden = true;
      message.className = "error";
      message.textContent = error.status === 404
        ? "Background jobs are not available on this server: run `assay map` instead."
        : `Could not compute the map: ${error.message}`;
    }
  });
}
