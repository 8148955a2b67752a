"""Snapshot diffs at 10,000 and 1,000,000 items: the set difference in SQL against the old
full outer join, side by side where the old one finishes.

Each size is a dataset ``digits_<n>`` of tabular items with a ``ground_truth`` layer of 10
classes, made once in the project benchmarks/_work/diff (SQLite; diff_pg with a PostgreSQL
URL): imported through the import's fast path (``ImportJob``), snapshotted as ``v1``, 1,000
items spread over it relabeled (one ``set_labels`` call) and snapshotted again as ``v2``.
Measured (median of 3): ``Dataset.diff("v2")`` (no change since), ``Dataset.diff("v1")``
(1,000 relabeled) and ``Dataset.diff("v1", "v2")`` (two snapshots). The old diff (issue 16's
34-92 s pages: a FULL OUTER JOIN of the two states as subqueries, which SQLite answers with a
nested scan) runs on the smaller sizes only (``OLD_UP_TO``); its query is kept here,
classification layers only, to compare.

    python benchmarks/bench_diff.py                 # 10,000 and 1,000,000 items
    python benchmarks/bench_diff.py 100000          # other sizes
    python benchmarks/bench_diff.py postgresql://user@host/db     # in PostgreSQL
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

import assay
from _common import WORK, machine
from assay.ingest.staging import ImportJob, json_hash
from assay.store import schema as t

CLASSES = [str(c) for c in range(10)]
RELABELED = 1_000
OLD_UP_TO = 10_000
RUNS = 3


def prepare(n: int, db: str | None) -> assay.Dataset:
    """The n-item dataset ``digits_<n>`` with snapshots ``v1`` (as imported) and ``v2`` (after
    the relabels), made once in the project of ``db`` (None: SQLite)."""
    path = WORK / ("diff" if db is None else "diff_pg")
    project = assay.init(path, db=db)
    name = f"digits_{n}"
    if name not in [d["name"] for d in project.datasets()]:
        start = time.perf_counter()
        with ImportJob(
            project.store,
            name,
            source="bench",
            format="bench",
            table_schema=[{"name": "x", "dtype": "number"}],
            classes=CLASSES,
        ) as job:
            for i in range(n):
                fields = {"x": i}
                job.add(
                    {
                        "external_key": f"k{i}",
                        "kind": "tabular",
                        "split": "train",
                        "label": CLASSES[i % 10],
                        "fields": fields,
                        "content_hash": json_hash(fields),
                    },
                    where=i + 2,
                )
            job.publish()
        ds = project.dataset(name)
        ds.snapshot("v1")
        step = max(n // RELABELED, 1)
        writes = [(f"k{i}", CLASSES[(i + 1) % 10]) for i in range(0, n, step)][:RELABELED]
        ds.set_labels(writes, layer="ground_truth", author="bench")
        ds.snapshot("v2")
        print(f"  (made {n:,} items and their snapshots in {time.perf_counter() - start:.1f} s)")
    return project.dataset(name)


def old_diff(ds: assay.Dataset, a: str) -> int:
    """The changed items of the diff before issue 16 (its query, classification layers),
    from snapshot ``a`` to now: the two states as subqueries in a FULL OUTER JOIN."""
    lab, h, s = t.labels, t.label_heads, t.snapshot_labels
    with ds.store.read() as conn:
        snap_id = conn.execute(
            sa.select(t.snapshots.c.id).where(
                t.snapshots.c.dataset_id == ds.id, t.snapshots.c.name == a
            )
        ).scalar_one()
        layers = list(
            conn.execute(sa.select(t.layers.c.id).where(t.layers.c.dataset_id == ds.id)).scalars()
        )
        state_a = (
            sa.select(s.c.layer_id, s.c.item_id, s.c.label_id, lab.c.class_id)
            .join(lab, lab.c.id == s.c.label_id)
            .where(s.c.snapshot_id == snap_id)
            .subquery()
        )
        state_b = (
            sa.select(h.c.layer_id, h.c.item_id, h.c.label_id, h.c.class_id)
            .where(h.c.layer_id.in_(layers), h.c.class_id.is_not(None))
            .subquery()
        )
        layer_id = sa.func.coalesce(state_a.c.layer_id, state_b.c.layer_id)
        changed = (
            sa.select(layer_id.label("layer_id"), state_a.c.class_id, state_b.c.class_id)
            .select_from(
                state_a.join(
                    state_b,
                    sa.and_(
                        state_a.c.layer_id == state_b.c.layer_id,
                        state_a.c.item_id == state_b.c.item_id,
                    ),
                    full=True,
                )
            )
            .where(layer_id.in_(layers), state_a.c.class_id.is_distinct_from(state_b.c.class_id))
            .subquery()
        )
        return int(conn.execute(sa.select(sa.func.count()).select_from(changed)).scalar_one())


def timed(fn: Callable[[], Any], runs: int = RUNS) -> tuple[float, Any]:
    """Median seconds over ``runs`` calls, and the last call's result."""
    samples, out = [], None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), out


def measure(n: int, db: str | None) -> tuple[int, float, float | None, float, float | None, float]:
    """Seconds of the diffs of the n-item dataset: no change (new, old), 1,000 relabeled (new,
    old) and snapshot against snapshot (new); the old one only up to ``OLD_UP_TO`` items."""
    ds = prepare(n, db)
    old = n <= OLD_UP_TO
    new_none, d = timed(lambda: ds.diff("v2"))
    assert d.n_changes == 0
    old_none = timed(lambda: old_diff(ds, "v2"), 1) if old else None
    assert old_none is None or old_none[1] == 0
    new_some, d = timed(lambda: ds.diff("v1"))
    assert d.n_changes == RELABELED, d.n_changes
    old_some = timed(lambda: old_diff(ds, "v1"), 1) if old else None
    assert old_some is None or old_some[1] == RELABELED
    new_snaps, d = timed(lambda: ds.diff("v1", "v2"))
    assert d.n_changes == RELABELED
    return (
        n,
        new_none,
        None if old_none is None else old_none[0],
        new_some,
        None if old_some is None else old_some[0],
        new_snaps,
    )


def main(sizes: list[int], db: str | None) -> None:
    print(f"Machine: {machine()}; store: {'SQLite' if db is None else 'PostgreSQL'}\n")
    rows = [measure(n, db) for n in sizes]

    def cell(x: float | None) -> str:
        return "not run" if x is None else f"{x:.3f}"

    print(
        "| items | no change: new s | no change: old s | 1,000 relabeled: new s "
        "| 1,000 relabeled: old s | v1 -> v2 (snapshots): new s |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, new_none, old_none, new_some, old_some, new_snaps in rows:
        print(
            f"| {n:,} | {cell(new_none)} | {cell(old_none)} | {cell(new_some)} "
            f"| {cell(old_some)} | {cell(new_snaps)} |"
        )


if __name__ == "__main__":
    url = next((a for a in sys.argv[1:] if a.startswith("postgresql://")), None)
    main([int(a) for a in sys.argv[1:] if a != url] or [10_000, 1_000_000], url)
