"""The embedding map page in Chromium: time to first draw of 100,000 points (target 2 s).

A synthetic tabular dataset of 100,000 rows (10 Gaussian clusters in 8 dimensions, one class
per cluster) gets a PCA map (the benchmark measures drawing, not UMAP). The web app runs under
uvicorn in a thread; Debian's Chromium (headless, Playwright) opens the map page LOADS times,
each in a fresh browser context (no HTTP cache), and reads ``data-drawn-ms`` from the canvas:
``performance.now()`` at the first painted frame of points, i.e. from navigation start. The
first load finds the server's points cache empty (it reads and encodes the map); the others
hit it. Also reported: the /points payload size, its server time (Server-Timing) and round
trip, and the time of one zoom frame (a wheel event to the next painted frame).

If /work/shared/data/mnist-test exists, the UMAP compute time of its 10,000 images is measured
too, in a fresh process (so numba's compilation is included, as a first job would see it).

    python benchmarks/bench_web_map.py [--loads 5] [--no-umap]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

import assay
from _common import MNIST, WORK, machine, run_measured
from assay.maps import compute_map, latest_map
from assay.project import Project
from bench_web_queue import CHROMIUM, bench_login, serve, sign_in

N = 100_000
TARGET_MS = 2000
DATASET = "clusters"


def build_project() -> Project:
    """The 100,000-row project with a ready PCA map (built once, then reused)."""
    folder = WORK / "web_map"
    if (folder / "assay.toml").exists():
        project = assay.open(folder)
        if latest_map(project.dataset(DATASET)) is not None:
            return project
    else:
        project = assay.init(folder)
        rng = np.random.default_rng(0)
        centers = rng.normal(0, 6, size=(10, 8))
        labels = rng.integers(0, 10, size=N)
        X = centers[labels] + rng.normal(0, 1.5, size=(N, 8))
        path = folder / "clusters.csv"
        header = ",".join([f"f{j}" for j in range(8)] + ["label"])
        rows = (",".join(f"{v:.4f}" for v in x) + f",c{k}" for x, k in zip(X, labels, strict=True))
        path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
        project.import_path(path, dataset=DATASET, label_column="label")
    started = time.perf_counter()
    info = compute_map(project.dataset(DATASET), method="pca", author="bench")
    print(f"PCA map of {info['n_points']:,} points: {time.perf_counter() - started:.1f} s\n")
    return project


def measure(url: str, user: str, password: str, loads: int) -> list[dict[str, Any]]:
    """Open the map page ``loads`` times (fresh contexts); per load the timings."""
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = browser.new_context()
        sign_in(context.new_page(), url, user, password)
        state = context.storage_state()
        context.close()
        for _ in range(loads):
            context = browser.new_context(
                storage_state=state, viewport={"width": 1280, "height": 860}
            )
            page = context.new_page()
            page.goto(f"{url}/datasets/{DATASET}/map")
            page.wait_for_selector("#map-canvas[data-points]", timeout=60_000)
            result = page.evaluate(
                """async () => {
                  const canvas = document.getElementById("map-canvas");
                  const entry = performance.getEntriesByType("resource")
                    .find((e) => e.name.endsWith("/points"));
                  const server = Object.fromEntries(
                    (entry.serverTiming || []).map((t) => [t.name, t.duration]));
                  const frames = [];
                  const rect = canvas.getBoundingClientRect();
                  for (let k = 0; k < 10; k += 1) {
                    const t0 = performance.now();
                    canvas.dispatchEvent(new WheelEvent("wheel", {
                      deltaY: k % 2 ? 120 : -120, clientX: rect.left + rect.width / 2,
                      clientY: rect.top + rect.height / 2, bubbles: true, cancelable: true }));
                    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
                    frames.push(performance.now() - t0);
                  }
                  return {
                    drawn_ms: Number(canvas.dataset.drawnMs),
                    points: Number(canvas.dataset.points),
                    fetch_ms: entry.duration,
                    bytes: entry.encodedBodySize,
                    server_ms: server.map,
                    frames,
                  };
                }"""
            )
            out.append(result)
            context.close()
        browser.close()
    return out


def umap_mnist() -> dict[str, Any] | None:
    """UMAP of MNIST's 10,000 test images in a fresh process (import + map), or None."""
    if not (MNIST / "t10k-images-idx3-ubyte.gz").exists():
        return None
    folder = WORK / "web_map_mnist"
    code = f"""
import shutil, time
from pathlib import Path
import assay
from assay.maps import compute_map
folder = Path({str(folder)!r})
shutil.rmtree(folder, ignore_errors=True)
project = assay.init(folder)
project.import_path(Path({str(MNIST)!r}), dataset="mnist")
start = time.perf_counter()
info = compute_map(project.dataset("mnist"), method="umap", seed=0, author="bench")
result = {{"umap_s": time.perf_counter() - start, "n": info["n_points"],
          "method": info["method"], "notes": info["notes"]}}
"""
    return run_measured(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--no-umap", action="store_true", help="Skip the MNIST UMAP timing.")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing (apt-get install chromium)")
    print(f"Machine: {machine()}\n")
    project = build_project()
    try:
        user, password = bench_login(project)
        with serve(project) as url:
            runs = measure(url, user, password, args.loads + 1)
    finally:
        project.close()
    if any(r["points"] != N for r in runs):
        raise RuntimeError(f"expected {N} points, got {[r['points'] for r in runs]}")
    cold, warm = runs[0], runs[1:]
    drawn = [r["drawn_ms"] for r in warm]
    frames = [f for r in warm for f in r["frames"]]
    print(
        f"Chromium {CHROMIUM} (headless), 1280x860 window; {N:,} points; {args.loads} page "
        "loads after one cold load, each in a fresh browser context. Times in ms.\n"
    )
    print("| measure | value |")
    print("| --- | ---: |")
    print(f"| first draw, cold server cache (from navigation start) | {cold['drawn_ms']:.0f} |")
    print(f"| first draw, p50 / max over {len(warm)} loads | "
          f"{statistics.median(drawn):.0f} / {max(drawn):.0f} |")  # fmt: skip
    verdict = "meets" if max([*drawn, cold["drawn_ms"]]) <= TARGET_MS else "MISSES"
    print(f"| target | {TARGET_MS} ({verdict} it) |")
    print(f"| /points payload | {cold['bytes'] / 2**20:.2f} MiB ({cold['bytes']:,} bytes) |")
    print(f"| /points server time, cold / warm p50 | {cold['server_ms']:.0f} / "
          f"{statistics.median(r['server_ms'] for r in warm):.1f} |")  # fmt: skip
    print(f"| /points round trip, cold / warm p50 | {cold['fetch_ms']:.0f} / "
          f"{statistics.median(r['fetch_ms'] for r in warm):.0f} |")  # fmt: skip
    print(f"| zoom frame (wheel → painted), p50 / max | "
          f"{statistics.median(frames):.1f} / {max(frames):.1f} |")  # fmt: skip
    if not args.no_umap:
        umap = umap_mnist()
        if umap is None:
            print("\n(MNIST not found: UMAP timing skipped.)")
        else:
            print(
                f"\nUMAP map of MNIST test ({umap['n']:,} images, pixels → PCA 50 → UMAP, "
                f"seed 0, single-threaded as seeded UMAP is): {umap['umap_s']:.1f} s "
                f"(fresh process, numba compilation included; method {umap['method']}), "
                f"peak RSS {umap['peak_rss_mib']:.0f} MiB."
            )


if __name__ == "__main__":
    main()
