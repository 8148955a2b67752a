// The items grid: multi-select with a running count (bulk actions will use the selection).
"use strict";

(() => {
  const grid = document.getElementById("grid");
  const all = document.getElementById("select-all");
  const count = document.getElementById("selected-count");
  const bulk = document.getElementById("bulk-action");
  if (!grid || !all || !count) return;
  const picks = () => Array.from(grid.querySelectorAll("input.pick"));

  function update() {
    const chosen = picks().filter((box) => box.checked);
    count.textContent = `${chosen.length} selected`;
    all.checked = chosen.length > 0 && chosen.length === picks().length;
    all.indeterminate = chosen.length > 0 && !all.checked;
    for (const box of picks()) {
      box.closest("[data-id]").classList.toggle("picked", box.checked);
    }
    if (bulk) bulk.dataset.ids = chosen.map((box) => box.value).join(",");
  }

  grid.addEventListener("change", (event) => {
    if (event.target.matches("input.pick")) update();
  });
  all.addEventListener("change", () => {
    for (const box of picks()) box.checked = all.checked;
    update();
  });
  update();
})();
