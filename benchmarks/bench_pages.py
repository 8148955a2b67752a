"""Server time of every dataset page on the MNIST test set (10,000 images) with a
cross-validated model, this checkout against another one, side by side in one run.

For each code version (this checkout, and ``--old PATH``: the root of another checkout, e.g.
``git worktree add /tmp/assay-old <commit>``) a project is built with that version's own code,
in a subprocess: the MNIST test set imported (/work/shared/data/mnist-test, or 10,000
synthetic 28x28 images with ``--synthetic`` or when the folder is missing), a 5-fold
cross-validation of logistic regression on the pixels, a label-issue search whose findings
go to the review queue, 500 labels in a second layer, and a snapshot. Then that version's
``assay serve`` runs on 127.0.0.1 (benchmarks/loadkit.server: a free port, stopped by its
process id) and each page is requested ``--runs`` times after one warm-up, signed in with a
session cookie.

The figure is the time to the first byte of the answer measured by the client on the same
machine: the app renders a page whole before it sends its headers, so this is the server's
time plus a loopback round trip. The first request of each page (``first``) is reported
apart: a per-request computation shows there, a cache hides it from p50. The predictions page
is also timed as a reviewer's day sees it, each request after a label write (in another
layer, then in the reference layer).

    python benchmarks/bench_pages.py --old /tmp/assay-old [--runs 20] [--synthetic]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from _common import MNIST, ROOT, fresh_dir, machine
from loadkit import server

USER, PASSWORD = "bench", "benchmark password"
DATASET = "mnist"

BUILD = """
import sys, time
import numpy as np
import assay
from assay import users

path, mnist, synthetic = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
started = time.perf_counter()
project = assay.init(path)
if synthetic:
    from assay.ingest.arrays import import_arrays

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 10_000)
    images = rng.integers(0, 60, (10_000, 28, 28)).astype(np.uint8)
    for k in range(10):  # a bright bar per class, so a model can learn something
        images[labels == k, 2 * k + 2 : 2 * k + 6, 4:24] += 150
    import_arrays(project.store, [(images, [str(v) for v in labels])], dataset="mnist",
                  source="synthetic", format="arrays", total=10_000)
else:
    project.import_path(mnist, dataset="mnist")
ds = project.dataset("mnist")
ds.models.cross_validate(name="cv", folds=5, model="logreg", seed=0)
found = ds.quality.find(model_layer="cv", features=False)
ds.quality.to_review(found.run_id, limit=200)
users.create_user(project.store, "bench", "benchmark password", role="admin")
ds.create_layer("second", owner="bench")
ds.create_layer("queue", owner="bench")
rows, _ = ds.items(limit=500)
ds.set_labels([(r["id"], str(r["id"] % 10)) for r in rows], layer="second", author="bench")
ds.snapshot("bench")
project.close()
print(f"built in {time.perf_counter() - started:.0f} s")
"""

PAGES = [
    ("overview", "/datasets/mnist"),
    ("overview data (statistics API)", "@data-stats-url:/datasets/mnist"),
    ("grid", "/datasets/mnist/items"),
    ("item", "@item"),
    ("predictions", "/datasets/mnist/predictions"),
    ("predictions, slice split=test", "/datasets/mnist/predictions?filter=split%3Dtest"),
    ("predictions, issues page 2", "@issues-next:/datasets/mnist/predictions"),
    ("evaluation API", "/api/v1/datasets/mnist/predictions/evaluation?run=cv"),
    ("review", "/datasets/mnist/review"),
    ("agreement", "/datasets/mnist/agreement"),
    ("agreement data (report API)", "@data-report-url:/datasets/mnist/agreement"),
    ("map", "/datasets/mnist/map"),
    ("snapshots", "/datasets/mnist/snapshots"),
    ("jobs", "/datasets/mnist/jobs"),
    ("labeling queue", "/datasets/mnist/label?layer=queue"),
]
# A reviewer's day: labels change between two requests. (name, page, layer written first)
AFTER_WRITES = [
    ("predictions, each after a label write in another layer", "/datasets/mnist/predictions",
     "queue"),
    ("predictions, each after a label change in ground_truth", "/datasets/mnist/predictions",
     "ground_truth"),
]  # fmt: skip


def build(src: Path, target: Path, synthetic: bool) -> str:
    """Build the benchmark project with the code under ``src``; returns its log line."""
    env = dict(os.environ, PYTHONPATH=str(src))
    proc = subprocess.run(
        [sys.executable, "-c", BUILD, str(target), str(MNIST), "1" if synthetic else "0"],
        env=env, capture_output=True, text=True, timeout=3600, cwd=ROOT, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"building with {src} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout.strip().splitlines()[-1]


def signed_in(base: str) -> httpx.Client:
    """A client with a session cookie of the benchmark admin (and its CSRF token set)."""
    client = httpx.Client(base_url=base, timeout=120)
    token = client.get("/api/v1/login").json()["csrf_token"]
    answer = client.post(
        "/api/v1/login",
        json={"username": USER, "password": PASSWORD},
        headers={"X-CSRF-Token": token},
    )
    answer.raise_for_status()
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


def write_label(client: httpx.Client, layer: str, n: int) -> None:
    """Label the ``n``-th item (by id) in ``layer``, with a class that changes each time."""
    items = client.get(f"/api/v1/datasets/{DATASET}/items", params={"limit": 1, "after": n})
    item = items.json()["items"][0]["id"]
    answer = client.post(
        f"/api/v1/datasets/{DATASET}/items/{item}/labels",
        json={"layer": layer, "label": str((n * 7) % 10)},
    )
    if answer.status_code >= 400:
        raise RuntimeError(f"label write: {answer.status_code} {answer.text[:300]}")


def resolve(client: httpx.Client, spec: str) -> str:
    """A page URL; ``@attr:page`` is the URL in that attribute (or link id) of the page."""
    if spec == "@item":
        grid = client.get(f"/datasets/{DATASET}/items").text
        found = re.search(r'href="(/datasets/mnist/items/[^"?#]+)"', grid)
        if found is None:
            raise RuntimeError("no item link on the grid page")
        return found.group(1)
    if not spec.startswith("@"):
        return spec
    attr, page = spec[1:].split(":", 1)
    html = client.get(page).text
    pattern = rf'{attr}="([^"]+)"' if attr.startswith("data-") else rf'id="{attr}" href="([^"]+)"'
    found = re.search(pattern, html) or re.search(rf'href="([^"]+)"[^>]*id="{attr}"', html)
    if found is None:
        raise RuntimeError(f"no {attr} on {page}")
    url = found.group(1).replace("&amp;", "&")
    return url if url.startswith("/") else page + url


def first_byte_ms(client: httpx.Client, url: str) -> float:
    """Milliseconds from sending the request to the answer's headers (then read the body)."""
    start = time.perf_counter()
    with client.stream("GET", url) as response:
        elapsed = (time.perf_counter() - start) * 1000
        response.read()
    if response.status_code >= 400:
        raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:300]}")
    return elapsed


