// The number editor (a kind's part of static/kinds.js): a number field with the layer's
// range and step (min, max, integer, unit from the layer's options); a small range of whole
// numbers (a rating 1-5) gets a button per value, picked by its digit key too. The range is
// the library's rule: the server's message for a value outside it is shown under the field.
"use strict";

(() => {
  const { el } = assay;
  const SMALL = 10; // up to this many whole values: buttons with keys

  assay.kindEditors = assay.kindEditors || {};
  assay.kindEditors.number = (body, layer, changed) => {
    const o = layer.options || {};
    const hasMin = typeof o.min === "number";
    const hasMax = typeof o.max === "number";
    const attrs = { type: "number", class: "ke-number", inputmode: o.integer ? "numeric" : "decimal",
      step: o.integer ? "1" : "any", "aria-label": `value in ${layer.layer || layer.name}` };
    if (hasMin) attrs.min = o.min;
    if (hasMax) attrs.max = o.max;
    const input = el("input", attrs);
    input.addEventListener("input", () => { paint(); changed(); });
    const range = hasMin || hasMax
      ? `from ${hasMin ? o.min : "−∞"} to ${hasMax ? o.max : "∞"}${o.integer ? ", whole numbers" : ""}`
      : (o.integer ? "whole numbers" : "any number");
    const parts = [el("label", { class: "ke-field" }, input, o.unit ? ` ${o.unit}` : "")];
    const buttons = [];
    const byKey = {};
    if (o.integer && hasMin && hasMax && o.max - o.min < SMALL) {
      for (let v = o.min; v <= o.max; v += 1) {
        const key = v >= 0 && v <= 9 ? String(v) : null;
        const b = el("button", { type: "button", class: "rating", "data-value": v, "aria-pressed": "false" },
          key ? el("kbd", {}, key) : "", ` ${v}`);
        b.addEventListener("click", () => pick(v));
        if (key) byKey[key] = v;
        buttons.push(b);
      }
      parts.unshift(el("div", { class: "ratings", role: "group" }, ...buttons));
    }
    parts.push(el("p", { class: "sub ke-range" }, `Range: ${range}${o.unit ? ` (${o.unit})` : ""}.`));
    body.replaceChildren(...parts);

    function paint() {
      for (const b of buttons) {
        const pressed = input.value !== "" && Number(input.value) === Number(b.dataset.value);
        b.setAttribute("aria-pressed", String(pressed));
        b.classList.toggle("on", pressed);
      }
    }

    function pick(v) {
      input.value = String(v);
      paint();
      changed();
    }

    const editor = {
      missing: "Type a value first.",
      set(value) {
        input.value = value === null || value === undefined ? "" : String(value);
        paint();
        if (!buttons.length && body.closest("[data-mode='queue']")) input.focus();
      },
      get() {
        if (input.value.trim() === "") return undefined;
        const v = Number(input.value);
        if (!Number.isFinite(v)) {
          editor.missing = `${input.value} is not a number.`;
          return undefined;
        }
        return v;
      },
      key(event) {
        if (!(event.key in byKey)) return false;
        pick(byKey[event.key]);
        return true;
      },
      show(value) {
        return value === null || value === undefined ? "no value" : `${value}${o.unit ? ` ${o.unit}` : ""}`;
      },
    };
    return editor;
  };
})();
