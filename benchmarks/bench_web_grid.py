"""Server time of the items grid at 1,000,000 items (SQLite): every sort, deep pages, the chosen
model's predictions on the tiles, and the total count (issue 16).

Uses a copy of `bench_web.py`'s 1M-row project (made once, in benchmarks/_work) to which it
adds, once, a model layer of 1,000,000 synthetic predictions (5 classes, with probabilities and
confidences, written as a model run writes them) and a label-issue search over it (method
``self_confidence``: quality and loss per item). Requests go through the whole app in-process,
signed in, RUNS times each after one warm-up request (so a count is served from its cache, as
it is after the first view of a grid); the cold counts are timed separately, once each.

    python benchmarks/bench_web_grid.py
"""

from __future__ import annotations

import contextlib
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from fastapi.testclient import TestClient

import assay
from _common import WORK, machine
from assay import users
from assay.dataset import item_order
from assay.errors import Conflict
from assay.models.runs import write_predictions
from assay.store import schema as t
from assay.web import create_app
from bench_web import DEEP, PASSWORD, RUNS, N, ok, project_copy, timed

MODEL = "bench-model"
GRID = "/datasets/table/items"


def grid_project() -> Path:
    """A copy of bench_web's project with a model layer and a label-issue search (made once)."""
    target = WORK / f"web_grid_{N}"
    if not (target / "assay.db").exists():
        source = project_copy(N)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / "assay.toml", target / "assay.toml")
        shutil.copyfile(source / "assay.db", target / "assay.db")
    project = assay.open(target)
    ds = project.dataset("table")
    if MODEL not in [layer["name"] for layer in ds.layers()]:
        start = time.perf_counter()
        with ds.store.read() as conn:
            ids = np.array(
                conn.execute(
                    sa.select(t.items.c.id).where(t.items.c.dataset_id == ds.id).order_by("id")
                )
                .scalars()
                .all()
            )
        rng = np.random.default_rng(0)
        classes = ds.classes()
        probs = rng.dirichlet(np.full(len(classes), 0.6), size=len(ids))
        with ds.store.write() as conn:
            write_predictions(conn, ds.id, MODEL, ids, probs, classes, "bench", create=True)
        print(f"(wrote {len(ids):,} predictions in {time.perf_counter() - start:.0f} s)")
        start = time.perf_counter()
        ds.quality.find(model_layer=MODEL, features=False, method="self_confidence")
        print(f"(label-issue search in {time.perf_counter() - start:.0f} s)")
    project.close()
    return target


def deep_cursor(project: assay.Project, sort: str) -> str:
    """The grid cursor after the DEEP-th item of ``sort`` (found once with OFFSET)."""
    ds = project.dataset("table")
    with ds.store.read() as conn:
        order = item_order(conn, ds.id, sort, MODEL)
        query = sa.select(t.items.c.id, order.value).where(t.items.c.dataset_id == ds.id)
        if order.source is not None:
            query = query.select_from(order.source.join(t.items, t.items.c.id == order.item))
            query = query.where(order.condition)
        keys = [order.value, t.items.c.id if order.item is None else order.item]
        query = query.order_by(*(k.desc() if order.descending else k for k in keys))
        item_id, value = conn.execute(query.offset(DEEP - 1).limit(1)).one()
    return f"{item_id}:{float(value)!r}" if order.numeric else f"{item_id}:{value}"


def main() -> None:
    project = assay.open(grid_project())
    dataset = project.dataset("table")
    with contextlib.suppress(Conflict):
        users.create_user(project.store, "bench", PASSWORD, role="admin")
    client = TestClient(create_app(project))
    token = client.get("/api/v1/login").json()["csrf_token"]
    client.post(
        "/api/v1/login",
        json={"username": "bench", "password": PASSWORD},
        headers={"X-CSRF-Token": token},
    )
    print(f"Machine: {machine()}\n")
    print(f"{N:,} items in SQLite; {RUNS} requests each, in-process, signed in with a session.\n")
    print("Cold counts (the first view of a grid; then cached per data version):\n")
    print("| count | ms | answer |")
    print("| --- | ---: | ---: |")
    for name, kwargs in [
        ("all items (exact)", {}),
        ("label=c (capped at 10,000)", {"filter": "label=c", "cap": 10_000}),
        ("label=c, exact", {"filter": "label=c"}),
        ("sort by loss (capped)", {"sort": "loss", "cap": 10_000}),
        (
            "confidence[model]<0.25 (capped)",
            {"filter": f"confidence[{MODEL}]<0.25", "cap": 10_000},
        ),
    ]:
        start = time.perf_counter()
        n = dataset.count(model=MODEL, **kwargs)  # type: ignore[arg-type]
        print(f"| {name} | {(time.perf_counter() - start) * 1000:.0f} | {n:,} |")
    deep = {sort: deep_cursor(project, sort) for sort in ("key", "confidence", "quality", "loss")}
    cases = [
        ("grid, added (96)", f"{GRID}"),
        ("grid, added, with the model's predictions", f"{GRID}?model={MODEL}"),
        (f"grid, added, after {DEEP:,}", f"{GRID}?model={MODEL}&after={DEEP}"),
        ("grid, newest first", f"{GRID}?model={MODEL}&sort=newest"),
        ("grid, by key", f"{GRID}?model={MODEL}&sort=key"),
        (f"grid, by key, after {DEEP:,}", f"{GRID}?model={MODEL}&sort=key&after={deep['key']}"),
        ("grid, by confidence", f"{GRID}?model={MODEL}&sort=confidence"),
        (
            f"grid, by confidence, after {DEEP:,}",
            f"{GRID}?model={MODEL}&sort=confidence&after={deep['confidence']}",
        ),
        ("grid, by label quality", f"{GRID}?model={MODEL}&sort=quality"),
        (
            f"grid, by label quality, after {DEEP:,}",
            f"{GRID}?model={MODEL}&sort=quality&after={deep['quality']}",
        ),
        ("grid, by loss", f"{GRID}?model={MODEL}&sort=loss"),
        (f"grid, by loss, after {DEEP:,}", f"{GRID}?model={MODEL}&sort=loss&after={deep['loss']}"),
        ("grid, label=c by confidence", f"{GRID}?model={MODEL}&label=c&sort=confidence"),
        ("grid, confidence below 0.25", f"{GRID}?model={MODEL}&below=0.25"),
        ("grid, 480 large tiles", f"{GRID}?model={MODEL}&limit=480&size=l"),
    ]
    # CPU time (of the whole process: the app runs in TestClient's thread) beside the wall
    # time: on a busy machine it tells the work a request does from the wait for a core.
    print("\n| request | p50 ms | p95 ms | CPU p50 ms |")
    print("| --- | ---: | ---: | ---: |")
    for name, url in cases:
        call = ok(client, "GET", url.replace("+", "%2B").replace(":", "%3A"))
        cpu = []

        def measured(call: Callable[[], object] = call, cpu: list[float] = cpu) -> object:
            start = time.process_time()
            out = call()
            cpu.append((time.process_time() - start) * 1000)
            return out

        p50, p95 = timed(measured)
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {statistics.median(cpu[1:]):.1f} |")
    client.close()
    project.close()


if __name__ == "__main__":
    main()
