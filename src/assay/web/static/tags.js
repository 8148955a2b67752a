// The tags editor (a kind's part of static/kinds.js): one toggle chip per tag of the
// dataset, with the key that toggles it (the layer's keys, assay.labels.hotkeys); a toggle
// shows at once, saving sends the whole set in the dataset's class order ([] = no tag).
"use strict";

(() => {
  const { el } = assay;
  assay.kindEditors = assay.kindEditors || {};
  assay.kindEditors.tags = (body, layer, changed) => {
    const classes = layer.classes || [];
    const on = new Set();
    const chips = classes.map((c) => {
      const chip = el("button", { type: "button", class: "tag-chip", "data-tag": c.name, "aria-pressed": "false" },
        c.key ? el("kbd", {}, c.key) : el("kbd", { class: "none" }, "·"), ` ${c.name}`);
      chip.addEventListener("click", () => toggle(c.name));
      return chip;
    });
    const byKey = {};
    for (const c of classes) if (c.key) byKey[c.key] = c.name;
    body.replaceChildren(el("div", { class: "tag-chips", role: "group", "aria-label": `tags of ${layer.layer || layer.name}` }, ...chips));

    function paint() {
      for (const chip of chips) {
        const pressed = on.has(chip.dataset.tag);
        chip.setAttribute("aria-pressed", String(pressed));
        chip.classList.toggle("on", pressed);
      }
    }

    function toggle(name) {
      if (on.has(name)) on.delete(name);
      else on.add(name);
      paint();
      changed();
    }

    return {
      set(value) {
        on.clear();
        for (const t of value || []) on.add(t);
        paint();
      },
      get() {
        return classes.map((c) => c.name).filter((n) => on.has(n));
      },
      key(event) {
        const name = byKey[event.key];
        if (name === undefined) return false;
        toggle(name);
        return true;
      },
      show(value) {
        return value && value.length ? value.join(", ") : "(no tags)";
      },
    };
  };
})();
