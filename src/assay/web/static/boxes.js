// The box editor: draw, move, resize, delete and reclassify the boxes of one layer over an
// image, with any other box layers (people's, a model's predictions) shown read-only on top.
//
// A small SVG module of our own (no build step, no CDN): the SVG's viewBox is the image in
// pixels, so every coordinate here is an image pixel and the browser scales the drawing with
// the image. Mouse: drag on empty space draws a box (class = the current class), click selects,
// drag moves, the handles resize. Keys: a class key sets the current class and the selected
// box's class, Delete/Backspace removes the selected box, Esc deselects, Ctrl+Z / Ctrl+Shift+Z
// (or Ctrl+Y) undo and redo, Ctrl+S or Enter saves. The keys a page keeps (the queue's S and
// U, the item page's arrows) pick no class: the server leaves them out of the class keys
// (assay.labels.hotkeys).
//
// Saving sends the whole set with the label id it was loaded from (``base``); if someone
// saved since, the server answers 409 and the editor says so, keeping the unsaved boxes on
// screen (nothing is overwritten, nothing is lost) and offering to reload.
//
// Used by the item page (#box-editor) and, for box layers, the labeling queue (#box-queue).
"use strict";

const assayBoxes = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  const MIN_DRAG = 3; // screen pixels: shorter drags are clicks, not boxes or moves
  const HANDLE = 9; // screen pixels
  const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];

  function svg(tag, attrs = {}) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
    return node;
  }

  const round = (v) => Math.round(v * 100) / 100;

  // Colours go through the CSSOM: the pages' CSP refuses style attributes.
  function swatch(colour) {
    const node = assay.el("span", { class: "swatch" });
    node.style.background = colour;
    return node;
  }
  const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
  const copy = (boxes) => boxes.map((b) => ({ ...b }));

  const typing = assay.typing;

  function newKey() {
    return `box-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  }

  // One item's editor. ``data`` is the answer of GET .../items/{id}/boxes (or the same JSON
  // embedded in the page); ``host`` holds the toolbar, stage and layer panel elements.
  class BoxEditor {
    constructor(host, data, options = {}) {
      this.host = host;
      this.options = options;
      this.stage = host.querySelector(".be-stage");
      this.tip = host.querySelector(".be-tip") || this.stage.appendChild(assay.el("div", { class: "be-tip", hidden: "" }));
      this.classSelect = host.querySelector(".be-class");
      this.layerSelect = host.querySelector(".be-layer");
      this.status = host.querySelector(".be-status");
      this.message = host.querySelector(".be-message");
      this.panel = options.panel || host.querySelector(".be-layers");
      this.hidden = new Set();
      this.thresholds = {};
      this.selected = null;
      this.drag = null;
      this.saving = false;
      this.load(data, options.layer);
      this.bind();
    }

    // -- state -------------------------------------------------------------------------------

    load(data, layer) {
      this.data = data;
      this.width = data.item.width;
      this.height = data.item.height;
      this.layers = data.layers;
      const writable = this.layers.filter((l) => l.can_write);
      const wanted = layer !== undefined ? layer : (this.layerSelect ? this.layerSelect.value : null);
      const chosen = writable.find((l) => l.layer === wanted) || (layer === undefined && writable[0]) || null;
      this.edit = chosen ? chosen.layer : null;
      this.resetEdits();
      this.buildStage();
      this.buildControls();
      this.render();
    }

    entry(name) {
      return this.layers.find((l) => l.layer === name);
    }

    resetEdits() {
      const entry = this.edit ? this.entry(this.edit) : null;
      this.base = entry ? entry.label_id : 0;
      this.boxes = entry ? copy(entry.boxes) : [];
      this.saved = JSON.stringify(this.boxes);
      this.undoStack = [];
      this.redoStack = [];
      this.selected = null;
    }

    get dirty() {
      return JSON.stringify(this.boxes) !== this.saved;
    }

    change(apply) {
      const before = JSON.stringify(this.boxes);
      apply();
      if (JSON.stringify(this.boxes) === before) return;
      this.undoStack.push(before);
      if (this.undoStack.length > 500) this.undoStack.shift();
      this.redoStack = [];
      this.render();
    }

    undo() {
      if (!this.undoStack.length) return this.say("Nothing to undo.");
      this.redoStack.push(JSON.stringify(this.boxes));
      this.boxes = JSON.parse(this.undoStack.pop());
      if (!this.boxes.some((b) => b.id === this.selected)) this.selected = null;
      this.render();
      this.say("Undone.");
    }

    redo() {
      if (!this.redoStack.length) return this.say("Nothing to redo.");
      this.undoStack.push(JSON.stringify(this.boxes));
      this.boxes = JSON.parse(this.redoStack.pop());
      if (!this.boxes.some((b) => b.id === this.selected)) this.selected = null;
      this.render();
      this.say("Redone.");
    }

    nextId() {
      let top = 0;
      const all = [this.boxes, ...this.undoStack.map((s) => JSON.parse(s))];
      for (const set of all) for (const b of set) top = Math.max(top, b.id || 0);
      return top + 1;
    }

    get currentClass() {
      return this.classSelect ? this.classSelect.value : this.data.classes[0];
    }

    keysOf(layer) {
      return (this.data.keys || {})[layer] || {};
    }

    classOfKey(key) {
      const own = this.keysOf(this.edit);
      return Object.keys(own).find((name) => own[name] === key);
    }

    // -- drawing -----------------------------------------------------------------------------

    buildStage() {
      const { width, height } = this;
      this.stage.style.setProperty("--aspect", `${width} / ${height}`);
      let img = this.stage.querySelector("img.be-image");
      if (!img) {
        img = assay.el("img", { class: "be-image", alt: "" });
        this.stage.prepend(img);
      }
      if (img.getAttribute("src") !== this.data.item.media_url) img.src = this.data.item.media_url;
      img.alt = `item ${this.data.item.key}`;
      this.img = img;
      if (this.svg) this.svg.remove();
      this.svg = svg("svg", { class: "be-svg", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", "data-testid": "box-canvas" });
      this.overlayGroup = svg("g", { class: "be-overlays" });
      this.editGroup = svg("g", { class: "be-edit" });
      this.handleGroup = svg("g", { class: "be-handles" });
      this.draft = svg("rect", { class: "be-draft", visibility: "hidden" });
      this.svg.append(this.overlayGroup, this.editGroup, this.draft, this.handleGroup);
      this.stage.insertBefore(this.svg, this.tip);
      this.fit();
    }

    // Zoom to fit the stage's width and the window's height; upscaled small images keep
    // crisp pixels (whole multiples when they are upscaled at all).
    fit() {
      const room = Math.max(200, this.stage.parentElement.clientWidth || 600);
      const tall = Math.max(240, window.innerHeight * (this.options.heightShare || 0.72));
      let scale = Math.min(room / this.width, tall / this.height);
      if (scale > 1) scale = Math.max(1, Math.floor(scale));
      this.scale = scale;
      const w = Math.round(this.width * scale);
      const h = Math.round(this.height * scale);
      for (const node of [this.stage]) {
        node.style.width = `${w}px`;
        node.style.height = `${h}px`;
      }
      this.img.classList.toggle("crisp", scale >= 2);
      this.svg.style.setProperty("--u", String(1 / scale)); // one screen pixel in image pixels
      this.render();
    }

    unit() {
      return 1 / (this.scale || 1);
    }

    boxNode(box, colour, { editable = false, layer = "" } = {}) {
      const u = this.unit();
      const g = svg("g", { class: editable ? "be-box be-editable" : "be-box", "data-id": box.id, "data-layer": layer, "data-class": box.class });
      g.style.setProperty("--c", colour);
      if (box.id === this.selected && editable) g.classList.add("be-selected");
      g.append(svg("rect", { class: "be-rect", x: box.x, y: box.y, width: box.w, height: box.h }));
      const text = box.score !== undefined ? `${box.class} ${box.score.toFixed(2)}` : box.class;
      const fs = 11 * u;
      const tagW = (text.length * 6.6 + 6) * u;
      const tagH = fs + 3 * u;
      // The edited layer's tag sits above its box, an overlay's below (so the two never hide
      // each other where boxes agree); inside the box where the image ends.
      let ty = editable ? box.y - tagH : box.y + box.h;
      if (ty < 0) ty = box.y;
      if (ty + tagH > this.height) ty = box.y + box.h - tagH;
      g.append(svg("rect", { class: "be-tag", x: box.x, y: ty, width: tagW, height: tagH }));
      const label = svg("text", { class: "be-tag-text", x: box.x + 3 * u, y: ty + fs, "font-size": fs });
      label.textContent = text;
      g.append(label);
      return g;
    }

    visibleBoxes(entry) {
      const t = this.thresholds[entry.layer];
      return entry.boxes.filter((b) => !(entry.scored && t !== undefined && b.score !== undefined && b.score < t));
    }

    render() {
      if (!this.svg) return;
      this.overlayGroup.replaceChildren();
      for (const entry of this.layers) {
        if (entry.layer === this.edit || this.hidden.has(entry.layer)) continue;
        const g = svg("g", { class: "be-layer", "data-layer": entry.layer });
        for (const b of this.visibleBoxes(entry)) g.append(this.boxNode(b, entry.colour, { layer: entry.layer }));
        this.overlayGroup.append(g);
      }
      this.editGroup.replaceChildren();
      const editEntry = this.edit ? this.entry(this.edit) : null;
      if (editEntry) {
        // The selected box last, so it sits above the others.
        const order = [...this.boxes].sort((a, b) => (a.id === this.selected) - (b.id === this.selected));
        for (const b of order) this.editGroup.append(this.boxNode(b, editEntry.colour, { editable: true, layer: this.edit }));
      }
      this.handleGroup.replaceChildren();
      const sel = this.boxes.find((b) => b.id === this.selected);
      if (sel) {
        const s = HANDLE * this.unit();
        for (const h of HANDLES) {
          const [hx, hy] = this.handlePoint(sel, h);
          this.handleGroup.append(svg("rect", { class: `be-handle be-h-${h}`, "data-handle": h, x: hx - s / 2, y: hy - s / 2, width: s, height: s }));
        }
      }
      this.updateCounts();
      this.updateState();
    }

    handlePoint(b, h) {
      const x = h.includes("w") ? b.x : h.includes("e") ? b.x + b.w : b.x + b.w / 2;
      const y = h.includes("n") ? b.y : h.includes("s") ? b.y + b.h : b.y + b.h / 2;
      return [x, y];
    }

    updateState() {
      const host = this.host;
      host.dataset.boxes = String(this.boxes.length);
      host.dataset.dirty = this.dirty ? "1" : "";
      host.dataset.selected = this.selected === null ? "" : String(this.selected);
      host.dataset.editing = this.edit || "";
      const save = host.querySelector(".be-save");
      if (save) save.disabled = !this.edit || this.saving;
      const undo = host.querySelector(".be-undo");
      if (undo) undo.disabled = !this.undoStack.length;
      const redo = host.querySelector(".be-redo");
      if (redo) redo.disabled = !this.redoStack.length;
      const del = host.querySelector(".be-delete");
      if (del) del.disabled = this.selected === null;
      const state = host.querySelector(".be-dirty");
      if (state) state.textContent = !this.edit ? "view only" : this.dirty ? "unsaved changes" : "saved";
      if (state) state.classList.toggle("unsaved", this.dirty);
    }

    // -- the controls: layer to edit, class, and the layers panel ------------------------------

    buildControls() {
      if (this.layerSelect) {
        const writable = this.layers.filter((l) => l.can_write);
        this.layerSelect.replaceChildren(
          ...writable.map((l) => assay.el("option", { value: l.layer }, l.owner ? `${l.layer} · ${l.owner}` : l.layer)),
          assay.el("option", { value: "" }, "(view only)"),
        );
        this.layerSelect.value = this.edit || "";
      }
      this.showClassKeys();
      this.buildPanel();
    }

    showClassKeys() {
      if (!this.classSelect) return;
      const own = this.keysOf(this.edit);
      const current = this.classSelect.value;
      this.classSelect.replaceChildren(...this.data.classes.map((c) =>
        assay.el("option", { value: c }, own[c] ? `${c}  [${own[c]}]` : c)));
      if (this.data.classes.includes(current)) this.classSelect.value = current;
    }

    buildPanel() {
      if (!this.panel) return;
      const list = this.panel.querySelector(".be-layer-list") || this.panel;
      const rows = [];
      for (const entry of this.layers) {
        const editing = entry.layer === this.edit;
        const check = assay.el("input", { type: "checkbox", class: "be-show", "aria-label": `show ${entry.layer}` });
        check.checked = editing || !this.hidden.has(entry.layer);
        check.disabled = editing;
        check.addEventListener("change", () => {
          if (check.checked) this.hidden.delete(entry.layer); else this.hidden.add(entry.layer);
          this.render();
        });
        const kind = editing ? "editing" : entry.kind === "model" ? "predictions" : entry.kind;
        const row = assay.el("li", { class: `be-layer-row${editing ? " editing" : ""}`, "data-layer": entry.layer },
          assay.el("label", { class: "be-layer-name" }, check,
            swatch(entry.colour),
            assay.el("span", { class: "name" }, entry.layer),
            assay.el("span", { class: `be-kind be-kind-${kind}` }, kind)),
          assay.el("span", { class: "be-count" }, ""));
        if (entry.scored) {
          if (this.thresholds[entry.layer] === undefined) this.thresholds[entry.layer] = 0.5;
          const slider = assay.el("input", { type: "range", min: "0", max: "1", step: "0.05", class: "be-threshold", "aria-label": `score threshold of ${entry.layer}` });
          slider.value = String(this.thresholds[entry.layer]);
          const shown = assay.el("output", { class: "be-threshold-value" }, Number(slider.value).toFixed(2));
          slider.addEventListener("input", () => {
            this.thresholds[entry.layer] = Number(slider.value);
            shown.textContent = Number(slider.value).toFixed(2);
            this.render();
          });
          row.append(assay.el("label", { class: "be-threshold-row" }, "score ≥ ", slider, shown));
        }
        rows.push(row);
      }
      list.replaceChildren(...rows);
    }

    updateCounts() {
      if (!this.panel) return;
      for (const row of this.panel.querySelectorAll(".be-layer-row")) {
        const entry = this.entry(row.dataset.layer);
        const count = row.querySelector(".be-count");
        if (!entry || !count) continue; // the server's rows, before the panel is built
        const n = entry.layer === this.edit ? this.boxes.length : entry.boxes.length;
        let text = `${n} box${n === 1 ? "" : "es"}`;
        if (entry.scored) text = `${this.visibleBoxes(entry).length} of ${n} shown`;
        if (!entry.labeled && entry.layer !== this.edit) text = "not annotated";
        count.textContent = text;
        row.dataset.shown = entry.layer === this.edit ? String(n) : String(this.visibleBoxes(entry).length);
      }
    }

    say(text, kind = "") {
      if (!this.status) return;
      this.status.textContent = text;
      this.status.className = `be-status ${kind}`;
    }

    problem(text, reload = false) {
      if (!this.message) return this.say(text, "error");
      this.message.replaceChildren(assay.el("span", {}, text));
      if (reload) {
        const button = assay.el("button", { type: "button", class: "be-reload" }, "Reload their version");
        button.addEventListener("click", () => this.reload());
        this.message.append(" ", button);
      }
      this.message.hidden = false;
    }

    clearProblem() {
      if (this.message) this.message.hidden = true;
    }

    // -- pointer -----------------------------------------------------------------------------

    point(event) {
      const r = this.svg.getBoundingClientRect();
      return {
        x: clamp((event.clientX - r.left) / r.width * this.width, 0, this.width),
        y: clamp((event.clientY - r.top) / r.height * this.height, 0, this.height),
      };
    }

    hitEdited(p) {
      // The selected box first, then the smallest box under the point (nested boxes stay reachable).
      const under = this.boxes.filter((b) => p.x >= b.x && p.x <= b.x + b.w && p.y >= b.y && p.y <= b.y + b.h);
      const sel = under.find((b) => b.id === this.selected);
      if (sel) return sel;
      under.sort((a, b) => a.w * a.h - b.w * b.h);
      return under[0] || null;
    }

    hitAny(p) {
      const found = [];
      const add = (entry, boxes) => {
        for (const b of boxes) if (p.x >= b.x && p.x <= b.x + b.w && p.y >= b.y && p.y <= b.y + b.h) found.push({ entry, b });
      };
      for (const entry of this.layers) {
        if (entry.layer === this.edit) add(entry, this.boxes);
        else if (!this.hidden.has(entry.layer)) add(entry, this.visibleBoxes(entry));
      }
      found.sort((a, b) => a.b.w * a.b.h - b.b.w * b.b.h);
      return found[0] || null;
    }

    onDown(event) {
      if (event.button !== 0 || !this.edit) return;
      event.preventDefault();
      this.clearProblem();
      const p = this.point(event);
      const handle = event.target.dataset && event.target.dataset.handle;
      const sel = this.boxes.find((b) => b.id === this.selected);
      let mode = "draw";
      let box = null;
      if (handle && sel) {
        mode = "resize";
        box = sel;
      } else {
        box = this.hitEdited(p);
        if (box) {
          mode = "move";
          this.selected = box.id;
        } else {
          this.selected = null;
        }
      }
      this.drag = { mode, handle, start: p, sx: event.clientX, sy: event.clientY, box: box ? { ...box } : null, far: false };
      this.svg.setPointerCapture(event.pointerId);
      this.render();
    }

    onMove(event) {
      const p = this.point(event);
      const d = this.drag;
      if (!d) return this.hover(event, p);
      if (!d.far && Math.hypot(event.clientX - d.sx, event.clientY - d.sy) < MIN_DRAG) return;
      d.far = true;
      this.tip.hidden = true;
      if (d.mode === "draw") {
        const r = this.rectFrom(d.start, p);
        for (const [k, v] of Object.entries({ x: r.x, y: r.y, width: r.w, height: r.h })) this.draft.setAttribute(k, v);
        this.draft.setAttribute("visibility", "visible");
        this.draft.style.setProperty("--c", this.entry(this.edit).colour);
        return;
      }
      const live = this.boxes.find((b) => b.id === d.box.id);
      if (!live) return;
      Object.assign(live, d.mode === "move" ? this.moved(d.box, p.x - d.start.x, p.y - d.start.y) : this.resized(d.box, d.handle, p));
      this.render();
    }

    onUp(event) {
      const d = this.drag;
      if (!d) return;
      this.drag = null;
      if (this.svg.hasPointerCapture(event.pointerId)) this.svg.releasePointerCapture(event.pointerId);
      this.draft.setAttribute("visibility", "hidden");
      if (d.mode === "draw") {
        if (!d.far) return this.render();
        const r = this.rectFrom(d.start, this.point(event));
        // Accidental drags (a few screen pixels) never make a box.
        if (r.w * this.scale < MIN_DRAG || r.h * this.scale < MIN_DRAG) return this.render();
        const box = { id: this.nextId(), class: this.currentClass, ...r };
        this.change(() => this.boxes.push(box));
        this.selected = box.id;
        this.say(`Drew box ${box.id} (${box.class}).`);
        return this.render();
      }
      const live = this.boxes.find((b) => b.id === d.box.id);
      if (!live) return;
      const after = { ...live };
      Object.assign(live, d.box); // back to the start, then one undoable change
      if (!d.far) return this.render();
      this.change(() => Object.assign(live, after));
      this.say(`${d.mode === "move" ? "Moved" : "Resized"} box ${live.id}.`);
    }

    rectFrom(a, b) {
      const x = round(Math.min(a.x, b.x));
      const y = round(Math.min(a.y, b.y));
      return { x, y, w: round(Math.max(a.x, b.x) - x), h: round(Math.max(a.y, b.y) - y) };
    }

    moved(b, dx, dy) {
      return { x: round(clamp(b.x + dx, 0, this.width - b.w)), y: round(clamp(b.y + dy, 0, this.height - b.h)) };
    }

    resized(b, h, p) {
      let x1 = b.x;
      let y1 = b.y;
      let x2 = b.x + b.w;
      let y2 = b.y + b.h;
      if (h.includes("w")) x1 = p.x;
      if (h.includes("e")) x2 = p.x;
      if (h.includes("n")) y1 = p.y;
      if (h.includes("s")) y2 = p.y;
      const min = this.unit(); // at least one screen pixel: a box never collapses to nothing
      const [lx, hx] = [Math.min(x1, x2), Math.max(x1, x2)];
      const [ly, hy] = [Math.min(y1, y2), Math.max(y1, y2)];
      const x = round(lx);
      const y = round(ly);
      return { x, y, w: round(Math.max(hx - lx, min)), h: round(Math.max(hy - ly, min)) };
    }

    hover(event, p) {
      const hit = this.hitAny(p);
      this.svg.classList.toggle("be-over-box", Boolean(hit && hit.entry.layer === this.edit));
      if (!hit) {
        this.tip.hidden = true;
        return;
      }
      const { entry, b } = hit;
      const score = b.score !== undefined ? ` · score ${b.score.toFixed(2)}` : "";
      this.tip.textContent = `${entry.layer} · ${b.class}${score}`;
      const r = this.stage.getBoundingClientRect();
      this.tip.style.left = `${event.clientX - r.left + 12}px`;
      this.tip.style.top = `${event.clientY - r.top + 12}px`;
      this.tip.hidden = false;
    }

    // -- keys and buttons ---------------------------------------------------------------------

    setClass(name) {
      if (!name) return;
      if (this.classSelect) this.classSelect.value = name;
      const sel = this.boxes.find((b) => b.id === this.selected);
      if (sel && sel.class !== name) {
        this.change(() => { sel.class = name; });
        this.say(`Box ${sel.id} is now ${name}.`);
      } else {
        this.say(`New boxes: ${name}.`);
      }
    }

    remove() {
      const sel = this.boxes.find((b) => b.id === this.selected);
      if (!sel) return;
      this.change(() => { this.boxes = this.boxes.filter((b) => b !== sel); });
      this.selected = null;
      this.render();
      this.say(`Deleted box ${sel.id}. Ctrl+Z brings it back.`);
    }

    // Returns true when the key was the editor's.
    key(event) {
      const ctrl = event.ctrlKey || event.metaKey;
      const k = event.key;
      if (ctrl && !event.altKey) {
        if (k === "z" || k === "Z") {
          if (event.shiftKey) this.redo(); else this.undo();
          return true;
        }
        if (k === "y" || k === "Y") { this.redo(); return true; }
        if (k === "s" || k === "S") { this.save(); return true; }
        return false;
      }
      if (event.altKey || !this.edit) return false;
      if (k === "Delete" || k === "Backspace") { this.remove(); return true; }
      if (k === "Escape") {
        if (this.drag) { this.drag = null; this.draft.setAttribute("visibility", "hidden"); }
        this.selected = null;
        this.render();
        return true;
      }
      if (k === "Enter") {
        if (event.target.closest && event.target.closest("button, a")) return false; // it presses them
        (this.options.onEnter || (() => this.save()))();
        return true;
      }
      const name = this.classOfKey(k);
      if (name !== undefined) { this.setClass(name); return true; }
      return false;
    }

    bind() {
      if (this.bound) return;
      this.bound = true;
      this.stage.addEventListener("pointerdown", (e) => this.svg.contains(e.target) && this.onDown(e));
      this.stage.addEventListener("pointermove", (e) => this.onMove(e));
      this.stage.addEventListener("pointerup", (e) => this.onUp(e));
      this.stage.addEventListener("pointercancel", (e) => this.onUp(e));
      this.stage.addEventListener("pointerleave", () => { if (!this.drag) this.tip.hidden = true; });
      // Capture phase: a key the editor takes never reaches the page's other handlers.
      window.addEventListener("keydown", (event) => {
        if (!this.active()) return;
        if (typing(event.target)) return;
        if (event.target.closest && event.target.closest("select") && !(event.ctrlKey || event.metaKey)) return;
        if (this.key(event)) {
          event.preventDefault();
          event.stopPropagation();
        }
      }, true);
      const on = (sel, fn) => {
        const node = this.host.querySelector(sel);
        if (node) node.addEventListener("click", fn);
      };
      on(".be-save", () => this.save());
      on(".be-undo", () => this.undo());
      on(".be-redo", () => this.redo());
      on(".be-delete", () => this.remove());
      if (this.classSelect) this.classSelect.addEventListener("change", () => { this.setClass(this.classSelect.value); this.classSelect.blur(); });
      if (this.layerSelect) {
        this.layerSelect.addEventListener("change", () => {
          if (this.dirty) {
            this.layerSelect.value = this.edit || "";
            this.problem("Save or undo your changes before editing another layer.");
            return;
          }
          this.edit = this.layerSelect.value || null;
          this.resetEdits();
          this.showClassKeys();
          this.buildPanel();
          this.render();
          this.layerSelect.blur();
        });
      }
      window.addEventListener("resize", () => this.fit());
      window.addEventListener("beforeunload", (event) => {
        if (this.dirty && !this.options.noUnloadGuard) { event.preventDefault(); event.returnValue = ""; }
      });
    }

    active() {
      return this.options.active ? this.options.active() : true;
    }

    // -- saving --------------------------------------------------------------------------------

    payload() {
      return this.boxes.map((b) => {
        const out = { id: b.id, class: b.class, x: b.x, y: b.y, w: b.w, h: b.h };
        if (b.score !== undefined) out.score = b.score;
        if (b.attrs !== undefined) out.attrs = b.attrs;
        return out;
      });
    }

    async save() {
      if (!this.edit || this.saving) return false;
      this.saving = true;
      this.updateState();
      this.clearProblem();
      this.say("Saving…");
      const body = { layer: this.edit, boxes: this.payload(), base: this.base, idempotency_key: newKey() };
      try {
        const out = await assay.api(this.data.save_url || this.options.saveUrl, { method: "POST", json: body });
        const entry = this.entry(this.edit);
        entry.boxes = out.boxes;
        entry.label_id = out.label_id;
        entry.labeled = true;
        this.base = out.label_id;
        this.boxes = copy(out.boxes);
        this.saved = JSON.stringify(this.boxes);
        this.say(`Saved ${out.boxes.length} box${out.boxes.length === 1 ? "" : "es"} in ${this.edit}.`, "ok");
        this.host.dataset.savedLabel = String(out.label_id);
        return true;
      } catch (error) {
        if (error.status === 409) {
          this.problem(`Not saved: ${error.message} Your unsaved boxes are still on screen.`, true);
          this.say("Conflict: not saved.", "error");
        } else {
          this.problem(`Not saved: ${error.message}`);
          this.say("Not saved.", "error");
        }
        return false;
      } finally {
        this.saving = false;
        this.render();
      }
    }

    async reload() {
      const url = this.data.boxes_url || this.options.boxesUrl;
      try {
        const fresh = await assay.api(url);
        fresh.save_url = this.data.save_url;
        fresh.boxes_url = this.data.boxes_url;
        this.load(fresh, this.edit);
        this.clearProblem();
        this.say("Reloaded: these are the boxes as saved now.", "ok");
      } catch (error) {
        this.problem(`Could not reload: ${error.message}`);
      }
    }
  }

  // The item page: the editor over the item's image, its data embedded in the page.
  function itemPage() {
    const host = document.getElementById("box-editor");
    if (!host) return null;
    const data = JSON.parse(document.getElementById("box-data").textContent);
    const editor = new BoxEditor(host, data, { panel: document.getElementById("box-layers") });
    window.assayBoxEditor = editor;
    return editor;
  }

  // The labeling queue for a box layer: each image boxed in the editor, Enter (or the button)
  // saves and shows the next, S skips. One request per image for its boxes in every layer.
  function queuePage() {
    const root = document.getElementById("box-queue");
    if (!root) return null;
    const layer = root.dataset.layer;
    return assay.editorQueue(root, {
      kind: "boxes",
      doneText: "Nothing left to box in this layer.",
      open(data, saveNext) {
        const editor = new BoxEditor(root, data, { layer, panel: document.getElementById("box-layers"), onEnter: saveNext, heightShare: 0.66, noUnloadGuard: true });
        window.assayBoxEditor = editor;
        return editor;
      },
      empty(message) {
        root.querySelector(".be-stage").replaceChildren(message);
        const toolbar = root.querySelector(".be-toolbar");
        if (toolbar) toolbar.hidden = true; // nothing to edit: no tools
      },
      ahead(items) { for (const it of items) if (it.media_url) new Image().src = it.media_url; }, // decode ahead
    });
  }

  document.addEventListener("DOMContentLoaded", () => { itemPage(); queuePage(); });
  if (document.readyState !== "loading") { itemPage(); queuePage(); }
  return { BoxEditor };
})();
