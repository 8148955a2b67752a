// Hand-drawn SVG charts: horizontal bars for counts, columns for histograms.
// Every label goes in with textContent; nothing is parsed as HTML.
"use strict";

const charts = (() => {
  const NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs = {}, text = null) {
    const node = document.createElementNS(NS, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    if (text !== null) node.textContent = String(text);
    return node;
  }

  // bars(entries, {href, max, top, format}) : entries = [[label, value], ...], largest first.
  // ``top`` fixes the value of a full-width bar (1 for fractions); ``format`` shows a value.
  function bars(entries, options = {}) {
    const shown = entries.slice(0, options.max || 30);
    const fmt = options.format || assay.formatNumber;
    const rowH = 20;
    const labelW = 120;
    const width = 460;
    const height = shown.length * rowH + 4;
    const top = options.top || Math.max(1, ...shown.map(([, n]) => n));
    const root = svg("svg", {
      viewBox: `0 0 ${width} ${height}`, class: "chart bars", role: "img",
      width, height,
    });
    shown.forEach(([label, n], i) => {
      const y = i * rowH + 2;
      const w = Math.max(1, ((width - labelW - 70) * (n || 0)) / top);
      const group = options.href ? svg("a", { href: options.href(label) }) : svg("g");
      const name = svg("text", { x: labelW - 6, y: y + 14, class: "axis", "text-anchor": "end" },
        String(label).length > 18 ? `${String(label).slice(0, 17)}…` : label);
      const rect = svg("rect", { x: labelW, y: y + 3, width: w, height: rowH - 6, class: "bar" });
      rect.append(svg("title", {}, `${label}: ${fmt(n)}`));
      const value = svg("text", { x: labelW + w + 4, y: y + 14, class: "value" }, fmt(n));
      group.append(name, rect, value);
      root.append(group);
    });
    if (entries.length > shown.length) {
      root.setAttribute("height", height + rowH);
      root.setAttribute("viewBox", `0 0 ${width} ${height + rowH}`);
      root.append(svg("text", { x: labelW, y: height + 14, class: "axis" },
        `… and ${entries.length - shown.length} more`));
    }
    return root;
  }

  // histogram({edges, counts}) : columns over the value range, with min and max marked.
  function histogram(hist) {
    const width = 460;
    const height = 140;
    const pad = 22;
    const counts = hist.counts || [];
    const edges = hist.edges || [];
    const top = Math.max(1, ...counts);
    const root = svg("svg", {
      viewBox: `0 0 ${width} ${height}`, class: "chart histogram", role: "img", width, height,
    });
    const colW = (width - 2 * pad) / Math.max(1, counts.length);
    counts.forEach((n, i) => {
      const h = ((height - 2 * pad) * n) / top;
      const rect = svg("rect", {
        x: pad + i * colW + 0.5, y: height - pad - h, width: Math.max(1, colW - 1), height: h,
        class: "bar",
      });
      const lo = edges[i];
      const hi = edges[i + 1];
      rect.append(svg("title", {}, `${assay.formatNumber(lo)} – ${assay.formatNumber(hi)}: ${assay.formatNumber(n)}`));
      root.append(rect);
    });
    root.append(svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: "axis-line" }));
    if (edges.length) {
      root.append(svg("text", { x: pad, y: height - 6, class: "axis" }, assay.formatNumber(edges[0])));
      root.append(svg("text", { x: width - pad, y: height - 6, class: "axis", "text-anchor": "end" },
        assay.formatNumber(edges[edges.length - 1])));
    }
    return root;
  }

  // meter(fraction) : a coverage bar with its percentage.
  function meter(fraction) {
    const width = 460;
    const root = svg("svg", { viewBox: `0 0 ${width} 24`, class: "chart meter", width, height: 24 });
    root.append(svg("rect", { x: 0, y: 4, width: width - 60, height: 16, class: "track" }));
    root.append(svg("rect", { x: 0, y: 4, width: (width - 60) * fraction, height: 16, class: "bar" }));
    root.append(svg("text", { x: width - 54, y: 17, class: "value" }, `${(fraction * 100).toFixed(1)} %`));
    return root;
  }

  // heatmap(matrix, rowNames, colNames, {href(i, j), rowTitle, colTitle}) : a count matrix as
  // shaded cells (the diagonal in the bar colour, the rest in the warning colour), each cell
  // a link when href gives one.
  function heatmap(matrix, rowNames, colNames, options = {}) {
    const cell = Math.max(26, Math.min(44, Math.floor(440 / Math.max(1, colNames.length))));
    const left = 96;
    const topPad = 56;
    const width = left + cell * colNames.length + 8;
    const height = topPad + cell * rowNames.length + 8;
    const max = Math.max(1, ...matrix.flat());
    const root = svg("svg", {
      viewBox: `0 0 ${width} ${height}`, class: "chart heatmap", role: "img", width, height,
    });
    const short = (s) => (String(s).length > 10 ? `${String(s).slice(0, 9)}…` : String(s));
    root.append(svg("text", { x: left, y: 14, class: "axis title" }, options.colTitle || ""));
    root.append(svg("text", { x: 4, y: 14, class: "axis title" }, options.rowTitle || ""));
    colNames.forEach((name, j) => {
      root.append(svg("text", { x: left + j * cell + cell / 2, y: topPad - 8, class: "axis", "text-anchor": "middle" }, short(name)));
    });
    rowNames.forEach((name, i) => {
      root.append(svg("text", { x: left - 6, y: topPad + i * cell + cell / 2 + 4, class: "axis", "text-anchor": "end" }, short(name)));
      colNames.forEach((col, j) => {
        const n = matrix[i][j];
        const link = options.href ? options.href(i, j) : null;
        const group = link && n > 0 ? svg("a", { href: link, class: "cell-link", "data-row": i, "data-col": j }) : svg("g");
        const rect = svg("rect", {
          x: left + j * cell, y: topPad + i * cell, width: cell - 2, height: cell - 2,
          class: i === j ? "cell diag" : "cell off",
          "fill-opacity": n > 0 ? (0.12 + 0.88 * (n / max)).toFixed(3) : 0.04,
        });
        rect.append(svg("title", {}, `${name} → ${col}: ${assay.formatNumber(n)}`));
        const text = svg("text", {
          x: left + j * cell + (cell - 2) / 2, y: topPad + i * cell + cell / 2 + 3,
          class: n / max > 0.55 ? "count light" : "count", "text-anchor": "middle",
        }, n > 0 ? assay.formatNumber(n) : "");
        group.append(rect, text);
        root.append(group);
      });
    });
    return root;
  }

  return { bars, heatmap, histogram, meter };
})();
