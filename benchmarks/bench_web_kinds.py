"""Server time of the pages with tags, numbers and spans (issue 18) at a large text dataset:
the item page (a tags, a number and a spans layer, their editors), the items grid (every page
shows each tags layer's chips and each number layer's value) unfiltered and filtered by a tag
(``tag[topics]=...``), by a value (``value[rating]>=...``) and by "no tag", side by side with
the class-label grid of the same dataset (``label[ground_truth]=...``), as ratios.

The project (made once, in benchmarks/_work/web_kinds_{items}): ``items`` short texts imported
from a JSONL file written in a stream (class labels in ``ground_truth``); layer ``topics``
(tags, 0-3 of 8 tags per item), ``rating`` (number 1-5, whole; 5% rated twice),
``entities`` (spans, 2 per text), appended through the store's bulk label helpers (see
:func:`build`).

A real ``assay serve`` on 127.0.0.1 (a free port), stopped by its process id; RUNS requests
each after one warm-up, one signed-in client. Target: p95 under 100 ms.

    python benchmarks/bench_web_kinds.py                     # 1,000,000 items (the issue's size)
    python benchmarks/bench_web_kinds.py --items 100000      # a quicker run
    python benchmarks/bench_web_kinds.py --items 100000 --pg # in a throwaway PostgreSQL
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
import numpy as np
import psutil
import sqlalchemy as sa

import assay
from _common import WORK, machine
from assay import users
from assay.errors import Conflict
from assay.labels import writes
from assay.labels.writes import LabelWrite
from assay.store import queries
from assay.store import schema as t
from loadkit import server

RUNS = 60
BASELINE = "grid (96), class label filter [baseline]"
TAGS = [f"t{i}" for i in range(8)]
PASSWORD = "benchmark password"
CHUNK = 10_000
CHECKED = 200  # items labeled through Dataset.set_labels, the bulk path checked against them
REWRITTEN = 0.05  # the share of items rated twice
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


def values_of(ids: np.ndarray, texts: list[str], rng: np.random.Generator) -> dict[str, list]:
    """Each item's tags (0-3 of 8), rating (1-5, whole; some rated twice) and 2 spans."""
    k = rng.integers(0, 4, len(ids))
    picks = np.sort(rng.random((len(ids), 8)).argsort(axis=1)[:, :3], axis=1)
    ratings = rng.integers(1, 6, len(ids))
    spans = []
    for text in texts:
        first = text.index(" met ")
        spans.append(
            [
                {"start": 0, "end": first, "class": TAGS[0]},
                {"start": first + 5, "end": text.index(" on "), "class": TAGS[1]},
            ]
        )
    tags = [sorted(TAGS[j] for j in picks[i, : k[i]]) for i in range(len(ids))]
    return {"topics": tags, "rating": [int(r) for r in ratings], "entities": spans}


def build(n: int, db: str | None = None) -> Path:
    """The benchmark project (made once per size).

    The texts come in through the library's import; the labels are appended through the
    store's bulk helpers the importers use (``insert_label_rows``, ``move_heads``), 10,000
    items of a layer per statement batch, in one transaction. The first items are written
    through ``Dataset.set_labels`` and checked to hold what the bulk path writes, so the
    fixture's rows are the ones the library makes. About 5% of the ratings are written twice
    (the first superseded), so orders and filters meet history too.
    """
    root = WORK / (f"web_kinds_{n}" if db is None else f"web_kinds_pg_{n}")
    ready = root / "ready"
    if ready.exists() and ready.read_text() == f"{db or 'sqlite'}\n":  # the same store
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
    project = assay.init(root, db=db)
    project.import_path(source, dataset="news", label_field="label", key_field="id")
    source.unlink()
    print(f"(imported {n:,} texts in {time.perf_counter() - start:.0f} s)", flush=True)
    ds = project.dataset("news")
    ds.create_layer("topics", value_kind="tags")
    ds.create_layer("rating", value_kind="number", options={"min": 1, "max": 5, "integer": True})
    ds.create_layer("entities", value_kind="spans")
    with ds.store.read() as conn:
        layer_ids = {r.name: int(r.id) for r in queries.list_layers(conn, ds.id)}
        rows = conn.execute(
            sa.select(t.items.c.id, t.items.c.text)
            .where(t.items.c.dataset_id == ds.id)
            .order_by(t.items.c.id)
        ).all()
    ids = np.array([r.id for r in rows], dtype=np.int64)
    texts = [r.text for r in rows]
    del rows
    start = time.perf_counter()
    # The first items through the library: what it stores is what the bulk path must store.
    head = min(CHECKED, n)
    first = values_of(ids[:head], texts[:head], rng)
    for layer, values in first.items():
        given = [LabelWrite(int(i), v) for i, v in zip(ids[:head], values, strict=True)]
        ds.set_labels(given, layer=layer, author="bench")
    with ds.store.read() as conn:
        stored = conn.execute(
            sa.select(t.labels.c.layer_id, t.labels.c.value, t.label_heads.c.number)
            .join(t.label_heads, t.label_heads.c.label_id == t.labels.c.id)
            .order_by(t.labels.c.layer_id, t.labels.c.item_id)
        ).all()
    by_layer: dict[int, list[object]] = {}
    for r in stored:
        by_layer.setdefault(r.layer_id, []).append(r.value)
    for layer, values in first.items():
        if by_layer[layer_ids[layer]] != values:
            raise RuntimeError(f"the bulk path would store other {layer} values than the library")
    now = datetime.now(UTC)
    written = 3 * head
    with ds.store.write() as conn:
        for at in range(head, n, CHUNK):
            chunk = ids[at : at + CHUNK]
            values = values_of(chunk, texts[at : at + CHUNK], rng)
            again = set(np.flatnonzero(rng.random(len(chunk)) < REWRITTEN).tolist())
            for layer, layer_values in values.items():
                batch = [
                    _row(layer_ids[layer], int(i), v, now)
                    for i, v in zip(chunk, layer_values, strict=True)
                ]
                label_ids = writes.insert_label_rows(conn, batch)
                if layer == "rating" and again:  # a second rating supersedes the first
                    redo = [
                        {
                            **_row(
                                layer_ids[layer], batch[j]["item_id"], 6 - batch[j]["value"], now
                            ),
                            "supersedes": label_ids[j],
                        }
                        for j in sorted(again)
                    ]
                    redo_ids = writes.insert_label_rows(conn, redo)
                    keep = [j for j in range(len(batch)) if j not in again]
                    batch = [batch[j] for j in keep] + redo
                    label_ids = [label_ids[j] for j in keep] + redo_ids
                    written += len(redo)
                writes.move_heads(conn, batch, label_ids)
                written += len(chunk)
    if db is not None:  # what autovacuum does a minute later; a run at once met empty stats
        with ds.store.write() as conn:
            conn.exec_driver_sql("ANALYZE")
    took = time.perf_counter() - start
    print(f"(wrote {written:,} labels in {took:.0f} s: {written / took:,.0f} labels/s)", flush=True)
    with contextlib.suppress(Conflict):
        users.create_user(project.store, "bench", PASSWORD, role="admin")
    project.close()
    ready.write_text(f"{db or 'sqlite'}\n")
    return root


