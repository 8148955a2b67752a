// The item page: ← and → step to the previous and next item of the grid the page was opened
// from (its filter and order travel in the links), and the label form picks a class by the
// key the labeling queue shows for it in the chosen layer (assay.labels.hotkeys). Neither
// acts while typing in a field.
"use strict";

(() => {
  const form = document.getElementById("label-form");
  const layerSelect = document.getElementById("label-layer");
  const classSelect = document.getElementById("label-class");
  const keys = form ? JSON.parse(form.dataset.keys || "{}") : {};

  // Show each class's key for the chosen layer next to its name.
  function showKeys() {
    const own = keys[layerSelect.value] || {};
    for (const option of classSelect.options) {
      const name = option.dataset.name;
      if (name === undefined) continue;
      option.textContent = own[name] ? `${name}  [${own[name]}]` : name;
    }
  }

  function classOfKey(key) {
    const own = keys[layerSelect.value] || {};
    return Object.keys(own).find((name) => own[name] === key);
  }

  if (form) {
    layerSelect.addEventListener("change", showKeys);
    showKeys();
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, select, textarea, [contenteditable]")) return;
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      const link = document.getElementById(event.key === "ArrowLeft" ? "prev-item" : "next-item");
      if (!link) return;
      event.preventDefault();
      window.location.href = link.href;
      return;
    }
    if (!form || !layerSelect.value) return;
    const name = classOfKey(event.key);
    if (name === undefined) return;
    event.preventDefault();
    classSelect.value = name;
  });
})();
