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

  // bars(entries, {href}) : entries = [[label, count], ...], largest first.
  function bars(entries, options = {}) {
    const shown = entries.slice(0, options.max || 30);
    const rowH = 20;
    const labelW = 120;
    const width = 460;
    const height = shown.length * rowH + 4;
    const top = Math.max(1, ...shown.map(([, n]) => n));
    const root = svg("svg", {
      viewBox: `0 0 ${width} ${height}`, class: "chart bars", role: "img",
      width, height,
    });
    shown.forEach(([label, n], i) => {
      const y = i * rowH + 2;
      const w = Math.max(1, ((width - labelW - 70) * n) / top);
      const group = options.href ? svg("a", { href: options.href(label) }) : svg("g");
      const name = svg("text", { x: labelW - 6, y: y + 14, class: "axis", "text-anchor": "end" },
        String(label).length > 18 ? `${String(label).slice(0, 17)}…` : label);
      const rect = svg("rect", { x: labelW, y: y + 3, width: w, height: rowH - 6, class: "bar" });
      rect.append(svg("title", {}, `${label}: ${assay.formatNumber(n)}`));
      const value = svg("text", { x: labelW + w + 4, y: y + 14, class: "value" }, assay.formatNumber(n));
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

  return { bars, histogram, meter };
})();
