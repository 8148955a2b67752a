"""Many writers on the same items at once: no label is lost, every history is one ordered chain.

Writers are threads sharing one project, and separate processes each opening the project
(forked), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
import multiprocessing
import threading
from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa

import assay
from assay.store import schema as t

WRITERS = 6
WRITES = 15
ITEMS = ["k0", "k1", "k2"]
CLASSES = ["cat", "dog", "bird"]


def _write(root: str, db: str, writer: int) -> None:
    project = assay.open(root, db=db)
    try:
        ds = project.dataset("pets")
        for n in range(WRITES):
            item = ITEMS[(writer + n) % len(ITEMS)]
            ds.set_label(
                item,
                CLASSES[n % 3],
                layer="shared",
                author=f"writer-{writer}",
                note=f"{writer}:{n}",
            )
            if n % 5 == 0:  # bulk writes interleave with single ones
                ds.set_labels(
                    [(k, CLASSES[writer % 3]) for k in ITEMS],
                    layer="shared",
                    author=f"writer-{writer}",
                    note=f"{writer}:{n}:bulk",
                )
    finally:
        project.close()


def _check(ds: assay.Dataset) -> None:
    expected_per_writer = WRITES + len(ITEMS) * len(range(0, WRITES, 5))
    with ds.store.read() as conn:
        layer = conn.execute(sa.select(t.layers.c.id).where(t.layers.c.name == "shared")).scalar()
        rows = conn.execute(
            sa.select(t.labels.c.id, t.labels.c.item_id, t.labels.c.supersedes, t.labels.c.reason)
            .where(t.labels.c.layer_id == layer)
            .order_by(t.labels.c.id)
        ).all()
        heads = dict(
            conn.execute(
                sa.select(t.label_heads.c.item_id, t.label_heads.c.label_id).where(
                    t.label_heads.c.layer_id == layer
                )
            ).all()
        )
    assert len(rows) == WRITERS * expected_per_writer  # no label lost
    notes = [r.reason for r in rows]
    assert len(set(notes)) == WRITERS * (WRITES + len(range(0, WRITES, 5)))  # every write landed
    chains: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
    for r in rows:
        chains[r.item_id].append((r.id, r.supersedes))
    for item_id, chain in chains.items():
        # One unbroken chain in id order: each label supersedes the one before it.
        assert chain[0][1] is None
        for (prev_id, _), (_, supersedes) in itertools.pairwise(chain):
            assert supersedes == prev_id
        assert heads[item_id] == chain[-1][0]
        assert [h["id"] for h in ds.history(item_id, layer="shared")] == [c[0] for c in chain]


@pytest.mark.slow
def test_threads_writing_the_same_items(ds: assay.Dataset, tmp_path: Path) -> None:
    ds.create_layer("shared")
    project = ds.project
    errors: list[BaseException] = []

    def run(writer: int) -> None:
        try:
            _write(str(project.root), project.store.url, writer)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(WRITERS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not errors, errors
    _check(ds)


@pytest.mark.slow
def test_processes_writing_the_same_items(ds: assay.Dataset) -> None:
    ds.create_layer("shared")
    project = ds.project
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=_write, args=(str(project.root), project.store.url, w))
        for w in range(WRITERS)
    ]
    project.store.close()  # no pooled connection may cross a fork
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * WRITERS
    _check(ds)