def _row(layer_id: int, item_id: int, value: object, now: datetime) -> dict[str, object]:
    """A label row as :func:`assay.labels.writes.insert_label_rows` takes it."""
    return {
        "layer_id": layer_id, "item_id": item_id, "class_id": None, "value": value,
        "author": "bench", "created_at": now, "reason": None, "probs": None,
        "confidence": None, "supersedes": None, "idempotency_key": None,
    }  # fmt: skip


def timed(call: Callable[[int], object], server_pid: int) -> tuple[float, float, float, float]:
    """p50 and p95 in ms over RUNS calls (after one warm-up), and the server's CPU ms per
    request: mean and p95 (what a request costs whatever the machine's load)."""
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
    cpu_p95 = sorted(cpu)[int(0.95 * len(cpu)) - 1]
    p95 = samples[int(0.95 * len(samples)) - 1]
    return statistics.median(samples), p95, statistics.fmean(cpu), cpu_p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument(
        "--pg", action="store_true", help="in a throwaway PostgreSQL server (built each run)"
    )
    args = parser.parse_args()
    stop = None
    db = None
    if args.pg:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from conftest import _start_postgres

        db, stop = _start_postgres()
    try:
        run(args.items, db)
    finally:
        if stop is not None:
            stop()


def run(n: int, db: str | None) -> None:
    """Build (or reuse) the project and time the requests against ``assay serve``."""
    root = build(n, db)
    print(f"Machine: {machine()}\n")
    print(
        f"{n:,} texts in {'PostgreSQL' if db else 'SQLite'}, with a tags, a number and a spans "
        f"layer labeled on every item; `assay serve` on 127.0.0.1, {RUNS} requests each after "
        "one warm-up.\n"
    )
    with server(root, db, timeout_s=120) as (base, proc), httpx.Client(base_url=base) as c:
        token = c.get("/api/v1/login").json()["csrf_token"]
        signed = c.post(
            "/api/v1/login",
            json={"username": "bench", "password": PASSWORD},
            headers={"X-CSRF-Token": token},
        )
        signed.raise_for_status()
        c.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
        grid = "/datasets/news/items"

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
            (  # keyset: the page after an item midway (a cursor "ID:VALUE")
                "grid (96), sorted by value, a deep page",
                get(
                    lambda r: (
                        f"{grid}?{urlencode({'sort': 'value:rating', 'after': f'{item(r)}:3.0'})}"
                    )
                ),
            ),
            (
                "item value API (tags)",
                get(lambda r: f"/api/v1/datasets/news/items/{item(r) + 1}/value?layer=topics"),
            ),
        ]
        print(
            "| request | p50 ms | p95 ms | p95 / class-label grid | server CPU mean ms "
            "| server CPU p95 ms |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        results = {}
        for name, call in cases:
            results[name] = timed(call, proc.pid)
        base_p95 = results[BASELINE][1]
        for name, (p50, p95, cpu, cpu95) in results.items():
            print(
                f"| {name} | {p50:.1f} | {p95:.1f} | {p95 / base_p95:.2f}x | {cpu:.1f} "
                f"| {cpu95:.1f} |"
            )
        print(f"\nLoad average during the run: {', '.join(f'{x:.1f}' for x in os.getloadavg())}.")


if __name__ == "__main__":
    main()
