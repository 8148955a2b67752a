// The span editor: mark stretches of a text with classes (named entities and other span
// categories), with other span layers (other annotators', a model's predictions) shown
// read-only underneath.
//
// Offsets: the server counts Unicode code points (Python's string indices, as spaCy does);
// the browser's strings count UTF-16 units, so an emoji is two units and one code point.
// Every offset crosses that border here, in `cpOf` and `unitOf`, both ways; nothing else in
// this file sees a UTF-16 offset. A span never ends inside a surrogate pair or before a
// combining mark (the selection grows to the whole character).
//
// Mouse: select text to make a span of the current class (snapped to whole words; hold Alt
// for exact characters), click a span to select it (again: the span under it, when spans
// nest), × on its tag deletes it. Keys: a class key (the layer's, assay.labels.hotkeys) sets
// the current class and the selected span's class, Delete/Backspace deletes the selected
// span, Esc deselects, Ctrl+Z / Ctrl+Shift+Z (or Ctrl+Y) undo and redo, Enter or Ctrl+S saves
// (the queue: Enter saves and shows the next text, S skips).
//
// Drawing: the text is cut at every span edge into segments; each segment draws, as CSS
// backgrounds set through the CSSOM (the pages' CSP refuses style attributes), a tint of its
// innermost span's class and one underline per span covering it, one row per nesting level
// (a span's level is the lowest row free along its length), then the shown overlays' spans
// as dashed lines on rows of their own. Each span of the edited layer ends with a small tag
// naming its class.
//
// Saving sends the whole set with the label id it was loaded from (``base``); a stale one is
// a 409 and the editor says so, keeping the unsaved spans on screen.
"use strict";

