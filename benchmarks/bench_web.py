"""Server time of the web app at 1,000,000 items (SQLite): grid pages, the item page, a label write.

Uses a copy of the 1M-row project `bench_inventory.py` leaves in benchmarks/_work (importing the
table first if it is missing), so the label writes here do not change the other benchmarks'
data. Requests go through the whole app in-process (FastAPI's TestClient: routing, the
session lookup, the queries, JSON or HTML rendering), signed in with a session cookie; the
time is measured around each request, RUNS times after one warm-up request.

    python benchmarks/bench_web.py
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

import assay
from _common import WORK, machine
from assay import users
from assay.errors import Conflict
from assay.web import create_app
from assay.web.urls import item_page_url
from bench_inventory import prepare

N = 1_000_000
RUNS = 50
DEEP = 900_000
PASSWORD = "benchmark password"


def project_copy(n: int) -> Path:
    """A private copy of the n-row benchmark project (made once)."""
    target = WORK / f"web_{n}"
    if not (target / "assay.db").exists():
        source = prepare(n)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / "assay.toml", target / "assay.toml")
        shutil.copyfile(source / "assay.db", target / "assay.db")
    return target


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """p50 and p95 in milliseconds over RUNS calls (after one warm-up call)."""
    fn()
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * len(samples)) - 1]


def ok(client: TestClient, method: str, url: str, **kwargs: object) -> Callable[[], object]:
    """A request that must succeed."""

    def call() -> object:
        response = client.request(method, url, **kwargs)  # type: ignore[arg-type]
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {url}: {response.status_code} {response.text[:200]}")
        return response

    return call


def main() -> None:
    project = assay.open(project_copy(N))
    dataset = project.dataset("table")
    with contextlib.suppress(Conflict):
        users.create_user(project.store, "bench", PASSWORD, role="admin")
    if "bench" not in [layer["name"] for layer in dataset.layers()]:
        dataset.create_layer("bench", owner="bench")
    client = TestClient(create_app(project))
    token = client.get("/api/v1/login").json()["csrf_token"]
    login = client.post(
        "/api/v1/login",
        json={"username": "bench", "password": PASSWORD},
        headers={"X-CSRF-Token": token},
    )
    csrf = login.json()["csrf_token"]
    rows, _ = dataset.items(limit=1, after=DEEP)
    item = rows[0]["id"]
    item_page = item_page_url("table", item, rows[0]["external_key"])
    api = "/api/v1/datasets/table"
    labels = itertools.cycle(["a", "b", "c", "d", "e"])
    items = itertools.count(DEEP)

    def write() -> object:
        return ok(
            client,
            "POST",
            f"{api}/items/{next(items)}/labels",
            json={"layer": "bench", "label": next(labels)},
            headers={"X-CSRF-Token": csrf},
        )()

    cases = [
        ("items API, first page (100)", ok(client, "GET", f"{api}/items?limit=100")),
        ("items API, filter label=c", ok(client, "GET", f"{api}/items?limit=100&filter=label%3Dc")),
        (
            "items API, filter field.f0>2",
            ok(client, "GET", f"{api}/items?limit=100&filter=field.f0%3E2"),
        ),
        (
            f"items API, after {DEEP:,}",
            ok(client, "GET", f"{api}/items?limit=100&after={DEEP}"),
        ),
        (
            f"items API, label=c after {DEEP:,}",
            ok(client, "GET", f"{api}/items?limit=100&after={DEEP}&filter=label%3Dc"),
        ),
        ("grid page (HTML, 96 rows)", ok(client, "GET", "/datasets/table/items")),
        (
            f"grid page (HTML), label=c after {DEEP:,}",
            ok(client, "GET", f"/datasets/table/items?label=c&after={DEEP}"),
        ),
        ("dataset list page (HTML; item counts cached)", ok(client, "GET", "/")),
        (
            "overview page (HTML; the charts load from the API)",
            ok(client, "GET", "/datasets/table"),
        ),
        ("statistics API (the inventory, cached)", ok(client, "GET", f"{api}/statistics")),
        ("item API", ok(client, "GET", f"{api}/items/{item}")),
        ("item page (HTML, with history)", ok(client, "GET", item_page)),
        ("label write (API)", write),
    ]
    print(f"Machine: {machine()}\n")
    print(f"{N:,} items in SQLite; {RUNS} requests each, in-process, signed in with a session.\n")
    start = time.perf_counter()
    ok(client, "GET", f"{api}/statistics")()
    cold_s = time.perf_counter() - start
    print(f"The statistics API computes the inventory once in {cold_s:.1f} s, then reuses it.\n")
    print("| request | p50 ms | p95 ms |")
    print("| --- | ---: | ---: |")
    for name, fn in cases:
        p50, p95 = timed(fn)
        print(f"| {name} | {p50:.1f} | {p95:.1f} |")
    client.close()
    project.close()


if __name__ == "__main__":
    main()
