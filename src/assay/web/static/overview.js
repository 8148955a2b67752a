// The dataset overview: fetch the inventory from the API and draw it.
"use strict";

(() => {
  const root = document.getElementById("overview");
  if (!root) return;
  const status = document.getElementById("stats-status");
  const cards = document.getElementById("stats-cards");
  const area = document.getElementById("stats-charts");
  const itemsUrl = root.dataset.itemsUrl;
  const { el, formatNumber } = assay;

  const sorted = (counts) => Object.entries(counts || {}).sort((a, b) => b[1] - a[1]);
  const gridLink = (filter) => `${itemsUrl}?filter=${encodeURIComponent(filter)}`;

  function card(label, value) {
    cards.append(el("div", { class: "stat" }, el("span", { class: "n" }, value), el("span", {}, label)));
  }

  function panel(title, chart, note) {
    const box = el("figure", { class: "panel card" }, el("figcaption", {}, title), chart);
    if (note) box.append(el("p", { class: "sub" }, note));
    area.append(box);
    return box;
  }

  function summary(feature) {
    return `mean ${formatNumber(feature.mean)} · std ${formatNumber(feature.std)} · ` +
      `min ${formatNumber(feature.min)} · median ${formatNumber(feature.p50)} · max ${formatNumber(feature.max)}` +
      (feature.missing ? ` · ${formatNumber(feature.missing)} missing` : "");
  }

  function draw(stats) {
    card("items", formatNumber(stats.n_items));
    for (const [kind, n] of sorted(stats.kinds)) card(`${kind} items`, formatNumber(n));
    if (stats.duplicates && stats.duplicates.n_groups) {
      card("duplicate groups", formatNumber(stats.duplicates.n_groups));
    }
    if (Object.keys(stats.splits || {}).length) {
      panel("Items per split", charts.bars(sorted(stats.splits), { href: (s) => gridLink(`split=${s}`) }));
    }
    const layers = stats.layers || [];
    if (layers.length) {
      const box = el("div", { class: "meters" });
      for (const layer of layers) {
        box.append(el("div", { class: "meter-name" }, layer.name), charts.meter(layer.coverage));
      }
      panel("Label coverage per layer", box, "share of the items with a current label");
    }
    for (const layer of layers) {
      panel(`Class balance · ${layer.name}`,
        charts.bars(sorted(layer.classes), { href: (c) => gridLink(`label[${layer.name}]=${c}`) }),
        `${formatNumber(layer.n_labeled)} labeled`);
    }
    const authors = {};
    for (const layer of layers) {
      for (const [who, n] of Object.entries(layer.authors || {})) authors[who] = (authors[who] || 0) + n;
    }
    if (Object.keys(authors).length) {
      panel("Annotator activity", charts.bars(sorted(authors)), "current labels per author, all layers");
    }
    if (stats.images) {
      const img = stats.images;
      if (img.sizes) panel("Image sizes", charts.bars(sorted(img.sizes)));
      for (const key of ["pixel_mean", "pixel_std", "width", "height"]) {
        if (img[key] && img[key].histogram && img[key].min !== img[key].max) {
          panel(`Image ${key.replace("_", " ")}`, charts.histogram(img[key].histogram), summary(img[key]));
        }
      }
    }
    if (stats.text && stats.text.length) {
      panel("Text length (characters)", charts.histogram(stats.text.length.histogram), summary(stats.text.length));
    }
    for (const [name, feature] of Object.entries(stats.features || {})) {
      if (feature.histogram) panel(`Feature ${name}`, charts.histogram(feature.histogram), summary(feature));
    }
    for (const [name, counts] of Object.entries(stats.categorical || {})) {
      panel(`Feature ${name}`, charts.bars(sorted(counts)));
    }
  }

  assay.api(root.dataset.statsUrl)
    .then((stats) => {
      status.remove();
      draw(stats);
      root.dataset.ready = "true";
    })
    .catch((error) => {
      status.textContent = `Could not compute the statistics: ${error.message}`;
      status.classList.add("error");
    });
})();