const assaySpans = (() => {
  // The grid's highlight colours (static/spans.css [data-c]), by class index.
  const PALETTE = ["#2f6fd0", "#d2562a", "#1e8a5a", "#8a4fd0", "#c2418f", "#b58900", "#1b9aaa", "#6b7a1f", "#a0522d", "#55616f"];
  const ROW = 5; // pixels per underline row
  const WORD = /[\p{L}\p{N}\p{M}_]/u;
  const MARK = /\p{M}/u;

  const copy = (spans) => spans.map((s) => ({ start: s.start, end: s.end, class: s.class }));
  const order = (a, b) => a.start - b.start || b.end - a.end || (a.class < b.class ? -1 : a.class > b.class ? 1 : 0);

  const typing = assay.typing;

  function newKey() {
    return `spans-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  }

  function tint(colour, alpha) {
    const n = parseInt(colour.slice(1), 16);
    return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  // The code points of a text with their UTF-16 offsets: `units[i]` is where code point i
  // starts (units[n] = text.length), `points[u]` the code point a UTF-16 offset falls in
  // (the second half of a surrogate pair: -1, "inside a character").
  class Offsets {
    constructor(text) {
      this.text = text;
      this.chars = Array.from(text);
      this.units = new Array(this.chars.length + 1);
      this.points = new Int32Array(text.length + 1).fill(-1);
      let u = 0;
      this.chars.forEach((ch, i) => {
        this.units[i] = u;
        this.points[u] = i;
        u += ch.length;
      });
      this.units[this.chars.length] = u;
      this.points[u] = this.chars.length;
      this.length = this.chars.length;
    }

    // A UTF-16 offset as a code point offset; inside a pair: the pair's start (`up`: its end).
    cpOf(unit, up = false) {
      const p = this.points[unit];
      if (p >= 0) return p;
      return this.points[unit - 1] + (up ? 1 : 0);
    }

    unitOf(cp) {
      return this.units[cp];
    }

    slice(start, end) {
      return this.chars.slice(start, end).join("");
    }

    isWord(i) {
      return i >= 0 && i < this.length && WORD.test(this.chars[i]);
    }

    // [start, end) grown to whole characters: no combining mark left behind either edge.
    whole(start, end) {
      while (start > 0 && MARK.test(this.chars[start])) start -= 1;
      while (end < this.length && MARK.test(this.chars[end])) end += 1;
      return [start, end];
    }

    // [start, end) without spaces at its edges, grown to whole words.
    words(start, end) {
      while (start < end && /\s/u.test(this.chars[start])) start += 1;
      while (end > start && /\s/u.test(this.chars[end - 1])) end -= 1;
      if (start >= end) return [start, start];
      while (this.isWord(start - 1) && this.isWord(start)) start -= 1;
      while (this.isWord(end) && this.isWord(end - 1)) end += 1;
      return [start, end];
    }
  }

  // Rows for spans: each span gets the lowest row no span it overlaps holds.
  function levels(spans) {
    const rows = []; // per row, the end of its last span
    const out = new Map();
    for (const s of [...spans].sort(order)) {
      let r = rows.findIndex((end) => end <= s.start);
      if (r < 0) { r = rows.length; rows.push(0); }
      rows[r] = s.end;
      out.set(s, r);
    }
    return { of: out, count: rows.length };
  }

  class SpanEditor {
    constructor(host, data, options = {}) {
      this.host = host;
      this.options = options;
      this.textNode = host.querySelector(".sp-text");
      this.palette = host.querySelector(".sp-palette");
      this.layerSelect = host.querySelector(".sp-layer");
      this.status = host.querySelector(".sp-status");
      this.message = host.querySelector(".sp-message");
      this.panel = host.querySelector(".sp-layers");
      this.legend = host.querySelector(".sp-legend");
      this.hidden = new Set();
      this.current = null;
      this.saving = false;
      this.load(data, options.layer);
      this.bind();
    }

    // -- state -------------------------------------------------------------------------------

    load(data, layer) {
      this.data = data;
      this.offsets = new Offsets(data.item.text || "");
      this.layers = data.layers;
      this.colours = new Map(data.classes.map((c, i) => [c, PALETTE[i % PALETTE.length]]));
      const writable = this.layers.filter((l) => l.can_write);
      const wanted = layer !== undefined ? layer : (this.layerSelect ? this.layerSelect.value : null);
      const chosen = writable.find((l) => l.layer === wanted) || (layer === undefined && writable[0]) || null;
      this.edit = chosen ? chosen.layer : null;
      if (!this.data.classes.includes(this.current)) this.current = this.data.classes[0] || null;
      this.resetEdits();
      this.buildControls();
      this.clearProblem();
      this.render();
    }

    entry(name) {
      return this.layers.find((l) => l.layer === name);
    }

    resetEdits() {
      const entry = this.edit ? this.entry(this.edit) : null;
      this.base = entry ? entry.label_id : 0;
      this.spans = entry ? copy(entry.spans) : [];
      this.saved = JSON.stringify(this.spans);
      this.undoStack = [];
      this.redoStack = [];
      this.selected = null; // index into this.spans
      this.fresh = false; // the selected span was just made: a class key re-classes it in place
    }

    get dirty() {
      return JSON.stringify(this.spans) !== this.saved;
    }

    get overlap() {
      const entry = this.edit ? this.entry(this.edit) : null;
      return Boolean(entry && entry.overlap);
    }

    change(apply, { merge = false } = {}) {
      const before = JSON.stringify(this.spans);
      const keep = this.selected === null ? null : this.spans[this.selected];
      apply();
      this.spans.sort(order);
      if (keep) this.selected = this.spans.indexOf(keep) >= 0 ? this.spans.indexOf(keep) : null;
      if (JSON.stringify(this.spans) === before) return this.render();
      if (!merge) {
        this.undoStack.push(before);
        if (this.undoStack.length > 500) this.undoStack.shift();
      }
      this.redoStack = [];
      this.render();
    }

    restore(from, to, word) {
      if (!from.length) return this.say(`Nothing to ${word}.`);
      to.push(JSON.stringify(this.spans));
      this.spans = JSON.parse(from.pop());
      this.selected = null;
      this.fresh = false;
      this.render();
      this.say(word === "undo" ? "Undone." : "Redone.");
    }

    undo() { this.restore(this.undoStack, this.redoStack, "undo"); }

    redo() { this.restore(this.redoStack, this.undoStack, "redo"); }

    keysOf(layer) {
      return (this.data.keys || {})[layer] || {};
    }

    classOfKey(key) {
      const own = this.keysOf(this.edit);
      return Object.keys(own).find((name) => own[name] === key);
    }

    quote(s) {
      const t = this.offsets.slice(s.start, s.end);
      return `“${t.length > 40 ? `${t.slice(0, 38)}…` : t}”`;
    }

    // -- making, re-classing and deleting spans ------------------------------------------------

    add(start, end) {
      if (!this.edit) return this.problem("This layer is view only: choose a layer to edit.");
      if (!this.current) return this.problem("The dataset has no classes to give a span.");
      const span = { start, end, class: this.current };
      const same = this.spans.find((s) => s.start === start && s.end === end);
      if (same && same.class === span.class) {
        this.select(this.spans.indexOf(same));
        return this.say(`${this.quote(same)} is already ${same.class}.`);
      }
      if (!this.overlap) {
        const hit = this.spans.find((s) => s.start < end && start < s.end);
        if (hit) {
          return this.problem(`Not added: ${this.quote(span)} overlaps ${hit.class} ${this.quote(hit)}, and layer ${this.edit} keeps spans apart (a layer created with the option overlap=true takes nested spans). Delete or shorten the other span first.`);
        }
      }
      this.clearProblem();
      this.change(() => { this.spans.push(span); });
      this.selected = this.spans.indexOf(span);
      this.fresh = true;
      this.render();
      this.say(`${span.class} ${this.quote(span)} [${start}, ${end}).`);
    }

    setClass(name) {
      if (!name) return;
      this.current = name;
      const sel = this.selected === null ? null : this.spans[this.selected];
      if (sel && sel.class !== name) {
        if (this.spans.some((s) => s !== sel && s.start === sel.start && s.end === sel.end && s.class === name)) {
          this.problem(`${this.quote(sel)} is already ${name}.`);
        } else {
          const merge = this.fresh;
          this.change(() => { sel.class = name; }, { merge });
          this.say(`${this.quote(sel)} is now ${name}.`);
        }
      } else {
        this.say(`New spans: ${name}.`);
      }
      this.showPalette();
    }

    remove(index = this.selected) {
      if (index === null || index === undefined || !this.spans[index]) return;
      const gone = this.spans[index];
      this.change(() => { this.spans.splice(index, 1); });
      this.selected = null;
      this.fresh = false;
      this.render();
      this.say(`Deleted ${gone.class} ${this.quote(gone)}. Ctrl+Z brings it back.`);
    }

    select(index) {
      this.selected = index;
      this.fresh = false;
      if (index !== null) this.current = this.spans[index].class;
      this.showPalette();
      this.render();
    }

    // -- drawing -----------------------------------------------------------------------------

    colour(name) {
      return this.colours.get(name) || "#55616f";
    }

    shownOverlays() {
      return this.layers.filter((l) => l.layer !== this.edit && !this.hidden.has(l.layer));
    }

    render() {
      const o = this.offsets;
      const edit = levels(this.spans);
      const overlays = [];
      let row = edit.count;
      for (const entry of this.shownOverlays()) {
        const lv = levels(entry.spans);
        for (const s of entry.spans) overlays.push({ s, entry, row: row + lv.of.get(s) });
        row += lv.count;
      }
      this.rows = Math.max(1, row);
      const cuts = new Set([0, o.length]);
      for (const s of this.spans) { cuts.add(s.start); cuts.add(s.end); }
      for (const { s } of overlays) { cuts.add(s.start); cuts.add(s.end); }
      const points = [...cuts].filter((c) => c >= 0 && c <= o.length).sort((a, b) => a - b);
      const ends = new Map(); // cp -> spans of the edited layer ending there (their tags)
      this.spans.forEach((s, i) => { if (!ends.has(s.end)) ends.set(s.end, []); ends.get(s.end).push(i); });
      const nodes = [];
      for (let k = 0; k + 1 < points.length; k += 1) {
        const a = points[k];
        const b = points[k + 1];
        const mine = [];
        this.spans.forEach((s, i) => { if (s.start <= a && b <= s.end) mine.push(i); });
        const theirs = overlays.filter(({ s }) => s.start <= a && b <= s.end);
        const seg = assay.el("span", { class: "sp-seg", "data-s": a, "data-e": b, "data-u": o.unitOf(a) }, o.slice(a, b));
        if (mine.length || theirs.length) this.paint(seg, mine, edit, theirs);
        nodes.push(seg);
        for (const i of (ends.get(b) || []).sort((x, y) => this.spans[y].start - this.spans[x].start)) nodes.push(this.tag(i));
      }
      this.textNode.replaceChildren(...nodes);
      this.textNode.style.setProperty("--rows", String(Math.max(1, row)));
      this.textNode.classList.toggle("sp-readonly", !this.edit);
      this.updateState();
      this.updateCounts();
    }

    paint(seg, mine, edit, theirs) {
      const images = [];
      const sizes = [];
      const positions = [];
      const titles = [];
      for (const i of mine) {
        const s = this.spans[i];
        const c = this.colour(s.class);
        const r = edit.of.get(s);
        images.push(`linear-gradient(${c}, ${c})`);
        sizes.push("100% 3px");
        positions.push(`0 calc(100% - ${(this.rows - 1 - r) * ROW}px)`);
        titles.push(`${s.class}${this.edit ? ` (${this.edit})` : ""}`);
      }
      for (const { s, entry, row } of theirs) {
        const c = this.colour(s.class);
        images.push(`repeating-linear-gradient(90deg, ${c} 0 5px, transparent 5px 8px)`);
        sizes.push("100% 2px");
        positions.push(`0 calc(100% - ${(this.rows - 1 - row) * ROW}px)`);
        titles.push(`${s.class} (${entry.layer}${entry.kind === "model" ? ", predicted" : ""})`);
      }
      if (mine.length) {
        // The innermost span's class tints the text: the most specific reading shows.
        const inner = mine.map((i) => this.spans[i]).sort((x, y) => (x.end - x.start) - (y.end - y.start))[0];
        const selected = mine.includes(this.selected);
        images.push(`linear-gradient(${tint(this.colour(inner.class), selected ? 0.34 : 0.16)}, ${tint(this.colour(inner.class), selected ? 0.34 : 0.16)})`);
        sizes.push(`100% calc(100% - ${this.rows * ROW}px)`);
        positions.push("0 0");
        seg.classList.add("sp-in");
        if (selected) seg.classList.add("sp-selected");
        seg.dataset.spans = mine.join(" ");
      } else {
        seg.classList.add("sp-over");
      }
      seg.style.backgroundImage = images.join(", ");
      seg.style.backgroundSize = sizes.join(", ");
      seg.style.backgroundPosition = positions.join(", ");
      seg.style.backgroundRepeat = "no-repeat";
      seg.title = titles.join(" · ");
    }

    tag(i) {
      const s = this.spans[i];
      const node = assay.el("span", { class: "sp-tag", "data-i": i, "data-class": s.class }, s.class);
      node.style.setProperty("--c", this.colour(s.class));
      if (i === this.selected) node.classList.add("sp-selected");
      if (this.edit) {
        const x = assay.el("button", { type: "button", class: "sp-x", "aria-label": `delete ${s.class} ${this.quote(s)}`, tabindex: "-1" }, "×");
        x.addEventListener("mousedown", (e) => e.preventDefault());
        x.addEventListener("click", (e) => { e.stopPropagation(); this.remove(i); });
        node.append(x);
      }
      node.addEventListener("click", (e) => { e.stopPropagation(); this.select(i); });
      return node;
    }

    updateState() {
      const host = this.host;
      host.dataset.spans = String(this.spans.length);
      host.dataset.dirty = this.dirty ? "1" : "";
      host.dataset.selected = this.selected === null ? "" : String(this.selected);
      host.dataset.editing = this.edit || "";
      const set = (sel, disabled) => { const n = host.querySelector(sel); if (n) n.disabled = disabled; };
      set(".sp-save", !this.edit || this.saving);
      set(".sp-undo", !this.undoStack.length);
      set(".sp-redo", !this.redoStack.length);
      set(".sp-delete", this.selected === null);
      const state = host.querySelector(".sp-dirty");
      if (state) {
        state.textContent = !this.edit ? "view only" : this.dirty ? "unsaved changes" : "saved";
        state.classList.toggle("unsaved", this.dirty);
      }
    }

    // -- the controls: layer to edit, the class palette, the layers panel ----------------------

    buildControls() {
      if (this.layerSelect) {
        const writable = this.layers.filter((l) => l.can_write);
        this.layerSelect.replaceChildren(
          ...writable.map((l) => assay.el("option", { value: l.layer }, l.owner ? `${l.layer} · ${l.owner}` : l.layer)),
          assay.el("option", { value: "" }, "(view only)"),
        );
        this.layerSelect.value = this.edit || "";
      }
      this.showPalette();
      this.buildPanel();
    }

    showPalette() {
      if (!this.palette) return;
      const own = this.keysOf(this.edit);
      this.palette.replaceChildren(...this.data.classes.map((c) => {
        const b = assay.el("button", { type: "button", class: "sp-class", "data-class": c, role: "radio", "aria-checked": String(c === this.current), tabindex: "-1" });
        b.style.setProperty("--c", this.colour(c));
        if (own[c]) b.append(assay.el("kbd", {}, own[c]));
        b.append(assay.el("span", { class: "name" }, c));
        b.addEventListener("mousedown", (e) => e.preventDefault()); // keep the text selection
        b.addEventListener("click", () => this.setClass(c));
        return b;
      }));
    }

    buildPanel() {
      if (!this.panel) return;
      const list = this.panel.querySelector(".sp-layer-list");
      list.replaceChildren(...this.layers.map((entry) => {
        const editing = entry.layer === this.edit;
        const check = assay.el("input", { type: "checkbox", class: "sp-show", "aria-label": `show ${entry.layer}` });
        check.checked = editing || !this.hidden.has(entry.layer);
        check.disabled = editing;
        check.addEventListener("change", () => {
          if (check.checked) this.hidden.delete(entry.layer); else this.hidden.add(entry.layer);
          this.render();
        });
        const kind = editing ? "editing" : entry.kind === "model" ? "predictions" : entry.kind;
        return assay.el("li", { class: `sp-layer-row${editing ? " editing" : ""}`, "data-layer": entry.layer },
          assay.el("label", {}, check,
            assay.el("span", { class: `sp-line${editing ? " solid" : ""}` }),
            assay.el("span", { class: "name" }, entry.layer),
            assay.el("span", { class: "sp-kind" }, kind),
            assay.el("span", { class: "sp-count" }, "")));
      }));
      this.panel.hidden = this.layers.length < 2 && Boolean(this.edit);
    }

    updateCounts() {
      if (this.panel) {
        for (const row of this.panel.querySelectorAll(".sp-layer-row")) {
          const entry = this.entry(row.dataset.layer);
          const n = entry.layer === this.edit ? this.spans.length : entry.spans.length;
          row.querySelector(".sp-count").textContent = entry.layer === this.edit || entry.labeled ? String(n) : "—";
        }
      }
      if (this.legend) {
        const counts = new Map();
        for (const s of this.spans) counts.set(s.class, (counts.get(s.class) || 0) + 1);
        this.legend.replaceChildren(...[...counts].map(([c, n]) => {
          const chip = assay.el("span", { class: "sp-chip" }, `${c} ${n}`);
          chip.style.setProperty("--c", this.colour(c));
          return chip;
        }));
      }
    }

    // -- messages ------------------------------------------------------------------------------

    say(text, kind = "") {
      if (!this.status) return;
      this.status.textContent = text;
      this.status.className = `sp-status${kind ? ` ${kind}` : ""}`;
    }

    problem(text, conflict = false) {
      if (!this.message) return;
      this.message.replaceChildren(text);
      if (conflict) {
        const reload = assay.el("button", { type: "button", class: "sp-reload" }, "Reload the saved version");
        reload.addEventListener("click", () => this.reload());
        this.message.append(" ", reload);
      }
      this.message.hidden = false;
    }

    clearProblem() {
      if (this.message) { this.message.hidden = true; this.message.replaceChildren(); }
    }

    // -- the mouse: selections and clicks ------------------------------------------------------

    // A DOM point (node, offset) inside the text as a UTF-16 offset of the whole text; a point
    // in a tag counts as the end of its span.
    unitAt(node, offset) {
      let el = node.nodeType === Node.TEXT_NODE ? node.parentElement : node;
      const tag = el.closest && el.closest(".sp-tag");
      if (tag) return this.offsets.unitOf(this.spans[Number(tag.dataset.i)].end);
      if (node.nodeType === Node.TEXT_NODE && el.classList.contains("sp-seg")) return Number(el.dataset.u) + offset;
      if (el === this.textNode) {
        const kids = this.textNode.childNodes;
        if (offset >= kids.length) return this.offsets.text.length;
        el = kids[offset];
        if (el.classList.contains("sp-tag")) return this.offsets.unitOf(this.spans[Number(el.dataset.i)].end);
        return Number(el.dataset.u);
      }
      const seg = el.closest && el.closest(".sp-seg");
      return seg ? Number(seg.dataset.u) + (offset > 0 ? seg.textContent.length : 0) : null;
    }

    onMouseUp(event) {
      if (!this.edit) return; // view only: a selection is for copying
      const sel = window.getSelection();
      if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return;
      const range = sel.getRangeAt(0);
      if (!this.textNode.contains(range.startContainer) || !this.textNode.contains(range.endContainer)) return;
      const a = this.unitAt(range.startContainer, range.startOffset);
      const b = this.unitAt(range.endContainer, range.endOffset);
      sel.removeAllRanges();
      if (a === null || b === null || a === b) return;
      const o = this.offsets;
      let start = o.cpOf(Math.min(a, b));
      let end = o.cpOf(Math.max(a, b), true);
      [start, end] = event.altKey ? o.whole(start, end) : o.words(start, end);
      [start, end] = o.whole(start, end);
      if (start >= end) return;
      this.suppressClick = this.textNode.contains(event.target); // its click is this selection
      this.add(start, end);
    }

    onClick(event) {
      if (this.suppressClick) { this.suppressClick = false; return; }
      const seg = event.target.closest && event.target.closest(".sp-seg");
      if (!seg || !seg.dataset.spans) { if (this.selected !== null) this.select(null); return; }
      // The innermost span first; clicking again steps outwards through the nested ones.
      const here = seg.dataset.spans.split(" ").map(Number)
        .sort((x, y) => (this.spans[x].end - this.spans[x].start) - (this.spans[y].end - this.spans[y].start));
      const at = here.indexOf(this.selected);
      this.select(here[(at + 1) % here.length]);
    }

    // -- keys and buttons ---------------------------------------------------------------------

    key(event) {
      const ctrl = event.ctrlKey || event.metaKey;
      const k = event.key;
      if (ctrl && !event.altKey) {
        if (k === "z" || k === "Z") { if (event.shiftKey) this.redo(); else this.undo(); return true; }
        if (k === "y" || k === "Y") { this.redo(); return true; }
        if (k === "s" || k === "S") { this.save(); return true; }
        return false;
      }
      if (event.altKey || !this.edit) return false;
      if (k === "Delete" || k === "Backspace") { this.remove(); return true; }
      if (k === "Escape") { this.select(null); return true; }
      if (k === "Enter") {
        if (event.target.closest && event.target.closest("button, a")) return false;
        (this.options.onEnter || (() => this.save()))();
        return true;
      }
      const name = this.classOfKey(k);
      if (name !== undefined) { this.setClass(name); return true; }
      return false;
    }

    bind() {
      // On the document: a drag may end past the text's edge.
      document.addEventListener("mouseup", (e) => this.onMouseUp(e));
      this.textNode.addEventListener("click", (e) => this.onClick(e));
      window.addEventListener("keydown", (event) => {
        if (typing(event.target)) return;
        if (event.target.closest && event.target.closest("select") && !(event.ctrlKey || event.metaKey)) return;
        if (this.key(event)) { event.preventDefault(); event.stopPropagation(); }
      }, true);
      const on = (sel, fn) => { const n = this.host.querySelector(sel); if (n) n.addEventListener("click", fn); };
      on(".sp-save", () => this.save());
      on(".sp-undo", () => this.undo());
      on(".sp-redo", () => this.redo());
      on(".sp-delete", () => this.remove());
      if (this.layerSelect) {
        this.layerSelect.addEventListener("change", () => {
          if (this.dirty) {
            this.layerSelect.value = this.edit || "";
            this.problem("Save or undo your changes before editing another layer.");
            return;
          }
          this.edit = this.layerSelect.value || null;
          this.resetEdits();
          this.showPalette();
          this.buildPanel();
          this.render();
          this.layerSelect.blur();
        });
      }
      window.addEventListener("beforeunload", (event) => {
        if (this.dirty && !this.options.noUnloadGuard) { event.preventDefault(); event.returnValue = ""; }
      });
    }

    // -- saving --------------------------------------------------------------------------------

    async save() {
      if (!this.edit || this.saving) return false;
      if (!this.dirty && this.entry(this.edit).labeled) {
        this.say("No changes: nothing to save.", "ok"); // no new version of the same spans
        return true;
      }
      this.saving = true;
      this.updateState();
      this.clearProblem();
      this.say("Saving…");
      const body = { layer: this.edit, spans: copy(this.spans), base: this.base, idempotency_key: newKey() };
      try {
        const out = await assay.api(this.data.save_url, { method: "POST", json: body });
        const entry = this.entry(this.edit);
        entry.spans = out.spans;
        entry.label_id = out.label_id;
        entry.labeled = true;
        this.base = out.label_id;
        this.spans = copy(out.spans);
        this.saved = JSON.stringify(this.spans);
        this.selected = null;
        this.say(`Saved ${out.spans.length} span${out.spans.length === 1 ? "" : "s"} in ${this.edit}.`, "ok");
        this.host.dataset.savedLabel = String(out.label_id);
        return true;
      } catch (error) {
        const conflict = error.status === 409;
        this.problem(`Not saved: ${error.message}${conflict ? " Your unsaved spans are still on screen." : ""}`, conflict);
        this.say(conflict ? "Conflict: not saved." : "Not saved.", "error");
        return false;
      } finally {
        this.saving = false;
        this.render();
      }
    }

    async reload() {
      try {
        const fresh = await assay.api(this.data.spans_url);
        fresh.save_url = this.data.save_url;
        fresh.spans_url = this.data.spans_url;
        this.load(fresh, this.edit);
        this.say("Reloaded: these are the spans as saved now.", "ok");
      } catch (error) {
        this.problem(`Could not reload: ${error.message}`);
      }
    }
  }

  // The item page: the editor over the item's text, its data embedded in the page.
  function itemPage() {
    const host = document.getElementById("span-editor");
    const embedded = document.getElementById("span-data");
    if (!host || !embedded) return null;
    const editor = new SpanEditor(host, JSON.parse(embedded.textContent));
    window.assaySpanEditor = editor;
    return editor;
  }

  // The labeling queue for a span layer: one text after another; Enter (or the button) saves
  // and shows the next, S skips. One request per text for its spans in every layer.
  function queuePage() {
    const root = document.getElementById("span-queue");
    if (!root) return null;
    const host = document.getElementById("span-editor");
    const layer = root.dataset.layer;
    return assay.editorQueue(root, {
      kind: "spans",
      doneText: "Nothing left to mark in this layer.",
      open(data, saveNext) {
        const editor = new SpanEditor(host, data, { layer, onEnter: saveNext, noUnloadGuard: true });
        window.assaySpanEditor = editor;
        return editor;
      },
      empty(message) {
        host.querySelector(".sp-text").replaceChildren(message);
        host.querySelector(".sp-toolbar").hidden = true;
      },
    });
  }

  function start() {
    if (window.assaySpanEditor) return;
    itemPage();
    queuePage();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
  return { SpanEditor, Offsets };
})();
