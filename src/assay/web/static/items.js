// The items grid: multi-select with a running count, and "label selected as ..." in a layer
// the user may write to (one all-or-nothing bulk write through the API), refused until both
// the class and the layer are chosen; the sort, model, tile size and page size controls apply
// at once.
"use strict";

(() => {
  // The view controls change the URL (so it remembers them) as soon as they change.
  for (const id of ["grid-sort", "grid-size", "grid-limit", "grid-model", "grid-boxes"]) {
    const control = document.getElementById(id);
    if (control) control.addEventListener("change", () => control.form.requestSubmit());
  }

  const grid = document.getElementById("grid");
  const all = document.getElementById("select-all");
  const count = document.getElementById("selected-count");
  const form = document.getElementById("bulk-form");
  const apply = document.getElementById("bulk-apply");
  const status = document.getElementById("bulk-status");
  if (!grid || !all || !count) return;
  const picks = () => Array.from(grid.querySelectorAll("input.pick"));
  const chosen = () => picks().filter((box) => box.checked);

  function update() {
    const boxes = chosen();
    count.textContent = `${boxes.length} selected`;
    all.checked = boxes.length > 0 && boxes.length === picks().length;
    all.indeterminate = boxes.length > 0 && !all.checked;
    for (const box of picks()) {
      box.closest("[data-id]").classList.toggle("picked", box.checked);
    }
    if (apply) apply.disabled = boxes.length === 0;
  }

  grid.addEventListener("change", (event) => {
    if (event.target.matches("input.pick")) update();
  });
  all.addEventListener("change", () => {
    for (const box of picks()) box.checked = all.checked;
    update();
  });

  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const boxes = chosen();
      if (!boxes.length) return;
      const layer = form.querySelector("#bulk-layer").value;
      const value = form.querySelector("#bulk-class").value;
      // A write needs an explicit choice: nothing is preselected, nothing is guessed.
      const missing = [value ? "" : "a class (or to clear the label)", layer ? "" : "a layer"].filter(Boolean);
      if (missing.length) {
        status.className = "error";
        status.textContent = `Nothing was written: choose ${missing.join(" and ")} first.`;
        return;
      }
      const label = value === "__clear__" ? null : value;
      const items = boxes.map((box) => Number(box.value));
      apply.disabled = true;
      status.className = "";
      status.textContent = `Labeling ${items.length} items…`;
      try {
        const out = await assay.api(form.dataset.url, { method: "POST", json: { layer, label, items } });
        if (layer === form.dataset.gridLayer) {
          for (const box of boxes) {
            const shown = box.closest("[data-id]").querySelector(".label");
            if (shown) shown.textContent = label === null ? "—" : label;
          }
        }
        for (const box of boxes) box.checked = false;
        status.className = "ok";
        status.textContent = `${label === null ? "Cleared" : `Labeled ${out.items} items as ${label}`} in ${layer}` +
          ` (${out.written} written, ${out.unchanged} unchanged).`;
      } catch (error) {
        status.className = "error";
        status.textContent = `Nothing was written: ${error.message}`;
      } finally {
        update();
      }
    });
  }
  update();
})();
