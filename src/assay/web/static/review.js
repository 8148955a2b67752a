// The review queue: escalate, resolve or dismiss a case in place, read and add to its log.
// Every decision sends the case version the page was showing; if someone else changed the
// case in between, the server answers 409 and the row says so (nothing was written).
"use strict";

(() => {
  const table = document.getElementById("cases");
  if (!table) return;
  const { api, el } = assay;
  const base = table.dataset.api;
  const ACTIVE = ["open", "escalated"];

  function message(tr, text, kind, ...extra) {
    const box = tr.querySelector(".case-msg");
    box.className = `case-msg ${kind}`;
    box.setAttribute("role", kind === "error" ? "alert" : "status");
    box.replaceChildren(text, ...extra);
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
    if (!form) return;
    if (!ACTIVE.includes(c.state)) {
      form.remove();
      return;
    }
    const hand = form.querySelector("button[value=escalate], button[value=assign]");
    if (hand) {
      hand.value = c.state === "escalated" ? "assign" : "escalate";
      hand.textContent = c.state === "escalated" ? "Reassign" : "Escalate";
    }
  }

  function summary(action, c) {
    if (action === "resolve") return `Resolved as ${c.resolved_label}: written to the reviewed layer.`;
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
      if (e.note) item.append(": ", el("span", { class: "note" }, e.note));
      return item;
    }));
  }

  async function decide(form, tr, action) {
    const data = new FormData(form);
    const version = Number(tr.dataset.version);
    const reason = String(data.get("reason") || "").trim();
    let body;
    if (action === "resolve") body = { label: data.get("label"), reason, expected_version: version };
    else if (action === "dismiss") body = { reason, expected_version: version };
    else body = { assignee: data.get("assignee"), expected_version: version };
    if ((action === "resolve" || action === "dismiss") && !reason) {
      message(tr, `Say why (the reason) before you ${action}.`, "error");
      form.querySelector("input[name=reason]").focus();
      return;
    }
    const controls = Array.from(form.querySelectorAll("button, select, input"));
    controls.forEach((c) => { c.disabled = true; });
    try {
      const out = await api(`${base}${tr.dataset.case}/${action}`, { method: "POST", json: body });
      tr.classList.remove("conflict");
      setState(tr, out.case);
      message(tr, summary(action, out.case), "ok");
      await showLog(tr, out.case);
    } catch (error) {
      if (error.status === 409) {
        tr.classList.add("conflict");
        const again = el("button", { type: "button", class: "reload" }, "Reload this case");
        again.addEventListener("click", () => reload(tr));
        message(tr, `Not saved: ${error.message} `, "error", again);
      } else {
        message(tr, `Not saved: ${error.message}`, "error");
      }
    } finally {
      controls.forEach((c) => { c.disabled = false; });
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

  table.addEventListener("submit", (event) => {
    const form = event.target;
    const tr = form.closest("tr.case");
    if (!tr) return;
    event.preventDefault();
    if (form.classList.contains("comment-form")) {
      comment(form, tr);
    } else {
      decide(form, tr, event.submitter ? event.submitter.value : "resolve");
    }
  });
  table.addEventListener("toggle", (event) => {
    const tr = event.target.closest("tr.case");
    if (tr && event.target.open) showLog(tr).catch((error) => message(tr, error.message, "error"));
  }, true);
})();
