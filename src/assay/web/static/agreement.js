// The agreement page: fetch the report and draw it (summary cards, per-class agreement bars,
// the pairwise kappa table, annotator quality), then the confusion matrix of the chosen pair,
// whose cells open the items behind them in the grid.
"use strict";

(() => {
  const root = document.getElementById("agreement");
  if (!root) return;
  const { api, el, formatNumber } = assay;
  const status = document.getElementById("agreement-status");
  const cards = document.getElementById("agreement-cards");
  const area = document.getElementById("agreement-charts");
  const pairA = document.getElementById("pair-a");
  const pairB = document.getElementById("pair-b");
  const confusionBox = document.getElementById("confusion");

  const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)} %`);
  const num3 = (v) => (v === null || v === undefined ? "—" : v.toFixed(3));
  // Landis & Koch's bands, for colouring kappa cells.
  const band = (k) => (k === null ? "na" : k >= 0.8 ? "high" : k >= 0.6 ? "good" : k >= 0.4 ? "fair" : "low");

  function card(label, value, hint) {
    const box = el("div", { class: "stat" }, el("span", { class: "n" }, value), el("span", {}, label));
    if (hint) box.setAttribute("title", hint);
    cards.append(box);
  }

  function panel(title, body, note) {
    const box = el("figure", { class: "panel card" }, el("figcaption", {}, title), body);
    if (note) box.append(el("p", { class: "sub" }, note));
    area.append(box);
    return box;
  }

  function table(head, rows, id) {
    const t = el("table", { class: "table", id });
    t.append(el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))));
    const body = el("tbody");
    for (const cells of rows) {
      const tr = el("tr");
      for (const c of cells) tr.append(c instanceof Node ? c : el("td", {}, c));
      body.append(tr);
    }
    t.append(body);
    return t;
  }

  // Box layers: boxes matched by IoU (F1 at 0.5, mean IoU, class agreement of matched boxes).
  function drawBoxes(report) {
    card("images compared", formatNumber(report.n_images_compared), "images two or more layers labeled");
    card("mean F1@0.5", pct(report.mean_f1), "mean over the pairs of layers: 2 matched / (boxes of one + boxes of the other)");
    card("mean IoU", num3(report.mean_iou), "of the boxes matched at IoU ≥ 0.5");
    card("class agreement", pct(report.class_agreement), "share of matched boxes of one class");
    const perClass = report.per_class.filter((c) => c.f1 !== null).map((c) => [c.name, c.f1]);
    panel("F1@0.5 per class", charts.bars(perClass, { top: 1, format: pct }),
      "boxes of the class matched in the class, pooled over the pairs of layers");
    const pairs = report.pairwise.map((p) => {
      const open = el("button", { type: "button", class: "link-button" }, "matrix");
      open.addEventListener("click", () => choosePair(p.a, p.b));
      return [p.a, p.b, el("td", { class: "num" }, formatNumber(p.n_images)),
        el("td", { class: "num" }, formatNumber(p.n_boxes_a)), el("td", { class: "num" }, formatNumber(p.n_boxes_b)),
        el("td", { class: "num" }, formatNumber(p.n_matched)), el("td", { class: "num f1" }, pct(p.f1)),
        el("td", { class: "num" }, num3(p.mean_iou)), el("td", { class: "num" }, pct(p.class_agreement)),
        el("td", { class: `num kappa kappa-${band(p.cohen_kappa)}` }, num3(p.cohen_kappa)), el("td", {}, open)];
    });
    panel("Pairs of box layers", table(["Layer", "Layer", "Images", "Boxes", "Boxes", "Matched", "F1@0.5",
      "Mean IoU", "Same class", "κ", ""], pairs, "pairwise"),
      `boxes matched one to one by IoU (Hungarian), a match at IoU ≥ ${report.iou_threshold}; κ of the matched boxes' classes`);
    if (report.layer_quality) {
      const rows = report.layer_quality.map((q) => [q.layer,
        el("td", { class: "num" }, formatNumber(q.n_images)), el("td", { class: "num" }, formatNumber(q.n_boxes)),
        el("td", { class: "num" }, formatNumber(q.n_reference_boxes)), el("td", { class: "num" }, pct(q.precision)),
        el("td", { class: "num" }, pct(q.recall)), el("td", { class: "num" }, pct(q.f1)),
        el("td", { class: "num" }, num3(q.mean_iou)), el("td", { class: "num" }, pct(q.class_agreement))]);
      panel(`Each layer against ${report.reference}`, table(["Layer", "Images", "Boxes", "Reference boxes",
        "Precision", "Recall", "F1@0.5", "Mean IoU", "Same class"], rows, "quality"), report.reference_rule);
    }
  }

  // Tag layers (multi-label): each tag a yes/no question (assay.labels.tag_agreement).
  function drawTags(report) {
    document.getElementById("confusion-card").hidden = true;  // no class x class matrix
    card("items compared", formatNumber(report.n_items_compared), "items two or more layers tagged");
    card("Krippendorff's α", num3(report.alpha), "nominal, over every (item, tag)");
    card("mean κ", num3(report.mean_kappa), "Cohen's kappa per tag and pair of layers, averaged");
    card("mean Jaccard", pct(report.mean_jaccard), "of two layers' tag sets, averaged over the pairs");
    const rows = report.per_tag.map((t) => [t.name, el("td", { class: "num" }, formatNumber(t.n_yes)),
      el("td", { class: `num kappa kappa-${band(t.alpha)}` }, num3(t.alpha)),
      el("td", { class: `num kappa kappa-${band(t.mean_kappa)}` }, num3(t.mean_kappa)),
      el("td", { class: "num" }, pct(t.positive_agreement))]);
    panel("Per tag", table(["Tag", "Given", "α", "Mean κ", "Positive agreement"], rows, "per-tag"),
      "α: Krippendorff's alpha of the tag; κ: Cohen's kappa of each pair of layers, averaged");
    const pairs = report.pairwise.map((p) => [p.a, p.b, el("td", { class: "num" }, formatNumber(p.n_items)),
      el("td", { class: "num" }, pct(p.exact)), el("td", { class: "num" }, pct(p.jaccard)),
      el("td", { class: `num kappa kappa-${band(p.mean_kappa)}` }, num3(p.mean_kappa))]);
    panel("Pairs of tag layers", table(["Layer", "Layer", "Items", "Same set", "Jaccard", "Mean κ"], pairs, "pairwise"));
    if (report.layer_quality) {
      const q = report.layer_quality.map((r) => [r.layer, el("td", { class: "num" }, formatNumber(r.n_items)),
        el("td", { class: "num" }, pct(r.f1)), el("td", { class: "num" }, pct(r.exact)),
        el("td", { class: "num" }, formatNumber(r.missed)), el("td", { class: "num" }, formatNumber(r.added))]);
      panel(`Each layer against ${report.reference}`, table(["Layer", "Items", "F1", "Same set", "Missed",
        "Added"], q, "quality"), report.reference_rule);
    }
  }

  // Number layers: Krippendorff's alpha (interval), ICC(2,1), mean absolute difference per pair.
  function drawNumbers(report) {
    card("items compared", formatNumber(report.n_items_with_2plus_labels), "items with at least two values");
    card("Krippendorff's α", num3(report.krippendorff_alpha_interval), "interval metric");
    card("ICC(2,1)", num3(report.icc_2_1), "over the items every layer labeled");
    card("tolerance", num3(report.tolerance), "values this close agree (layer option, else 5% of the range)");
    const pairs = report.pairs.map((p) => [p.a, p.b, el("td", { class: "num" }, formatNumber(p.n_items)),
      el("td", { class: "num" }, num3(p.alpha)), el("td", { class: "num" }, num3(p.mean_abs_difference)),
      el("td", { class: "num" }, pct(p.share_within_tolerance))]);
    panel("Pairs of number layers", table(["Layer", "Layer", "Items", "α (interval)", "Mean |a − b|",
      "Within tolerance"], pairs, "pairwise"), "over the items both layers labeled");
  }

  function draw(report) {
    if (report.kind === "boxes") {
      drawBoxes(report);
      return;
    }
    if (report.kind === "tags") {
      drawTags(report);
      return;
    }
    if (report.kind === "number") {
      drawNumbers(report);
      return;
    }
    card("items compared", formatNumber(report.n_items_with_2plus_labels), "items with at least two labels");
    card("percent agreement", pct(report.percent_agreement), "mean share of agreeing label pairs per item");
    card("full agreement", pct(report.full_agreement), "items where every label agrees");
    card("Fleiss' κ", num3(report.fleiss.kappa), `over ${report.fleiss.n_items_used} items every layer labeled`);
    card("Krippendorff's α", num3(report.krippendorff_alpha), "nominal");
    const perClass = report.per_class
      .filter((c) => c.specific_agreement !== null)
      .map((c) => [c.name, c.specific_agreement]);
    panel("Agreement per class", charts.bars(perClass, { top: 1, format: pct }),
      "specific agreement: of the label pairs on an item where one says the class, the share where both do");
    const pairs = report.pairwise.map((p) => {
      const kappa = el("td", { class: `num kappa kappa-${band(p.cohen_kappa)}` }, num3(p.cohen_kappa));
      const open = el("button", { type: "button", class: "link-button" }, "matrix");
      open.addEventListener("click", () => choosePair(p.a, p.b));
      return [p.a, p.b, el("td", { class: "num" }, formatNumber(p.n_common)),
        el("td", { class: "num" }, pct(p.percent_agreement)), kappa, el("td", {}, open)];
    });
    panel("Pairwise Cohen's κ", table(["Layer", "Layer", "Items in common", "Agree", "κ", ""], pairs, "pairwise"),
      "κ ≥ 0.8 almost perfect · 0.6–0.8 substantial · 0.4–0.6 moderate · below: fair or worse");
    if (report.annotator_quality) {
      const rows = report.annotator_quality.map((q) => [q.annotator,
        el("td", { class: "num" }, formatNumber(q.n_labeled)), el("td", { class: "num" }, formatNumber(q.n_compared)),
        el("td", { class: "num" }, formatNumber(q.n_ties)), el("td", { class: "num" }, pct(q.accuracy)),
        el("td", { class: `num kappa kappa-${band(q.cohen_kappa)}` }, num3(q.cohen_kappa))]);
      panel(`Each layer against ${report.reference}`,
        table(["Layer", "Labeled", "Compared", "Ties", "Accuracy", "κ"], rows, "quality"), report.reference_rule);
    }
  }

  function itemsLink(filter, layer) {
    const params = new URLSearchParams({ layer, filter });
    return `${root.dataset.itemsUrl}?${params}`;
  }

  async function drawConfusion() {
    const a = pairA.value;
    const b = pairB.value;
    const url = new URL(location.href);
    url.searchParams.set("a", a);
    url.searchParams.set("b", b);
    history.replaceState(null, "", url);
    for (const [name, value] of [["a", a], ["b", b]]) {
      const hidden = document.querySelector(`#agreement-form input[name=${name}]`);
      if (hidden) hidden.value = value;
    }
    if (!a || !b || a === b) {
      confusionBox.replaceChildren(el("p", { class: "sub" }, "Choose two different layers."));
      return;
    }
    const sep = root.dataset.confusionUrl.includes("?") ? "&" : "?";
    const params = new URLSearchParams({ a, b });
    confusionBox.replaceChildren(el("p", { class: "loading" }, "Counting…"));
    try {
      const m = await api(`${root.dataset.confusionUrl}${sep}${params}`);
      const chart = charts.heatmap(m.matrix, m.classes, m.classes, {
        rowTitle: `${m.a} ↓`, colTitle: `${m.b} →`,
        href: (i, j) => (m.cell_filters[i][j] ? itemsLink(m.cell_filters[i][j], m.a) : null),
      });
      const what = m.kind === "boxes" ? "boxes matched at IoU ≥ 0.5 (row layer's class ↓, column layer's →)" : "items labeled by both";
      confusionBox.replaceChildren(chart, el("p", { class: "sub" }, `${formatNumber(m.n_common)} ${what}.`));
      confusionBox.dataset.ready = "true";
    } catch (error) {
      confusionBox.replaceChildren(el("p", { class: "error" }, `Could not count: ${error.message}`));
    }
  }

  function choosePair(a, b) {
    pairA.value = a;
    pairB.value = b;
    drawConfusion();
    document.getElementById("confusion-card").scrollIntoView({ behavior: "smooth" });
  }

  pairA.addEventListener("change", drawConfusion);
  pairB.addEventListener("change", drawConfusion);
  api(root.dataset.reportUrl)
    .then((report) => {
      status.remove();
      draw(report);
      root.dataset.ready = "true";
      // A class x class matrix exists for classes and for matched boxes only.
      if (!report.kind || report.kind === "classification" || report.kind === "boxes") {
        drawConfusion();
      } else {
        document.getElementById("confusion-card").hidden = true;
      }
    })
    .catch((error) => {
      status.textContent = `Could not compute the agreement: ${error.message}`;
      status.classList.add("error");
    });
})();
