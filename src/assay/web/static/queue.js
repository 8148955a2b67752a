// The labeling queue: one item at a time, labeled with the keyboard.
//
// The key shown on a class picks it (assay.labels.hotkeys: a class named by one key has that
// key, the layer may set others), Enter confirms (the label is sent and the next item shown at once),
// U undoes the last label (by writing a new label that restores the one before), S skips.
// The next items are fetched ahead and their images decoded before they are needed, so the
// next item appears in the same frame. Each write carries an idempotency key and is retried
// on network errors; the page shows how many writes are still in flight.
//
// Timing: each advance records a performance measure from the key press that caused it
// ("assay:queue-confirm") and from the class key picked before it ("assay:queue-pick") to the
// frame in which the next item is shown. The tests and the benchmark read them.
"use strict";

(() => {
  const root = document.getElementById("queue");
  if (!root) return;
  const { api, el } = assay;
  const stage = document.getElementById("queue-stage");
  const progress = document.getElementById("queue-progress");
  const status = document.getElementById("queue-status");
  const errorBox = document.getElementById("queue-error");
  const itemInfo = document.getElementById("queue-item");
  const buttons = Array.from(document.querySelectorAll("#queue-classes button.class-key"));
  const classes = buttons.map((b) => b.dataset.class);
  const keyToIndex = {};
  for (const b of buttons) if (b.dataset.key) keyToIndex[b.dataset.key] = Number(b.dataset.index);
  const layer = root.dataset.layer;
  const filter = root.dataset.filter;

  const PAGE = 20; // items per queue request
  const REFILL_BELOW = 8; // fetch more when fewer are waiting
  const PRELOAD = 4; // images decoded ahead

  const waiting = []; // prepared entries, next first
  let cursor = null;
  let exhausted = false;
  let loading = null;
  let current = null;
  let picked = null;
  let pickTime = null;
  let labeled = 0;
  let total = 0;
  let session = 0;
  let pending = 0;
  const done = []; // undo stack: {entry, label, previous}
  const chains = new Map(); // item id -> promise of its last write (writes per item stay in order)

  function showProgress() {
    progress.textContent = `${labeled.toLocaleString("en-US")} labeled / ${total.toLocaleString("en-US")} in queue` +
      ` · ${session} this session` + (pending ? ` · saving ${pending}…` : "");
    root.dataset.pending = String(pending);
    root.dataset.labeled = String(labeled);
  }

  function fail(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  function queueUrl() {
    const params = new URLSearchParams({ layer, limit: String(PAGE) });
    if (filter) params.set("filter", filter);
    if (cursor !== null) params.set("after", String(cursor));
    return `${root.dataset.queueUrl}?${params}`;
  }

  function view(item) {
    if (item.media_url) {
      const img = new Image();
      img.className = "queue-image";
      img.alt = `item ${item.key}`;
      img.decoding = "sync";
      return img;
    }
    if (item.text !== null && item.text !== undefined) return el("pre", { class: "text queue-text" }, item.text);
    const table = el("table", { class: "table kv" });
    for (const [k, v] of Object.entries(item.fields || {})) {
      table.append(el("tr", {}, el("th", {}, k), el("td", {}, v === null ? "—" : v)));
    }
    return table;
  }

  function preload() {
    for (const entry of waiting.slice(0, PRELOAD)) {
      if (entry.ready) continue;
      if (entry.node instanceof HTMLImageElement) {
        entry.node.src = entry.item.media_url;
        entry.ready = entry.node.decode().catch(() => null);
      } else {
        entry.ready = Promise.resolve();
      }
    }
  }

  function refill() {
    if (loading || exhausted) return loading || Promise.resolve();
    loading = api(queueUrl())
      .then((page) => {
        if (page.total !== undefined) {
          labeled = page.labeled;
          total = page.total;
        }
        for (const item of page.items) waiting.push({ item, node: view(item), ready: null, previous: item.label });
        cursor = page.next;
        exhausted = page.next === null;
        preload();
        showProgress();
      })
      .catch((error) => fail(`Could not load the queue: ${error.message}`))
      .finally(() => { loading = null; });
    return loading;
  }

  function mark(startConfirm, startPick) {
    const entry = current;
    Promise.resolve(entry && entry.ready).then(() => requestAnimationFrame(() => {
      const now = performance.now();
      if (startConfirm !== null) performance.measure("assay:queue-confirm", { start: startConfirm, end: now });
      if (startPick !== null) performance.measure("assay:queue-pick", { start: startPick, end: now });
    }));
  }

  function highlight(index) {
    buttons.forEach((b, i) => b.classList.toggle("picked", i === index));
  }

  function show(entry, chosen = null) {
    current = entry;
    picked = chosen;
    highlight(chosen);
    if (!entry) {
      stage.replaceChildren(el("p", { class: "empty", id: "queue-done" },
        exhausted ? "Nothing left to label in this layer." : "Loading…"));
      itemInfo.replaceChildren();
      root.dataset.itemId = "";
      return;
    }
    if (!entry.ready) {
      if (entry.node instanceof HTMLImageElement) entry.node.src = entry.item.media_url;
      entry.ready = Promise.resolve();
    }
    stage.replaceChildren(entry.node);
    const href = `${root.dataset.itemPage}${encodeURIComponent(entry.item.key)}`;
    itemInfo.replaceChildren(el("a", { href, target: "_blank", rel: "noopener", class: "key" }, `item ${entry.item.key}`));
    root.dataset.itemId = String(entry.item.id);
  }

  async function advance(startConfirm = null, startPick = null) {
    let next = waiting.shift() || null;
    if (!next && !exhausted) {
      show(null);
      await refill();
      next = waiting.shift() || null;
    }
    show(next);
    mark(startConfirm, startPick);
    preload();
    if (waiting.length < REFILL_BELOW) refill();
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  async function post(itemId, label, note) {
    const key = `queue-${itemId}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    const body = { layer, label, idempotency_key: key };
    if (note) body.note = note;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await api(`${root.dataset.itemApi}${itemId}/labels`, { method: "POST", json: body });
      } catch (error) {
        const retry = error.status === undefined || error.status === 503;
        if (!retry || attempt >= 4) throw error;
        await sleep(300 * 2 ** attempt);
      }
    }
  }

  // Send a write after the item's earlier writes (an undo never overtakes its label).
  function write(itemId, key, label, note) {
    pending += 1;
    showProgress();
    const before = chains.get(itemId) || Promise.resolve();
    const result = before.catch(() => null).then(() => post(itemId, label, note));
    const settled = result.catch((error) => {
      fail(`Item ${key}: the label was not saved (${error.message}).`);
      throw error;
    }).finally(() => {
      pending -= 1;
      showProgress();
    });
    chains.set(itemId, settled);
    settled.catch(() => null);
    return settled;
  }

  function pick(index, when) {
    if (!current || index === undefined || index >= classes.length) return;
    picked = index;
    pickTime = when;
    highlight(index);
  }

  function confirm(when) {
    if (!current) return;
    if (picked === null) {
      status.textContent = "Pick a class first: press its key.";
      return;
    }
    const entry = current;
    const label = classes[picked];
    const previous = entry.previous;
    write(entry.item.id, entry.item.key, label, null).then(() => null, () => {
      if (previous === null) labeled -= 1;
      session -= 1;
      showProgress();
    });
    if (previous === null) labeled += 1;
    session += 1;
    done.push({ entry, label, previous });
    status.textContent = `Labeled item ${entry.item.key} as ${label}. U undoes it.`;
    const fromPick = pickTime;
    pickTime = null;
    advance(when, fromPick);
    showProgress();
  }

  function skip(when) {
    if (!current) return;
    status.textContent = `Skipped item ${current.item.key}; it stays in the queue for later.`;
    pickTime = null;
    advance(when, null);
  }

  function undo() {
    const last = done.pop();
    if (!last) {
      status.textContent = "Nothing to undo.";
      return;
    }
    if (current) waiting.unshift(current);
    const { entry, label, previous } = last;
    write(entry.item.id, entry.item.key, previous, "undo in the labeling queue").then(() => null, () => null);
    if (previous === null) labeled -= 1;
    session -= 1;
    entry.previous = previous;
    show(entry, classes.indexOf(label));
    status.textContent = previous === null
      ? `Undone: item ${entry.item.key} has no label in ${layer} again (the history keeps both).`
      : `Undone: item ${entry.item.key} is ${previous} again.`;
    showProgress();
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, select, textarea")) return;
    const key = event.key;
    if (key in keyToIndex) {
      pick(keyToIndex[key], event.timeStamp);
    } else if (key === "Enter") {
      confirm(event.timeStamp);
    } else if (key === "u" || key === "U") {
      undo();
    } else if (key === "s" || key === "S") {
      skip(event.timeStamp);
    } else {
      return;
    }
    event.preventDefault();
  });
  for (const b of buttons) b.addEventListener("click", (event) => pick(Number(b.dataset.index), event.timeStamp));
  document.getElementById("queue-confirm").addEventListener("click", (event) => confirm(event.timeStamp));
  document.getElementById("queue-skip").addEventListener("click", (event) => skip(event.timeStamp));
  document.getElementById("queue-undo").addEventListener("click", () => undo());
  window.addEventListener("beforeunload", (event) => {
    if (pending > 0) { // labels still in flight: ask before leaving
      event.preventDefault();
      event.returnValue = "";
    }
  });

  refill().then(() => advance());
})();
