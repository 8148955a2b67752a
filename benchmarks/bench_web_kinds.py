"""Server time of the pages with tags, numbers and spans (issue 18) at a large text dataset:
the item page (a tags, a number and a spans layer, their editors), the items grid (every page
shows each tags layer's chips and each number layer's value) unfiltered and filtered by a tag
(``tag[topics]=...``), by a value (``value[rating]>=...``) and by "no tag", side by side with
the class-label grid of the same dataset (``label[ground_truth]=...``), as ratios.

The project (made once, in benchmarks/_work/web_kinds_{items}): ``items`` short texts imported
from a JSONL file written in a stream (class labels in ``ground_truth``); layer ``topics``
(tags, 0-3 of 8 tags per item), ``rating`` (number 1-5, whole), ``entities`` (spans, 2 per
text, written as values through the library), in bulk writes of 10,000 items per
transaction.

A real ``assay serve`` on 127.0.0.1 (a free port), stopped by its process id; RUNS requests
each after one warm-up, one signed-in client. Target: p95 under 100 ms.

    python benchmarks/bench_web_kinds.py                     # 1,000,000 items (the issue's size)
    python benchmarks/bench_web_kinds.py --items 100000      # a quicker run
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import httpx
import numpy as np
import psutil

import assay
from _common import WORK, machine
from assay import users
from assay.errors import Conflict
from assay.labels.writes import LabelWrite
from loadkit import server

RUNS = 60
BASELINE = "grid (96), class label filter [baseline]"
TAGS = [f"t{i}" for i in range(8)]
PASSWORD = "benchmark password"
CHUNK = 10_000
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


def build(n: int) -> Path:
    """The benchmark project (made once per size)."""
    root = WORK / f"web_kinds_{n}"
    if (root / "ready").exists():
        return root
    if root.exists():
        import shutil

        shutil.rmtree(root)
    WORK.mkdir(parents=True, exist_ok=True)
    source = WORK / f"web_kinds_{n}.jsonl"
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    with source.open("w", encoding="utf-8") as f:  # streamed: one line at a time
        for i in range(n):
            a, b = WORDS[i % 8], WORDS[(i // 8) % 8]
            f.write(
                json.dumps({"id": f"n{i}", "text": f"{a} met {b} on day {i}", "label": TAGS[i % 8]})
            )
            f.write("\n")
    project = assay.init(root)
    project.import_path(source, dataset="news", label_field="label", key_field="id")
    source.unlink()
    print(f"(imported {n:,} texts in {time.perf_counter() - start:.0f} s)", flush=True)
    ds = project.dataset("news")
    ds.create_layer("topics", value_kind="tags")
    ds.create_layer("rating", value_kind="number", options={"min": 1, "max": 5, "integer": True})
    ds.create_layer("entities", value_kind="spans")
    import sqlalchemy as sa

    from assay.store import schema as t

    with ds.store.read() as conn:
        rows = conn.execute(
            sa.select(t.items.c.id, t.items.c.text)
            .where(t.items.c.dataset_id == ds.id)
            .order_by(t.items.c.id)
        ).all()
    start = time.perf_counter()
    for at in range(0, len(rows), CHUNK):
        chunk = rows[at : at + CHUNK]
        k = rng.integers(0, 4, len(chunk))
        picks = rng.random((len(chunk), 8)).argsort(axis=1)
        tags = [
            LabelWrite(int(r.id), [TAGS[j] for j in sorted(picks[i, : k[i]])])
            for i, r in enumerate(chunk)
        ]
        ratings = rng.integers(1, 6, len(chunk))
        numbers = [LabelWrite(int(r.id), int(ratings[i])) for i, r in enumerate(chunk)]
        spans = []
        for r in chunk:
            first = r.text.index(" met ")
            spans.append(
                LabelWrite(
                    int(r.id),
                    [
                        {"start": 0, "end": first, "class": TAGS[0]},
                        {"start": first + 5, "end": r.text.index(" on "), "class": TAGS[1]},
                    ],
                )
            )
        ds.set_labels(tags, layer="topics", author="bench")
        ds.set_labels(numbers, layer="rating", author="bench")
        ds.set_labels(spans, layer="entities", author="bench")
    took = time.perf_counter() - start
    print(f"(wrote {3 * n:,} labels in {took:.0f} s: {3 * n / took:,.0f} labels/s)", flush=True)
    with contextlib.suppress(Conflict):
        users.create_user(project.store, "bench", PASSWORD, role="admin")
    project.close()
    (root / "ready").write_text("ok\n")
    return root


def timed(call: Callable[[int], object], server_pid: int) -> tuple[float, float, float]:
    """p50 and p95 in ms over RUNS calls (after one warm-up), and the server's mean CPU ms."""
    proc = psutil.Process(server_pid)
    call(-1)
    samples, cpu = [], []
    for run in range(RUNS):
        before = proc.cpu_times()
        start = time.perf_counter()
        call(run)
        samples.append((time.perf_counter() - start) * 1000)
        after = proc.cpu_times()
        cpu.append((after.user + after.system - before.user - before.system) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * len(samples)) - 1], statistics.fmean(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    args = parser.parse_args()
    root = build(args.items)
    print(f"Machine: {machine()}\n")
    print(
        f"{args.items:,} texts in SQLite, with a tags, a number and a spans layer labeled on "
        f"every item; `assay serve` on 127.0.0.1, {RUNS} requests each after one warm-up.\n"
    )
    with server(root, None, timeout_s=120) as (base, proc), httpx.Client(base_url=base) as c:
        token = c.get("/api/v1/login").json()["csrf_token"]
        signed = c.post(
            "/api/v1/login",
            json={"username": "bench", "password": PASSWORD},
            headers={"X-CSRF-Token": token},
        )
        signed.raise_for_status()
        c.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
        grid = "/datasets/news/items"
        n = args.items

        def get(path: Callable[[int], str]) -> Callable[[int], object]:
            def call(run: int) -> object:
                response = c.get(path(run))
                if response.status_code != 200:
                    raise RuntimeError(f"{path(run)}: {response.status_code} {response.text[:300]}")
                return response

            return call

        spread = max(1, n // (RUNS + 1))

        def grid_of(text: Callable[[int], str]) -> Callable[[int], str]:
            return lambda r: f"{grid}?{urlencode({'filter': text(r)})}"

        def item(r: int) -> int:
            return (r + 1) * spread

        cases: list[tuple[str, Callable[[int], object]]] = [
            ("item page (tags, number, spans)", get(lambda r: f"/datasets/news/item/n{item(r)}")),
            (BASELINE, get(grid_of(lambda r: f"label[ground_truth]=t{r % 8}"))),
            ("grid (96), no filter, tag+value columns", get(lambda r: grid)),
            ("grid (96), tag[topics]=t", get(grid_of(lambda r: f"tag[topics]=t{r % 8}"))),
            ("grid (96), value[rating]>=4", get(grid_of(lambda r: "value[rating]>=4"))),
            ("grid (96), tag[topics]=none", get(grid_of(lambda r: "tag[topics]=none"))),
            (
                "grid (96), tag and value",
                get(grid_of(lambda r: f"tag[topics]=t{r % 8}, value[rating]=5")),
            ),
            ("grid (96), sorted by value of rating", get(lambda r: f"{grid}?sort=value:rating")),
            (
                "item value API (tags)",
                get(lambda r: f"/api/v1/datasets/news/items/{item(r) + 1}/value?layer=topics"),
            ),
        ]
        print("| request | p50 ms | p95 ms | p95 / class-label grid | server CPU mean ms |")
        print("| --- | ---: | ---: | ---: | ---: |")
        results = {}
        for name, call in cases:
            results[name] = timed(call, proc.pid)
        base_p95 = results[BASELINE][1]
        for name, (p50, p95, cpu) in results.items():
            print(f"| {name} | {p50:.1f} | {p95:.1f} | {p95 / base_p95:.2f}x | {cpu:.1f} |")
        print(f"\nLoad average during the run: {', '.join(f'{x:.1f}' for x in os.getloadavg())}.")


if __name__ == "__main__":
    main()
