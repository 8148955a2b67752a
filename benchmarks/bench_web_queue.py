"""Labeling-queue latency in Chromium: from a key press to the next item on screen.

The web app runs under uvicorn in a thread; Debian's Chromium (headless, driven by Playwright)
opens the labeling queue and labels PRESSES items with the keyboard: a class key, then Enter,
then waits for the next item before the next press. The page records, with the Performance
API, the time from each key press to the animation frame in which the next item is shown
(``assay:queue-confirm`` from Enter, ``assay:queue-pick`` from the class key, which includes
Playwright's own gap between the two presses). The label writes run in the background; their
round trip, from the Resource Timing entries, is reported too.

Two stores: the demo (1,797 digit images) and the 1,000,000-row table of bench_web.py
(SQLite; a fresh empty layer per run, so the queue starts at the first item).

    python benchmarks/bench_web_queue.py [--store demo|1m|both] [--presses 30]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import assay
from _common import WORK, machine
from assay import users
from assay.errors import Conflict
from assay.project import Project

CHROMIUM = "/usr/bin/chromium"
WARMUP = 3
BENCH_USER = "bench"
PASSWORD = "benchmark password"


def p50_p95(values: list[float]) -> tuple[float, float]:
    """Median and 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return statistics.median(ordered), ordered[max(0, int(0.95 * len(ordered) + 0.5) - 1)]


@contextlib.contextmanager
def serve(project: Project) -> Iterator[str]:
    """The app on a free local port, in a thread, for the duration of the block."""
    import uvicorn

    from assay.web import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(create_app(project), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def demo_project() -> tuple[Project, str, str, str]:
    """A fresh demo project, its dataset, and an admin login."""
    from assay.demo import build_demo

    folder = WORK / "web_queue_demo"
    shutil.rmtree(folder, ignore_errors=True)
    project = build_demo(folder)
    return project, "digits", *bench_login(project)


def million_project() -> tuple[Project, str, str, str]:
    """The 1,000,000-row table of bench_web.py, and an admin login."""
    from bench_web import N, project_copy

    project = assay.open(project_copy(N))
    return project, "table", *bench_login(project)


def bench_login(project: Project) -> tuple[str, str]:
    with contextlib.suppress(Conflict):
        users.create_user(project.store, BENCH_USER, PASSWORD, role="admin")
    return BENCH_USER, PASSWORD


def fresh_layer(project: Project, dataset: str) -> str:
    """A new empty layer owned by the benchmark user."""
    ds = project.dataset(dataset)
    names = {layer["name"] for layer in ds.layers()}
    n = 1
    while f"queue-bench-{n}" in names:
        n += 1
    ds.create_layer(f"queue-bench-{n}", owner=BENCH_USER)
    return f"queue-bench-{n}"


def sign_in(page: Any, url: str, user: str, password: str) -> None:
    """Sign ``page`` in to the app at ``url`` through its login form."""
    page.goto(f"{url}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def measure(
    url: str, dataset: str, layer: str, user: str, password: str, presses: int
) -> dict[str, Any]:
    """Label WARMUP + presses items in Chromium; the timings of the last ``presses``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        sign_in(page, url, user, password)
        start = time.perf_counter()
        page.goto(f"{url}/datasets/{dataset}/label?layer={layer}")
        page.wait_for_selector("#queue[data-item-id]:not([data-item-id=''])")
        first_item_s = time.perf_counter() - start
        current = page.get_attribute("#queue", "data-item-id")
        keys = [
            str(b.get_attribute("data-key"))
            for b in page.locator("#queue-classes button[data-key]").all()
        ]
        for n in range(WARMUP + presses):
            page.keyboard.press(keys[n % len(keys)])
            page.keyboard.press("Enter")
            page.wait_for_selector(f"#queue:not([data-item-id='{current}'])")
            current = page.get_attribute("#queue", "data-item-id")
        page.wait_for_selector("#queue[data-pending='0']", timeout=60_000)
        confirm = page.evaluate(
            "performance.getEntriesByName('assay:queue-confirm').map((e) => e.duration)"
        )
        pick = page.evaluate(
            "performance.getEntriesByName('assay:queue-pick').map((e) => e.duration)"
        )
        writes = page.evaluate(
            "performance.getEntriesByType('resource')"
            ".filter((e) => e.name.endsWith('/labels')).map((e) => e.duration)"
        )
        labeled = page.get_attribute("#queue", "data-labeled")
        browser.close()
    return {
        "confirm": confirm[WARMUP:],
        "pick": pick[WARMUP:],
        "writes": writes[WARMUP:],
        "first_item_s": first_item_s,
        "labeled": labeled,
    }


def run(name: str, make: Any, presses: int) -> str:
    project, dataset, user, password = make()
    try:
        layer = fresh_layer(project, dataset)
        with serve(project) as url:
            out = measure(url, dataset, layer, user, password, presses)
        written = len(project.dataset(dataset).label_matrix([layer]).item_ids)
    finally:
        project.close()
    if written != WARMUP + presses:
        raise RuntimeError(f"{name}: {written} labels landed, expected {WARMUP + presses}")
    c50, c95 = p50_p95(out["confirm"])
    k50, k95 = p50_p95(out["pick"])
    w50, w95 = p50_p95(out["writes"])
    return (
        f"| {name} | {presses} | {c50:.1f} / {c95:.1f} | {k50:.1f} / {k95:.1f} | "
        f"{w50:.1f} / {w95:.1f} | {out['first_item_s'] * 1000:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=["demo", "1m", "both"], default="both")
    parser.add_argument("--presses", type=int, default=30)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing (apt-get install chromium)")
    stores = {
        "demo": ("demo, 1,797 images", demo_project),
        "1m": ("1,000,000 rows", million_project),
    }
    chosen = list(stores) if args.store == "both" else [args.store]
    print(f"Machine: {machine()}\n")
    print(
        f"Chromium {CHROMIUM} (headless); {args.presses} items labeled with the keyboard after "
        f"{WARMUP} warm-up items; times in ms, p50 / p95.\n"
    )
    print(
        "| store | items | Enter → next item shown | class key → next item shown "
        "| label write round trip | queue page to first item |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for key in chosen:
        label, make = stores[key]
        print(run(label, make, args.presses), flush=True)


if __name__ == "__main__":
    main()
