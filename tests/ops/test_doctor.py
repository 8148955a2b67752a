"""`assay doctor` finds nothing wrong in a healthy store and names what is wrong in a broken one;
a writer killed mid-burst loses no acknowledged label and leaves the store whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import assay
from assay.cli import app
from assay.store import schema as t
from assay.store.doctor import check_store
from labelkit import make_dataset


@pytest.fixture
def busy(tmp_path: Path, store_url: str) -> assay.Dataset:
    """A dataset with history in several layers, a consensus, a resolved case and a snapshot."""
    project = assay.init(tmp_path, db=store_url)
    ds = make_dataset(project, "pets")
    for name in ("a", "b"):
        ds.create_layer(name)
        ds.set_labels(
            [(f"k{i}", "cat" if i % 4 else "dog") for i in range(12)], layer=name, author=name
        )
    ds.set_labels([("k1", "dog"), ("k2", None)], layer="a", author="a")
    ds.review_scan(layers=["a", "ground_truth"], actor="t")
    case = ds.review.list()[0][0]
    ds.review.resolve(case["id"], "bird", "checked", actor="r")
    ds.snapshot("v1")
    return ds


def test_a_healthy_store_passes(busy: assay.Dataset) -> None:
    report = check_store(busy.store)
    assert report.ok, report.to_dict()
    assert {c.name for c in report.checks} >= {"database", "history", "heads", "media", "review"}


def test_broken_chains_and_heads_are_named(busy: assay.Dataset) -> None:
    with busy.store.write() as conn:
        first, second = conn.execute(
            sa.select(t.labels.c.id).order_by(t.labels.c.id).limit(2)
        ).scalars()
        # Deliberate damage, as a bad tool or a hand-edited database would do.
        conn.execute(t.labels.update().where(t.labels.c.id == second).values(supersedes=first))
        head = conn.execute(
            sa.select(t.label_heads).where(t.label_heads.c.label_id > second).limit(1)
        ).first()
        assert head is not None
        conn.execute(
            t.label_heads.update()
            .where(
                t.label_heads.c.layer_id == head.layer_id, t.label_heads.c.item_id == head.item_id
            )
            .values(label_id=first)
        )
    report = check_store(busy.store).to_dict()
    bad = {c["name"]: c for c in report["checks"] if not c["ok"]}
    assert not report["ok"] and {"history", "heads"} <= set(bad)
    assert any("of another item" in e for e in bad["history"]["examples"])
    result = CliRunner().invoke(
        app, ["-p", str(busy.project.root), "--db", busy.store.url, "doctor"]
    )
    assert result.exit_code == 1 and "problems" in result.output


WRITER = """
import sys, assay
ds = assay.open(sys.argv[1], db=sys.argv[2]).dataset("pets")
n = 0
while True:
    r = ds.set_label(f"k{n % 20}", ["cat", "dog", "bird"][n % 3], layer="burst", author="w")
    print(r["label_ids"][0], flush=True)  # acknowledged: committed before this line
    n += 1
"""


@pytest.mark.slow
def test_sigkill_during_a_burst_of_writes_loses_no_acknowledged_label(
    busy: assay.Dataset,
) -> None:
    busy.create_layer("burst")
    root, url = str(busy.project.root), busy.store.url
    busy.project.close()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, root, url],
        stdout=subprocess.PIPE,
        text=True,
    )
    acknowledged: list[int] = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acknowledged.append(int(line))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert len(acknowledged) >= 150, "the writer did not get going"
    project = assay.open(root, db=url)
    with project.store.read() as conn:
        stored = set(
            conn.execute(sa.select(t.labels.c.id).where(t.labels.c.id.in_(acknowledged))).scalars()
        )
    assert stored == set(acknowledged)
    assert check_store(project.store).ok
    project.close()
