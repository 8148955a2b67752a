"""Review-triage latency in Chromium, beside the labeling queue's, in one run on one store.

The web app runs under uvicorn in a thread; Debian's Chromium (headless, driven by Playwright)
opens the review queue of the demo (1,797 digit images, cross-validated by the demo's model,
label-issue cases for the top of the label ranking) and decides PRESSES cases with one key
each: ``a`` accepts the suggested label (a new version in ground_truth). The page records,
with the Performance API, the time from each key press to the animation frame in which the
next case is shown (``assay:review-next``); the decision's round trip (``/resolve``, from the
Resource Timing entries) runs in the background and is reported too: for the burst (a key
as soon as the next case shows, so the writes queue up behind each other) and for PRESSES more
decisions one at a time (the next key once the previous decision is written). Then the
labeling queue is measured on the same server exactly as ``bench_web_queue.py`` does.

    python benchmarks/bench_web_review.py [--presses 30]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from _common import machine
from bench_web_queue import (
    CHROMIUM,
    WARMUP,
    demo_project,
    fresh_layer,
    p50_p95,
    serve,
    sign_in,
)
from bench_web_queue import (
    measure as measure_queue,
)


def measure_review(
    url: str, dataset: str, user: str, password: str, presses: int
) -> dict[str, Any]:
    """Decide WARMUP + presses cases with the ``a`` key; the timings of the last ``presses``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        sign_in(page, url, user, password)
        start = time.perf_counter()
        page.goto(f"{url}/datasets/{dataset}/review?reason=mislabel")
        page.wait_for_selector("#cases[data-current]:not([data-current=''])")
        first_case_s = time.perf_counter() - start
        # The thumbnails would fill the default buffer of 250 entries before the writes.
        page.evaluate("performance.setResourceTimingBufferSize(10000)")
        current = page.get_attribute("#cases", "data-current")
        for _ in range(WARMUP + presses):
            page.keyboard.press("a")
            page.wait_for_selector(f"#cases:not([data-current='{current}'])")
            current = page.get_attribute("#cases", "data-current")
        page.wait_for_selector("#cases[data-pending='0']", timeout=60_000)
        for _ in range(presses):
            page.keyboard.press("a")
            page.wait_for_selector(f"#cases:not([data-current='{current}'])")
            current = page.get_attribute("#cases", "data-current")
            page.wait_for_selector("#cases[data-pending='0']", timeout=60_000)
        shown = page.evaluate(
            "performance.getEntriesByName('assay:review-next').map((e) => e.duration)"
        )
        writes = page.evaluate(
            "performance.getEntriesByType('resource')"
            ".filter((e) => e.name.endsWith('/resolve')).map((e) => e.duration)"
        )
        browser.close()
    burst = WARMUP + presses
    return {
        "shown": shown[WARMUP:],
        "writes": writes[WARMUP:burst],
        "paced": writes[burst:],
        "first_s": first_case_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presses", type=int, default=30)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing (apt-get install chromium)")
    project, dataset, user, password = demo_project()
    try:
        ds = project.dataset(dataset)
        ds.quality.find()
        opened = ds.quality.to_review(top=WARMUP + 2 * args.presses + 30, actor="bench")
        layer = fresh_layer(project, dataset)
        with serve(project) as url:
            review = measure_review(url, dataset, user, password, args.presses)
            queue = measure_queue(url, dataset, layer, user, password, args.presses)
        decided = len(ds.review.list(state="resolved", reason="mislabel", limit=1000)[0])
    finally:
        project.close()
    if decided != WARMUP + 2 * args.presses:
        raise RuntimeError(f"{decided} cases resolved, expected {WARMUP + 2 * args.presses}")
    print(f"Machine: {machine()}\n")
    print(
        f"Chromium {CHROMIUM} (headless), the demo (1,797 images; "
        f"{opened['mislabel']['opened']} label-issue cases); {args.presses} decisions after "
        f"{WARMUP} warm-up ones in a burst, then {args.presses} one at a time, one key each; "
        "times in ms, p50 / p95.\n"
    )
    print(
        "| page | key → next shown | write round trip (burst) | write round trip (one at a "
        "time) | page to first case/item |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    s50, s95 = p50_p95(review["shown"])
    w50, w95 = p50_p95(review["writes"])
    o50, o95 = p50_p95(review["paced"])
    print(
        f"| review queue (`a`: accept the suggestion) | {s50:.1f} / {s95:.1f} | "
        f"{w50:.1f} / {w95:.1f} | {o50:.1f} / {o95:.1f} | {review['first_s'] * 1000:.0f} |"
    )
    c50, c95 = p50_p95(queue["confirm"])
    q50, q95 = p50_p95(queue["writes"])
    print(
        f"| labeling queue (Enter after a class key) | {c50:.1f} / {c95:.1f} | "
        f"{q50:.1f} / {q95:.1f} | | {queue['first_item_s'] * 1000:.0f} |"
    )


if __name__ == "__main__":
    main()
