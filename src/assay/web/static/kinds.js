// The value editors' shell (tags, number, ...): the kind's script registers
// assay.kindEditors[kind] = (body, layer) => editor, where editor has set(value), get()
// (undefined: nothing to save yet, with editor.missing saying why), key(event) (true when the
// key was the editor's: a tag toggled, a rating picked) and show(value) (the value in words).
//
// Item page: each writable layer's editor saves on the version it loaded (base = its label
// id): a stale save is refused (409) and said plainly, a value the layer's kind refuses (422:
// a number outside the range) is shown under the editor, and U undoes the last save by
// saving the value before it. The keys act on the editor last clicked (the first at start).
// Labeling queue: one item at a time; Enter saves and shows the next, S skips, U undoes.
"use strict";

(() => {
  const { api, el } = assay;
  const makers = assay.kindEditors || {};

  function newKey(prefix) {
    return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  }

  function explain(error, layer) {
    if (error.status === 409) {
      return `Not saved: ${error.message} Someone changed this item in ${layer} since you opened it ` +
        "(or the layer is frozen): reload the page to edit the current version.";
    }
    if (error.status === 403) return `Not saved: ${error.message}`;
    return `Not saved: ${error.message}`;
  }

  function ui(root) {
    return {
      body: root.querySelector(".ke-body"),
      message: root.querySelector(".ke-message"),
      status: root.querySelector(".ke-status"),
      dirty: root.querySelector(".ke-dirty"),
    };
  }

  function say(box, text) {
    box.textContent = text || "";
    box.hidden = !text;
  }

  // -- the item page ------------------------------------------------------------------------
  const editors = [];
  let active = null;

  function itemEditor(root) {
    const data = JSON.parse(root.querySelector(".ke-data").textContent);
    const make = makers[root.dataset.kind];
    if (!make) return;
    const parts = ui(root);
    const editor = make(parts.body, data, () => markDirty());
    const state = { base: data.label_id, saved: data.value, undo: [] };
    editor.set(data.value);

    function markDirty() {
      const now = editor.get();
      const changed = JSON.stringify(now === undefined ? null : now) !== JSON.stringify(state.saved);
      if (parts.dirty) parts.dirty.textContent = changed ? "unsaved changes" : "";
      root.dataset.dirty = changed ? "1" : "";
    }

    async function send(value, note) {
      const body = { layer: data.layer, value, base: state.base, idempotency_key: newKey("item") };
      if (note) body.note = note;
      return api(root.dataset.saveUrl, { method: "POST", json: body });
    }

    async function save() {
      const value = editor.get();
      if (value === undefined) {
        say(parts.message, editor.missing || "Nothing to save yet.");
        return;
      }
      say(parts.message, "");
      try {
        const out = await send(value, null);
        state.undo.push({ value: state.saved });
        state.base = out.label_id;
        state.saved = out.value;
        editor.set(out.value);
        parts.status.textContent = `Saved in ${data.layer}: ${editor.show(out.value)}.`;
        root.dataset.labelId = String(out.label_id);
        markDirty();
      } catch (error) {
        say(parts.message, explain(error, data.layer));
      }
    }

    async function undo() {
      const last = state.undo.pop();
      if (!last) {
        parts.status.textContent = "Nothing to undo.";
        return;
      }
      try {
        const out = await send(last.value, "undo in the editor");
        state.base = out.label_id;
        state.saved = last.value;
        editor.set(last.value);
        parts.status.textContent = last.value === null
          ? `Undone: no label in ${data.layer} again (the history keeps both).`
          : `Undone: back to ${editor.show(last.value)}.`;
        markDirty();
      } catch (error) {
        state.undo.push(last);
        say(parts.message, explain(error, data.layer));
      }
    }

    const entry = { root, editor, save, undo };
    root.addEventListener("pointerdown", () => activate(entry));
    root.addEventListener("focusin", () => activate(entry));
    root.querySelector(".ke-save").addEventListener("click", () => save());
    root.querySelector(".ke-undo").addEventListener("click", () => undo());
    editors.push(entry);
  }

  function activate(entry) {
    active = entry;
    for (const e of editors) e.root.classList.toggle("ke-active", e === entry);
  }

  for (const root of document.querySelectorAll(".kind-editor[data-mode='item']")) itemEditor(root);
  if (editors.length) {
    activate(editors[0]);
    document.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey || !active) return;
      const inField = event.target.closest("input, select, textarea, [contenteditable]");
      if (inField && !active.root.contains(inField)) return;
      if (event.key === "Enter") {
        event.preventDefault();
        active.save();
      } else if (inField) {
        return;
      } else if (active.editor.key(event)) {
        event.preventDefault();
      } else if (event.key === "u" || event.key === "U") {
        event.preventDefault();
        active.undo();
      }
    });
  }

  // -- the labeling queue -------------------------------------------------------------------
  const queue = document.getElementById("kind-queue");
  if (!queue) return;
  const make = makers[queue.dataset.kind];
  const layerInfo = JSON.parse(queue.querySelector(".ke-layer").textContent);
  const side = queue.querySelector(".kind-editor");
  const parts = ui(side);
  const editor = make(parts.body, layerInfo, () => null);
  const stage = document.getElementById("queue-stage");
  const progress = document.getElementById("queue-progress");
  const errorBox = document.getElementById("queue-error");
  const itemInfo = document.getElementById("queue-item");
  const layer = queue.dataset.layer;
  const filter = queue.dataset.filter;
  const waiting = [];
  const done = []; // {entry, before, labelId}
  let cursor = null;
  let exhausted = false;
  let loading = null;
  let current = null;
  let labeled = 0;
  let total = 0;
  let saving = false;

  function showProgress() {
    progress.textContent = `${labeled.toLocaleString("en-US")} labeled / ${total.toLocaleString("en-US")} in queue`;
  }

  function valueOf(entry) {
    if (!entry.value) {
      const url = `${queue.dataset.itemApi}${entry.item.id}/value?${new URLSearchParams({ layer })}`;
      entry.value = api(url);
    }
    return entry.value;
  }

  function refill() {
    if (loading || exhausted) return loading || Promise.resolve();
    const params = new URLSearchParams({ layer, limit: "20" });
    if (filter) params.set("filter", filter);
    if (cursor !== null) params.set("after", String(cursor));
    loading = api(`${queue.dataset.queueUrl}?${params}`)
      .then((page) => {
        if (page.total !== undefined) {
          labeled = page.labeled;
          total = page.total;
        }
        for (const item of page.items) waiting.push({ item, value: null });
        cursor = page.next;
        exhausted = page.next === null;
        showProgress();
      })
      .catch((error) => say(errorBox, `Could not load the queue: ${error.message}`))
      .finally(() => { loading = null; });
    return loading;
  }

  function view(item) {
    if (item.media_url) return el("img", { class: "queue-image", src: item.media_url, alt: `item ${item.key}` });
    if (item.text !== null && item.text !== undefined) return el("pre", { class: "text queue-text" }, item.text);
    const table = el("table", { class: "table kv" });
    for (const [k, v] of Object.entries(item.fields || {})) {
      table.append(el("tr", {}, el("th", {}, k), el("td", {}, v === null ? "—" : v)));
    }
    return table;
  }

  async function show(entry) {
    current = entry;
    say(parts.message, "");
    if (!entry) {
      stage.replaceChildren(el("p", { class: "empty", id: "queue-done" }, "Nothing left to label in this layer."));
      itemInfo.replaceChildren();
      queue.dataset.itemId = "";
      queue.dataset.done = "1"; // the editor's panel hides: there is nothing to save
      return;
    }
    delete queue.dataset.done;
    stage.replaceChildren(view(entry.item));
    const href = `${queue.dataset.itemPage}${encodeURIComponent(entry.item.key)}`;
    itemInfo.replaceChildren(el("a", { href, target: "_blank", rel: "noopener", class: "key" }, `item ${entry.item.key}`));
    try {
      const loaded = await valueOf(entry);
      if (current !== entry) return;
      entry.base = loaded.label_id;
      editor.set(loaded.value);
      queue.dataset.itemId = String(entry.item.id);
    } catch (error) {
      say(errorBox, `Could not load item ${entry.item.key}: ${error.message}`);
    }
    if (waiting[0]) valueOf(waiting[0]);
  }

  async function advance() {
    if (!waiting.length && !exhausted) await refill();
    await show(waiting.shift() || null);
    if (waiting.length < 8) refill();
  }

  async function post(entry, value, base, note) {
    const body = { layer, value, base, idempotency_key: newKey("queue") };
    if (note) body.note = note;
    return api(`${queue.dataset.itemApi}${entry.item.id}/value`, { method: "POST", json: body });
  }

  async function saveNext() {
    if (!current || saving || current.base === undefined) return;
    const value = editor.get();
    if (value === undefined) {
      say(parts.message, editor.missing || "Nothing to save yet.");
      return;
    }
    const entry = current;
    saving = true;
    try {
      const before = (await valueOf(entry)).value;
      const out = await post(entry, value, entry.base, null);
      if (before === null) labeled += 1;
      done.push({ entry, before, labelId: out.label_id });
      parts.status.textContent = `Saved item ${entry.item.key}: ${editor.show(out.value)}. U undoes it.`;
      showProgress();
      await advance();
    } catch (error) {
      say(parts.message, explain(error, layer));
    } finally {
      saving = false;
    }
  }

  async function undo() {
    const last = done.pop();
    if (!last || saving) {
      parts.status.textContent = "Nothing to undo.";
      return;
    }
    saving = true;
    try {
      const out = await post(last.entry, last.before, last.labelId, "undo in the labeling queue");
      if (current) waiting.unshift(current);
      if (last.before === null) labeled -= 1;
      last.entry.value = Promise.resolve({ value: last.before, label_id: out.label_id });
      await show(last.entry);
      parts.status.textContent = `Undone: item ${last.entry.item.key} is back to ${last.before === null ? "no label" : editor.show(last.before)}.`;
      showProgress();
    } catch (error) {
      done.push(last);
      say(parts.message, explain(error, layer));
    } finally {
      saving = false;
    }
  }

  function skip() {
    if (!current) return;
    parts.status.textContent = `Skipped item ${current.item.key}; it stays in the queue for later.`;
    advance();
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const inField = event.target.closest("input, select, textarea");
    if (inField && !side.contains(inField)) return; // the queue's filter form, say
    if (event.key === "Enter") {
      event.preventDefault();
      saveNext();
      return;
    }
    if (inField) return;
    if (editor.key(event)) {
      event.preventDefault();
    } else if (event.key === "s" || event.key === "S") {
      event.preventDefault();
      skip();
    } else if (event.key === "u" || event.key === "U") {
      event.preventDefault();
      undo();
    }
  });
  document.getElementById("queue-save-next").addEventListener("click", () => saveNext());
  document.getElementById("queue-skip").addEventListener("click", () => skip());
  document.getElementById("queue-undo").addEventListener("click", () => undo());
  refill().then(() => advance());
})();
