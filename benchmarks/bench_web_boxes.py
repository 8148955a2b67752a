"""Server time of the box editor's pages at 1,000,000 boxes (issue 17): the item page with 3 box
layers of 100 boxes each, the item-boxes API (every layer in one request), a box-set save, and
the items grid with a box layer drawn over every thumbnail, side by side with the same grid
without overlays.

The project (made once, in benchmarks/_work/web_boxes_{images}_{per_image}): ``images`` 64 x 64
images; box layer ``truth`` (human) with ``per_image`` boxes on every image (100,000 x 10 =
1,000,000 boxes at the full size), written with bulk writes (``Dataset.set_labels``, 10,000
images per transaction); on the first ``HEAVY`` images 100 boxes in each of ``truth``,
``alice`` (an annotator's layer) and ``detector`` (a model's scored predictions).

A real ``assay serve`` on 127.0.0.1 (a free port), stopped by its process id; requests over
HTTP from one signed-in client, RUNS each after one warm-up request (bounded: no loop waits
on anything but a response). Target: p95 under 100 ms.

    python benchmarks/bench_web_boxes.py                      # 100,000 images x 10 boxes
    python benchmarks/bench_web_boxes.py --images 10000       # a quicker, smaller run
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

import assay
from _common import WORK, machine
from assay import users
from assay.errors import Conflict
from assay.ingest.arrays import import_arrays
from assay.labels.writes import LabelWrite
from loadkit import server

RUNS = 60
HEAVY = 20  # images with 3 layers x 100 boxes
SIZE = 64
CLASSES = [str(d) for d in range(10)]
PASSWORD = "benchmark password"
CHUNK = 10_000


def _images(n: int) -> Iterator[tuple[np.ndarray, list[str | None]]]:
    """Chunks of distinct, highly compressible 64 x 64 images (a gradient and the index)."""
    base = np.add.outer(np.arange(SIZE), np.arange(SIZE)).astype(np.uint8)
    for start in range(0, n, CHUNK):
        count = min(CHUNK, n - start)
        chunk = np.repeat(base[None], count, axis=0)
        index = np.arange(start, start + count, dtype=np.uint32)
        chunk[:, 0, :4] = index.view(np.uint8).reshape(count, 4)  # every image unique
        yield chunk, [None] * count


def _boxes(rng: np.random.Generator, k: int, *, scored: bool = False) -> list[dict[str, Any]]:
    """``k`` random boxes inside a 64 x 64 image."""
    w = rng.uniform(3, 12, k).round(2)
    h = rng.uniform(3, 12, k).round(2)
    x = (rng.uniform(0, 1, k) * (SIZE - w)).round(2)
    y = (rng.uniform(0, 1, k) * (SIZE - h)).round(2)
    c = rng.integers(0, 10, k)
    out = []
    for i in range(k):
        box: dict[str, Any] = {
            "id": i + 1, "class": CLASSES[c[i]],
            "x": float(x[i]), "y": float(y[i]), "w": float(w[i]), "h": float(h[i]),
        }  # fmt: skip
        if scored:
            box["score"] = round(float(rng.uniform(0.05, 1.0)), 3)
        out.append(box)
    return out


def build(images: int, per_image: int) -> Path:
    """The benchmark project (made once per size)."""
    root = WORK / f"web_boxes_{images}_{per_image}"
    if (root / "ready").exists():
        return root
    if root.exists():
        import shutil

        shutil.rmtree(root)
    start = time.perf_counter()
    project = assay.init(root)
    import_arrays(
        project.store, _images(images), dataset="scenes", source="bench", format="bench",
        total=images, classes=CLASSES,
    )  # fmt: skip
    ds = project.dataset("scenes")
    ids = [int(r["id"]) for r in ds.items(limit=min(images, 1000))[0]][:HEAVY]
    with ds.store.read() as conn:
        import sqlalchemy as sa

        from assay.store import schema as t

        all_ids = (
            conn.execute(
                sa.select(t.items.c.id).where(t.items.c.dataset_id == ds.id).order_by(t.items.c.id)
            )
            .scalars()
            .all()
        )
    print(f"(imported {images:,} images in {time.perf_counter() - start:.0f} s)")
    ds.create_layer("truth", value_kind="boxes")
    ds.create_layer("alice", value_kind="boxes", owner="alice")
    ds.create_layer("detector", value_kind="boxes", kind="model")
    rng = np.random.default_rng(0)
    heavy = set(ids)
    start = time.perf_counter()
    n_boxes = 0
    for at in range(0, len(all_ids), CHUNK):
        writes = []
        for item_id in all_ids[at : at + CHUNK]:
            k = 100 if item_id in heavy else per_image
            writes.append(LabelWrite(int(item_id), _boxes(rng, k)))
            n_boxes += k
        ds.set_labels(writes, layer="truth", author="bench")
    took = time.perf_counter() - start
    print(f"(wrote {n_boxes:,} boxes in {took:.0f} s: {n_boxes / took:,.0f} boxes/s)")
    ds.set_labels([LabelWrite(i, _boxes(rng, 100)) for i in ids], layer="alice", author="alice")
    ds.set_labels(
        [LabelWrite(i, _boxes(rng, 100, scored=True)) for i in ids],
        layer="detector",
        author="detector",
    )
    with contextlib.suppress(Conflict):
        users.create_user(project.store, "bench", PASSWORD, role="admin")
    project.close()
    (root / "ready").write_text("ok\n")
    return root


def timed(call: Callable[[int], object], server_pid: int) -> tuple[float, float, float]:
    """p50 and p95 in ms over RUNS calls (after one warm-up), and the server's mean CPU time
    per call (on a busy machine it tells the work a request does from the wait for a core);
    ``call`` gets the run number."""
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
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--per-image", type=int, default=10)
    args = parser.parse_args()
    root = build(args.images, args.per_image)
    project = assay.open(root)
    ds = project.dataset("scenes")
    rows = ds.items(limit=HEAVY)[0]
    heavy = [(int(r["id"]), str(r["external_key"])) for r in rows]
    n_boxes = args.images * args.per_image + HEAVY * (100 - args.per_image) + 2 * HEAVY * 100
    project.close()
    print(f"Machine: {machine()}\n")
    print(
        f"{args.images:,} images, {n_boxes:,} boxes in SQLite ({args.per_image} per image in "
        f"layer truth; {HEAVY} images with 3 layers x 100 boxes); `assay serve` on 127.0.0.1, "
        f"{RUNS} requests each over HTTP after one warm-up, one signed-in client.\n"
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
        api = "/api/v1/datasets/scenes"
        grid = "/datasets/scenes/items"
        deep = args.images // 2
        bases = {item_id: 0 for item_id, _ in heavy}
        edits = np.random.default_rng(1)

        def get(path: Callable[[int], str]) -> Callable[[int], object]:
            def call(run: int) -> object:
                response = c.get(path(run))
                if response.status_code != 200:
                    raise RuntimeError(f"{path(run)}: {response.status_code} {response.text[:300]}")
                return response

            return call

        def save(run: int) -> object:
            item_id = heavy[run % HEAVY][0]
            if not bases[item_id]:
                layers = c.get(f"{api}/items/{item_id}/boxes").json()["layers"]
                bases[item_id] = next(la for la in layers if la["layer"] == "alice")["label_id"]
            body = {"layer": "alice", "boxes": _boxes(edits, 100), "base": bases[item_id]}
            response = c.post(f"{api}/items/{item_id}/boxes", json=body)
            if response.status_code != 201:
                raise RuntimeError(f"save: {response.status_code} {response.text[:300]}")
            bases[item_id] = response.json()["label_id"]
            return response

        key_of = [k for _, k in heavy]
        id_of = [i for i, _ in heavy]
        cases: list[tuple[str, Callable[[int], object]]] = [
            (
                "item page, 3 box layers x 100 boxes",
                get(lambda r: f"/datasets/scenes/item/{key_of[r % HEAVY]}"),
            ),
            (
                f"item page, {args.per_image} boxes",
                get(lambda r: f"/datasets/scenes/item/{HEAVY + 1 + r}"),
            ),
            (
                "item boxes API, 3 layers x 100 boxes",
                get(lambda r: f"{api}/items/{id_of[r % HEAVY]}/boxes"),
            ),
            ("save 100 boxes (base checked, group commit)", save),
            ("grid (96 tiles), no overlay", get(lambda r: grid)),
            ("grid (96 tiles), boxes of truth", get(lambda r: f"{grid}?boxes=truth")),
            (
                f"grid, boxes of truth, after item {deep:,}",
                get(lambda r: f"{grid}?boxes=truth&after={deep}"),
            ),
            (
                "grid (480 large tiles), boxes of truth",
                get(lambda r: f"{grid}?boxes=truth&limit=480&size=l"),
            ),
            ("items API (96), boxes of truth", get(lambda r: f"{api}/items?boxes=truth&limit=96")),
        ]
        print("| request | p50 ms | p95 ms | server CPU mean ms |")
        print("| --- | ---: | ---: | ---: |")
        results = {}
        for name, call in cases:
            p50, p95, cpu = timed(call, proc.pid)
            results[name] = (p50, p95)
            print(f"| {name} | {p50:.1f} | {p95:.1f} | {cpu:.1f} |", flush=True)
        plain = results["grid (96 tiles), no overlay"][0]
        drawn = results["grid (96 tiles), boxes of truth"][0]
        print(f"\nGrid with box overlays / without: {drawn / plain:.2f}x (p50).")
        print(f"Load average during the run: {', '.join(f'{x:.1f}' for x in os.getloadavg())}.")


if __name__ == "__main__":
    main()