def measure(src: Path, project: Path, runs: int) -> dict[str, tuple[float, float, float]]:
    """(first, p50, p95) in ms of every page, served by the code under ``src``."""
    out: dict[str, tuple[float, float, float]] = {}
    with server(project, None, pythonpath=str(src), timeout_s=120) as (base, _proc):
        client = signed_in(base)
        for name, spec in PAGES:
            url = resolve(client, spec) if spec.startswith("@") else spec
            # The first request of a page that needs no other page first: a fresh server
            # still computes what it caches. Resolved pages were fetched once already.
            first = first_byte_ms(client, url)
            samples = sorted(first_byte_ms(client, url) for _ in range(runs))
            p95 = samples[max(0, int(0.95 * len(samples) + 0.5) - 1)]
            out[name] = (first, statistics.median(samples), p95)
        for name, url, layer in AFTER_WRITES:
            timings = []
            for n in range(runs + 1):
                write_label(client, layer, 100 + n)
                timings.append(first_byte_ms(client, url))
            first, samples = timings[0], sorted(timings[1:])
            p95 = samples[max(0, int(0.95 * len(samples) + 0.5) - 1)]
            out[name] = (first, statistics.median(samples), p95)
        client.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--old", type=Path, help="root of the checkout to compare with")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--synthetic", action="store_true")
    args = parser.parse_args()
    synthetic = args.synthetic or not MNIST.is_dir()
    versions = [("new", ROOT.parent / "src")]
    if args.old is not None:
        versions.insert(0, ("old", args.old.resolve() / "src"))
    print(f"Machine: {machine()}; load average at start {os.getloadavg()[0]:.1f}")
    data = "10,000 synthetic 28x28 images" if synthetic else "the MNIST test set (10,000)"
    print(f"Data: {data}; 5-fold logreg cross-validation; {args.runs} requests per page.\n")
    results: dict[str, dict[str, tuple[float, float, float]]] = {}
    for label, src in versions:
        folder = fresh_dir(f"pages_{label}")
        print(f"{label} ({src}): {build(src, folder / 'project', synthetic)}", flush=True)
        results[label] = measure(src, folder / "project", args.runs)
    labels = [label for label, _ in versions]
    head = " | ".join(f"{x} first | {x} p50 | {x} p95" for x in labels)
    print(f"\n| page (ms to first byte) | {head} |")
    print("| --- |" + " ---: |" * (3 * len(labels)))
    for name in [name for name, _ in PAGES] + [name for name, _, _ in AFTER_WRITES]:
        cells = " | ".join(" | ".join(f"{v:.0f}" for v in results[x][name]) for x in labels)
        print(f"| {name} | {cells} |")
    worst: dict[str, Any] = {x: max(v[2] for v in results[x].values()) for x in labels}
    print("\nSlowest p95: " + ", ".join(f"{x} {worst[x]:.0f} ms" for x in labels))
    print(f"Load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
