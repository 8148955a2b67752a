// The review queue: triage cases with the keyboard (or the mouse), read and add to their log;
// and, on any page with evidence, enlarge an image (click) and zoom it (wheel, + and -).
//
// Keys (on the review page, for reviewers): a or Enter accepts the suggestion (else the label
// picked in the row), g keeps the given label, a class key picks that class, e escalates,
// s skips, j/↓ and k/↑ move, x selects the case for a bulk accept (Shift+A), Shift+1..5 put a
// preset reason on the case, v enlarges its image. A decision moves to the next case at once;
// it is sent in the background with the case version the page was showing: if someone else
// changed the case in between, the server answers 409 and the row says so (nothing written).
// The counts come back with each answer. Past the last loaded case, the next page's rows
// (rendered by the server, fetched ahead) are appended.
//
// A case about boxes decides a box set: when its row is current, the decision (the boxes the
// choice above writes) opens in static/boxes.js's editor (the same key handling as the item
// page's: click a box, a class key sets its class, Delete removes it, Ctrl+Z undoes), and
// resolving sends the edited boxes. The editor takes its keys before this page does.
//
// Timing: each move to a case after a key press records the performance measure
// "assay:review-next", from the key press to the animation frame that shows the case.
"use strict";

(() => {
  if (window.assayReviewLoaded) return;
  window.assayReviewLoaded = true;
  const { api, el } = assay;

  // -- enlarge and zoom ------------------------------------------------------------------------
  let box = null;
  let zoom = 1;

  function setZoom(value) {
    zoom = Math.min(12, Math.max(1, value));
    box.querySelector("img").style.transform = `scale(${zoom})`;
  }

  function openZoom(img) {
    closeZoom();
    zoom = 1;
    const big = el("img", { src: img.dataset.full || img.src, alt: img.alt });
    box = el("div", { class: "lightbox", id: "lightbox", role: "dialog", "aria-label": img.alt },
      big, el("p", { class: "lightbox-help" }, "wheel or + / − to zoom · click or Esc to close"));
    box.addEventListener("click", closeZoom);
    box.addEventListener("wheel", (event) => {
      event.preventDefault();
      setZoom(zoom * (event.deltaY < 0 ? 1.25 : 0.8));
    }, { passive: false });
    document.body.append(box);
  }

  function closeZoom() {
    if (box) box.remove();
    box = null;
  }

  document.addEventListener("click", (event) => {
    const img = event.target.closest("img.zoomable");
    if (!img) return;
    event.preventDefault();
    openZoom(img);
  });

  // -- the review queue ------------------------------------------------------------------------
  const table = document.getElementById("cases");
  const ACTIVE = ["open", "escalated"];
  const canReview = table && table.dataset.canReview === "true";
  const base = table ? table.dataset.api : "";
  const classKeys = table && table.dataset.classKeys ? JSON.parse(table.dataset.classKeys) : {};
  const keyClass = Object.fromEntries(Object.entries(classKeys).map(([c, k]) => [k, c]));
  const presets = table && table.dataset.presets ? JSON.parse(table.dataset.presets) : [];
  const status = document.getElementById("triage-msg");
  let current = null;
  let pending = 0;
  let loading = null;

  function rows() {
    return Array.from(table.querySelectorAll("tbody tr.case"));
  }

  function isActive(tr) {
    return ACTIVE.includes(tr.dataset.state) && !tr.classList.contains("decided");
  }

  function say(text, kind = "ok") {
    if (!status) return;
    status.className = `case-msg ${kind}`;
    status.textContent = text;
  }

  function message(tr, text, kind, ...extra) {
    const msg = tr.querySelector(".case-msg");
    msg.className = `case-msg ${kind}`;
    msg.setAttribute("role", kind === "error" ? "alert" : "status");
    msg.replaceChildren(text, ...extra);
  }

  function updateCounts(counts) {
    if (!counts) return;
    document.querySelectorAll("#case-counts .count").forEach((node) => {
      const per = counts[node.dataset.state] || {};
      node.textContent = Object.values(per).reduce((a, b) => a + b, 0).toLocaleString("en-US");
    });
  }

  function setPending(delta) {
    pending += delta;
    table.dataset.pending = String(pending);
  }

  function setState(tr, c) {
    tr.dataset.version = String(c.version);
    tr.dataset.state = c.state;
    const parts = [el("span", { class: `state state-${c.state}` }, c.state)];
    if (c.assignee) parts.push(el("br"), el("small", {}, `to ${c.assignee}`));
    if (c.resolved_label !== null && c.resolved_label !== undefined) {
      parts.push(el("br"), el("small", {}, "as ", el("b", { class: "label resolved" }, c.resolved_label)));
    }
    if (c.resolution) parts.push(el("br"), el("small", { class: "resolution" }, c.resolution));
    tr.querySelector(".case-state").replaceChildren(...parts);
    const form = tr.querySelector("form.case-form");
    if (!ACTIVE.includes(c.state)) {
      if (form) form.remove();
      const decisionHost = tr.querySelector(".case-decision");
      if (decisionHost) decisionHost.remove();
      editors.delete(tr);
      const pick = tr.querySelector("input.pick");
      if (pick) pick.remove();
      tr.classList.remove("selected");
      updateSelection();
      return;
    }
    tr.classList.remove("decided");
    if (!form) return;
    const hand = form.querySelector("button[value=escalate], button[value=assign]");
    if (hand) {
      hand.value = c.state === "escalated" ? "assign" : "escalate";
      hand.textContent = c.state === "escalated" ? "Reassign" : "Escalate";
    }
  }

  function summary(action, c, layer) {
    const as = c.resolved_label === null || c.resolved_label === undefined ? "" : ` as ${c.resolved_label}`;
    if (action === "resolve") return `Resolved${as}: written to ${layer || "its layer"}.`;
    if (action === "dismiss") return "Dismissed; no label changed.";
    return `${action === "escalate" ? "Escalated" : "Assigned"} to ${c.assignee}.`;
  }

  async function reload(tr) {
    try {
      const out = await api(`${base}${tr.dataset.case}`);
      setState(tr, out.case);
      tr.classList.remove("conflict");
      message(tr, `Reloaded: the case is ${out.case.state} now (version ${out.case.version}).`, "ok");
      await showLog(tr, out.case);
    } catch (error) {
      message(tr, `Could not reload: ${error.message}`, "error");
    }
  }

  async function showLog(tr, known = null) {
    const details = tr.querySelector("details.case-log");
    if (!details || !details.open) return;
    const c = known || (await api(`${base}${tr.dataset.case}`)).case;
    const list = details.querySelector("ol.events");
    list.replaceChildren(...c.events.map((e) => {
      const when = String(e.at).replace("T", " ").slice(0, 19);
      const move = e.from && e.from !== e.to ? ` ${e.from} → ${e.to}` : "";
      const item = el("li", {}, el("small", {}, when), " ", el("b", {}, e.actor), ` ${e.action}${move}`);
      if (e.data && e.data.label) item.append(" as ", el("b", { class: "label" }, e.data.label));
      if (e.data && e.data.layer) item.append(` in ${e.data.layer}`);
      if (e.note) item.append(": ", el("span", { class: "note" }, e.note));
      return item;
    }));
  }

  // What a decision sends: the action, its body, and the reason the reviewer gave (or a
  // default that says what they did: a reason is optional).
  function decision(tr, action, label = null) {
    const form = tr.querySelector("form.case-form");
    if (!form) return null;
    const typed = String(new FormData(form).get("reason") || "").trim();
    const version = Number(tr.dataset.version);
    const given = tr.dataset.given;
    if (action === "keep") {
      const reason = typed || (given ? `kept the given label (${given})` : "kept the labels as they are");
      return { action: "dismiss", body: { reason, expected_version: version } };
    }
    if (action === "dismiss") {
      return { action, body: { reason: typed || "dismissed in the review queue", expected_version: version } };
    }
    if (action === "escalate" || action === "assign") {
      const assignee = form.querySelector("select[name=assignee]");
      if (!assignee || !assignee.value) return null;
      return { action, body: { assignee: assignee.value, note: typed || null, expected_version: version } };
    }
    const editor = editors.get(tr);
    if (tr.querySelector(".case-decision")) {
      // A box case: the choice in the row, and the boxes as edited in its decision editor.
      const chosen = form.querySelector("select[name=label]").value;
      const body = { label: chosen, reason: typed || `decided the boxes (from ${chosen})`, expected_version: version };
      // Only boxes the reviewer edited, and only for the choice the editor shows (a choice
      // just changed may still be loading): otherwise the choice alone decides.
      const shown = tr.querySelector(".case-decision").dataset.choice;
      if (editor && editor.ready && editor.dirty && shown === chosen) body.boxes = editor.payload();
      return { action: "resolve", body };
    }
    const select = form.querySelector("select[name=label]");
    let chosen = label || (select ? select.value : "");
    const option = select && Array.from(select.options).find((o) => (label ? o.value === label : o.selected));
    let words = option ? option.textContent.trim() : chosen;
    if (!label && option && option.dataset.edited) {
      // A value of the reviewer's own (a tag set, a number): sent as the kind's parse reads it.
      chosen = entered(tr);
      if (chosen === null) return { error: "Write the value first: it is empty or outside the range." };
      words = `${words}: ${chosen}`;
    }
    if (!chosen) return { error: "Choose a decision first." };
    const why = chosen === tr.dataset.suggested ? `accepted the suggestion (${words})` : `chose ${words}`;
    return { action: "resolve", body: { label: chosen, reason: typed || why, expected_version: version } };
  }

  // -- a value of the reviewer's own (the kind's entry: a tag set, a number) --------------------
  function entered(tr) {
    const entry = tr.querySelector(".decision-entry");
    if (!entry) return null;
    if (entry.dataset.input === "set") {
      return JSON.stringify(Array.from(entry.querySelectorAll("input[type=checkbox]:checked")).map((b) => b.value));
    }
    const input = entry.querySelector("input");
    if (!input || input.value.trim() === "" || !input.checkValidity()) return null;
    return input.value.trim();
  }

  // The entry shows the value of the choice picked (where an edit starts from); an edit picks
  // "edited" in the list.
  function fillEntry(tr) {
    const select = tr.querySelector("select.decision-choice");
    const entry = tr.querySelector(".decision-entry");
    const option = select && select.selectedOptions[0];
    if (!entry || !option || option.dataset.edited || !option.dataset.value) return;
    const value = JSON.parse(option.dataset.value);
    if (entry.dataset.input === "set") {
      entry.querySelectorAll("input[type=checkbox]").forEach((b) => { b.checked = Array.isArray(value) && value.includes(b.value); });
    } else {
      const input = entry.querySelector("input");
      if (input) input.value = value === null ? "" : String(value);
    }
  }

  function markEdited(tr) {
    const select = tr.querySelector("select.decision-choice");
    const edited = select && select.querySelector("option[data-edited]");
    if (edited) select.value = edited.value;
    if (edited) edited.selected = true;
  }

  function toggleTag(tr, tag) {
    const box = tr.querySelector(`.decision-entry[data-input=set] input[value="${CSS.escape(tag)}"]`);
    if (!box) return false;
    box.checked = !box.checked;
    markEdited(tr);
    return true;
  }

  // -- a box case's decision, in the box editor ---------------------------------------------------
  const editors = new Map(); // row -> BoxEditor of its decision

  async function loadDecision(tr) {
    const host = tr && tr.querySelector(".case-decision");
    if (!host || !isActive(tr) || typeof assayBoxes === "undefined") return;
    const select = tr.querySelector("form.case-form select[name=label]");
    const choice = select ? select.value : "accept";
    if (host.dataset.choice === choice) return;
    host.dataset.choice = choice;
    try {
      const data = await api(`${host.dataset.decisionUrl}?choice=${encodeURIComponent(choice)}`);
      let editor = editors.get(tr);
      if (editor) editor.load(data, data.layers[0].layer);
      else {
        editor = new assayBoxes.BoxEditor(host, data, {
          layer: data.layers[0].layer,
          active: () => current === tr && isActive(tr),
          onEnter: () => act("resolve", performance.now()),
          heightShare: 0.3,
          noUnloadGuard: true,
        });
        editors.set(tr, editor);
      }
      editor.ready = true;
      editor.say(`Decision: ${data.what}. Click a box, then a class key to change its class.`);
      host.dataset.ready = "1";
    } catch (error) {
      host.dataset.choice = "";
      message(tr, `Could not load the decision's boxes: ${error.message}`, "error");
    }
  }

  if (table) {
    table.addEventListener("change", (event) => {
      const tr = event.target.closest && event.target.closest("tr.case");
      if (tr && event.target.matches("select[name=label]") && tr.querySelector(".case-decision")) loadDecision(tr);
      if (tr && event.target.matches("select.decision-choice")) fillEntry(tr);
    });
    table.addEventListener("input", (event) => {
      const tr = event.target.closest && event.target.closest("tr.case");
      if (tr && event.target.closest(".decision-entry")) markEdited(tr);
    });
  }

  async function send(tr, planned) {
    setPending(1);
    try {
      const out = await api(`${base}${tr.dataset.case}/${planned.action}`, { method: "POST", json: planned.body });
      tr.classList.remove("conflict");
      setState(tr, out.case);
      const last = out.case.events[out.case.events.length - 1] || {};
      message(tr, summary(planned.action, out.case, last.data && last.data.layer), "ok");
      updateCounts(out.counts);
      await showLog(tr, out.case);
      return true;
    } catch (error) {
      tr.classList.remove("decided");
      if (error.status === 409) {
        tr.classList.add("conflict");
        const again = el("button", { type: "button", class: "reload" }, "Reload this case");
        again.addEventListener("click", () => reload(tr));
        message(tr, `Not saved: ${error.message} `, "error", again);
      } else {
        message(tr, `Not saved: ${error.message}`, "error");
      }
      say(`Case ${tr.dataset.case} not saved: ${error.message}`, "error");
      return false;
    } finally {
      setPending(-1);
    }
  }

  async function comment(form, tr) {
    const input = form.querySelector("input[name=text]");
    const text = input.value.trim();
    if (!text) return;
    try {
      await api(`${base}${tr.dataset.case}/comment`, { method: "POST", json: { text } });
      input.value = "";
      const out = await api(`${base}${tr.dataset.case}`);
      tr.dataset.version = String(out.case.version);
      await showLog(tr, out.case);
    } catch (error) {
      message(tr, `Comment not saved: ${error.message}`, "error");
    }
  }

  // -- moving through the queue ----------------------------------------------------------------

  function show(tr, start = null) {
    if (current) current.classList.remove("current");
    current = tr;
    if (!tr) {
      table.dataset.current = "";
      return;
    }
    tr.classList.add("current");
    table.dataset.current = tr.dataset.case;
    loadDecision(tr);
    (tr.cells[0] || tr).scrollIntoView({ block: "nearest", inline: "nearest" });
    if (start !== null) {
      requestAnimationFrame(() => performance.measure("assay:review-next", { start, end: performance.now() }));
    }
    const all = rows();
    if (all.length - all.indexOf(tr) <= 5) prefetch();
  }

  // The next page's rows, rendered by the server, appended when its columns are the same.
  function prefetch() {
    const link = document.getElementById("next-cases");
    if (loading || !link || link.dataset.appended === "no") return loading;
    loading = fetch(link.href, { credentials: "same-origin" })
      .then((response) => response.text())
      .then((html) => {
        const doc = new DOMParser().parseFromString(html, "text/html");
        const head = (t) => Array.from(t.querySelectorAll("thead th")).map((th) => th.textContent);
        const other = doc.getElementById("cases");
        if (!other || head(other).join("|") !== head(table).join("|")) {
          link.dataset.appended = "no";
          return;
        }
        const body = table.querySelector("tbody");
        for (const tr of other.querySelectorAll("tbody tr.case")) body.append(document.adoptNode(tr));
        const more = doc.getElementById("next-cases");
        if (more) link.href = more.getAttribute("href");
        else link.remove();
      })
      .catch(() => { link.dataset.appended = "no"; })
      .finally(() => { loading = null; });
    return loading;
  }

  async function advance(start, onlyActive = true) {
    let all = rows();
    let from = current ? all.indexOf(current) : -1;
    for (let pass = 0; pass < 2; pass += 1) {
      const next = all.slice(from + 1).find((tr) => !onlyActive || isActive(tr));
      if (next) {
        show(next, start);
        return;
      }
      await prefetch();
      all = rows();
    }
    const link = document.getElementById("next-cases");
    if (link && link.dataset.appended === "no") {
      window.location.href = link.href;
      return;
    }
    say("No more cases on this page.", "ok");
  }

  function back(start) {
    const all = rows();
    const at = all.indexOf(current);
    if (at > 0) show(all[at - 1], start);
  }

  function act(action, start, label = null) {
    const tr = current;
    if (!tr || !isActive(tr)) {
      say("This case is decided already: move to another (j / k).", "error");
      return;
    }
    const planned = decision(tr, action, label);
    if (!planned || planned.error) {
      const why = planned ? planned.error : action === "escalate" ? "No reviewer to escalate to." : "You may not decide this case.";
      say(why, "error");
      if (planned) message(tr, why, "error");
      return;
    }
    if (planned.action === "resolve" || planned.action === "dismiss") tr.classList.add("decided");
    send(tr, planned);
    advance(start);
  }

  // -- bulk accept -----------------------------------------------------------------------------

  const bulkButton = document.getElementById("bulk-accept");

  function selected() {
    return rows().filter((tr) => tr.classList.contains("selected") && isActive(tr));
  }

  function updateSelection() {
    const n = selected().length;
    const count = document.getElementById("bulk-n");
    if (count) count.textContent = String(n);
    if (bulkButton) bulkButton.disabled = n === 0;
  }

  function toggle(tr, on = null) {
    const box = tr.querySelector("input.pick");
    if (!box) return;
    box.checked = on === null ? !box.checked : on;
    tr.classList.toggle("selected", box.checked);
    updateSelection();
  }

  async function bulkAccept() {
    const picked = selected();
    if (!picked.length) return;
    const cases = picked.map((tr) => {
      const form = tr.querySelector("form.case-form");
      const label = tr.dataset.suggested || form.querySelector("select[name=label]").value;
      return { id: Number(tr.dataset.case), label, expected_version: Number(tr.dataset.version) };
    });
    if (bulkButton) bulkButton.disabled = true;
    setPending(1);
    try {
      const out = await api(table.dataset.bulk, { method: "POST", json: { cases, reason: "accepted the suggestion (bulk)" } });
      const byId = Object.fromEntries(picked.map((tr) => [tr.dataset.case, tr]));
      for (const c of out.resolved) {
        const tr = byId[String(c.id)];
        setState(tr, c);
        message(tr, c.resolved_label === null || c.resolved_label === undefined ? "Resolved." : `Resolved as ${c.resolved_label}.`, "ok");
      }
      for (const f of out.failed) message(byId[String(f.id)], `Not saved: ${f.error}`, "error");
      updateCounts(out.counts);
      say(`${out.resolved.length} accepted${out.failed.length ? `, ${out.failed.length} not saved` : ""}.`,
        out.failed.length ? "error" : "ok");
    } catch (error) {
      say(`Bulk accept failed: ${error.message}`, "error");
    } finally {
      setPending(-1);
      updateSelection();
    }
  }

  if (!table) return;
  table.dataset.pending = "0";

  table.addEventListener("submit", (event) => {
    const form = event.target;
    const tr = form.closest("tr.case");
    if (!tr) return;
    event.preventDefault();
    if (form.classList.contains("comment-form")) {
      comment(form, tr);
      return;
    }
    const planned = decision(tr, event.submitter ? event.submitter.value : "resolve");
    if (planned && planned.error) message(tr, planned.error, "error");
    else if (planned) send(tr, planned);
  });
  table.addEventListener("toggle", (event) => {
    const tr = event.target.closest("tr.case");
    if (tr && event.target.open) showLog(tr).catch((error) => message(tr, error.message, "error"));
  }, true);
  table.addEventListener("change", (event) => {
    if (!event.target.matches("input.pick")) return;
    const tr = event.target.closest("tr.case");
    tr.classList.toggle("selected", event.target.checked);
    updateSelection();
  });
  table.addEventListener("click", (event) => {
    const tr = event.target.closest("tr.case");
    if (tr && tr !== current && !event.target.closest("a, button, input, select, img")) show(tr);
  });
  if (bulkButton) bulkButton.addEventListener("click", bulkAccept);

  document.addEventListener("keydown", (event) => {
    if (box) {
      if (event.key === "Escape") closeZoom();
      else if (event.key === "+" || event.key === "=") setZoom(zoom * 1.25);
      else if (event.key === "-") setZoom(zoom * 0.8);
      event.preventDefault();
      return;
    }
    const target = event.target;
    if (target.closest && target.closest("input, select, textarea")) {
      if (event.key === "Escape") target.blur();
      return;
    }
    if ((event.key === "Enter" || event.key === " ") && target.closest && target.closest("a, button, summary")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const start = event.timeStamp;
    const key = event.key;
    if (event.shiftKey && /^Digit[1-9]$/.test(event.code)) {
      const preset = presets[Number(event.code.slice(5)) - 1];
      const input = current && current.querySelector("input[name=reason]");
      if (preset && input) {
        input.value = preset;
        say(`Reason: ${preset}`);
      }
      event.preventDefault();
      return;
    }
    if (key === "A" && event.shiftKey && canReview) bulkAccept();
    else if (key === "j" || key === "ArrowDown") advance(start, false);
    else if (key === "k" || key === "ArrowUp") back(start);
    else if (key === "s") advance(start);
    else if (key === "v" && current) {
      const img = current.querySelector("img.zoomable");
      if (img) openZoom(img);
    } else if (!canReview) return;
    else if (key === "a" || key === "Enter") act("resolve", start, current && current.dataset.suggested ? current.dataset.suggested : null);
    else if (key === "g") act("keep", start);
    else if (key === "e") act("escalate", start);
    else if (key === "x" && current) toggle(current);
    else if (key in keyClass && current && current.querySelector(".case-decision")) {
      say("This case decides boxes: click a box in its decision, then press a class key.", "error");
    } else if (key in keyClass && current && current.dataset.decides) {
      // A case about another kind: a class key toggles that tag in an edited tag set; it
      // never resolves with a class name.
      if (!toggleTag(current, keyClass[key])) {
        say(`This case decides a ${current.dataset.decides} value: choose it in the row's list.`, "error");
      }
    } else if (key in keyClass) act("resolve", start, keyClass[key]);
    else return;
    event.preventDefault();
  });

  show(rows().find(isActive) || rows()[0] || null);
})();
