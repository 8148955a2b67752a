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

  const pct = (x) => `${(100 * x).toFixed(1)} %`;

  // The bins from the first to the last non-empty one (pixel sizes span 1 to 16,384 px).
  function trim(hist) {
    const c = hist.counts;
    const first = c.findIndex((n) => n > 0);
    if (first < 0) return hist;
    let last = c.length - 1;
    while (c[last] === 0) last -= 1;
    return { edges: hist.edges.slice(first, last + 2), counts: c.slice(first, last + 1) };
  }

  // A box layer: how many images it boxed, the histograms of its boxes and its class table.
  function boxLayer(name, b) {
    const tag = (box) => {
      box.classList.add("box-stats");
      box.dataset.layer = name;
      return box;
    };
    const per = b.boxes_per_image;
    tag(panel(`Boxes · ${name}`, el("p", { class: "box-summary" },
      `${formatNumber(b.n_boxes)} boxes in ${formatNumber(b.n_annotated)} annotated images` +
      (per.mean === null ? "" : ` (mean ${formatNumber(per.mean)}, max ${formatNumber(per.max)} per image)`) +
      ` · ${formatNumber(b.n_empty)} with no boxes · ${formatNumber(b.n_not_annotated)} not annotated` +
      ` · ${formatNumber(b.n_touching_edge)} touching the edge (${pct(b.touching_edge_share)})`)));
    if (per.histogram.counts.length) {
      tag(panel(`Boxes per image · ${name}`, charts.histogram(per.histogram),
        "annotated images by their number of boxes"));
    }
    const table = el("table", { class: "table box-classes" },
      el("thead", {}, el("tr", {}, el("th", {}, "class"), el("th", { class: "num" }, "boxes"),
        el("th", { class: "num" }, "share"), el("th", { class: "num" }, "images"))));
    const body = el("tbody");
    for (const [cls, n] of sorted(b.classes)) {
      body.append(el("tr", {}, el("td", {}, cls), el("td", { class: "num" }, formatNumber(n)),
        el("td", { class: "num" }, pct(b.class_shares[cls] || 0)),
        el("td", { class: "num" }, formatNumber((b.images_per_class || {})[cls] || 0))));
    }
    table.append(body);
    tag(panel(`Box classes · ${name}`, el("div", {},
      charts.bars(sorted(b.classes)), table), "boxes per class, and the images holding one"));
    const figures = [
      ["Box width / image width", b.relative.width, false],
      ["Box height / image height", b.relative.height, false],
      ["Box area / image area", b.relative.area, false],
      ["Box aspect ratio (width / height)", b.aspect_ratio, true],
      ["Box width (pixels)", b.width, true],
      ["Box height (pixels)", b.height, true],
    ];
    if (b.scores) figures.push(["Box scores", b.scores, false]);
    for (const [title, f, trimmed] of figures) {
      if (!f.count) continue;
      const hist = trimmed ? trim(f.histogram) : f.histogram;
      tag(panel(`${title} · ${name}`, charts.histogram(hist),
        `mean ${formatNumber(f.mean)} · min ${formatNumber(f.min)} · max ${formatNumber(f.max)}`));
    }
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
      if (layer.boxes) {
        boxLayer(layer.name, layer.boxes);
        continue;
      }
      if (layer.values) continue; // tags, spans, numbers: the kind's own card below shows them
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
