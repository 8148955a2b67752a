"""The two ways an import's batches are written give the same store; the fork is guarded."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

import assay
from assay.ingest import sinks, staging
from assay.processes import can_fork
from assay.store import schema as t
from helpers import stray_threads


def _snapshot(project: assay.Project) -> list[tuple[object, ...]]:
    query = (
        sa.select(
            t.items.c.external_key, t.items.c.content_hash, t.items.c.numbers, t.classes.c.name
        )
        .join(t.label_heads, t.label_heads.c.item_id == t.items.c.id)
        .join(t.classes, t.classes.c.id == t.label_heads.c.class_id)
        .order_by(t.items.c.id)
    )
    with project.store.read() as conn:
        return [tuple(r) for r in conn.execute(query)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks only on Linux")
def test_writer_process_and_inline_writes_are_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert stray_threads() == [] and can_fork()  # else an earlier test left threads running
    started = []
    monkeypatch.setattr(
        staging, "ProcessSink", lambda job: started.append(job) or sinks.ProcessSink(job)
    )
    csv = tmp_path / "t.csv"
    csv.write_text("id,x,y\n" + "".join(f"k{i},{i * 0.5},{'ab'[i % 2]}\n" for i in range(57)))
    stores = []
    for use_process in (True, False):
        project = assay.init(tmp_path / str(use_process))
        result = project.import_path(
            csv, label_column="y", key_column="id", batch_size=10, use_process=use_process
        )
        assert (result.n_new_items, result.n_new_labels, result.n_classes_added) == (57, 57, 2)
        stores.append(_snapshot(project))
    assert stores[0] == stores[1]
    assert len(stores[0]) == 57
    assert len(started) == 1  # the first import really went through a writer process
