"""The migrations build exactly the schema that ``store/schema.py`` declares, on both backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import assay
from assay.labels.writes import LabelWrite
from assay.quality.runs import latest_run
from assay.store import schema as t
from assay.store.engine import Store
from assay.store.migrate import HEAD, alembic_config, current_revision, script_head
from assay.store.schema import metadata
from labelkit import make_dataset

# These tests are about the migrations: Alembic runs on every store (tests/conftest.py).
pytestmark = pytest.mark.real_migrations


def test_migrated_store_matches_the_declared_schema(store: Store) -> None:
    assert current_revision(store) == HEAD == script_head()
    with store.read() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": False}
        )
        diffs = compare_metadata(context, metadata)
    assert diffs == []


def test_0009_dates_the_searches_stored_before_it(tmp_path: Path) -> None:
    """The grid finds the latest label-issue search by ``model_runs.searched_at``: migration
    0009 fills it in from each stored search's ``computed_at``."""
    store = Store(str(tmp_path / "assay.db"))
    try:
        config = alembic_config(store)
        now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
        with store.write() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0008")
            conn.execute(
                sa.text("INSERT INTO datasets (id, name, created_at) VALUES (1, 'd', :now)"),
                {"now": now},
            )
            for run_id, metrics in [(1, {"label_quality": {"computed_at": now.isoformat()}}),
                                    (2, {"accuracy": 0.9})]:  # fmt: skip
                conn.execute(
                    sa.text(
                        "INSERT INTO model_runs (id, dataset_id, name, kind, state, model, "
                        "metrics, created_by, created_at) VALUES (:id, 1, :name, 'cv', 'done', "
                        "'logreg', :metrics, 't', :now)"
                    ),
                    {"id": run_id, "name": f"r{run_id}", "metrics": json.dumps(metrics),
                     "now": now},
                )  # fmt: skip
        store.migrate()
        with store.read() as conn:
            assert latest_run(conn, 1).id == 1
            runs = sa.select(t.model_runs.c.id, t.model_runs.c.searched_at)
            searched = {row.id: row.searched_at for row in conn.execute(runs)}
        assert searched == {1: now, 2: None}
    finally:
        store.close()


def test_0012_copies_each_current_number_into_its_head(
    tmp_path: Path,
    store_url: str,
) -> None:
    """Stores made before 0012 get ``label_heads.number`` from each number layer's current
    label (a cleared one: NULL; other kinds: NULL) and ``head_tags`` from each tags layer's
    current label, on both backends."""
    project = assay.init(tmp_path / "p", db=store_url)
    ds = make_dataset(project, "pets", n=12)
    ids = [ds.item(f"k{i}")["id"] for i in range(12)]
    ds.create_layer("y", value_kind="number")
    ds.set_labels([LabelWrite(item, i * 1.5) for i, item in enumerate(ids)], layer="y")
    ds.set_label(ids[1], None, layer="y", author="t")
    ds.set_label(ids[2], 7, layer="y", author="t")  # the current one, not the first
    ds.create_layer("topics", value_kind="tags")
    ds.set_label(ids[2], [], layer="topics", author="t")
    ds.set_label(ids[3], ["dog", "cat"], layer="topics", author="t")
    ds.set_label(ids[4], ["dog"], layer="topics", author="t")
    ds.set_label(ids[4], ["bird"], layer="topics", author="t")  # the current one
    h, tags = t.label_heads.c, t.head_tags.c

    def numbers() -> dict[tuple[int, int], float | None]:
        with ds.store.read() as conn:
            rows = conn.execute(sa.select(h.layer_id, h.item_id, h.number)).all()
        return {(r.layer_id, r.item_id): r.number for r in rows}

    def tagged() -> list[tuple[int, int, int]]:
        with ds.store.read() as conn:
            rows = conn.execute(sa.select(tags.layer_id, tags.item_id, tags.class_id)).all()
        return sorted((r.layer_id, r.item_id, r.class_id) for r in rows)

    written, tags_written = numbers(), tagged()
    assert sum(v is not None for v in written.values()) == 11 and 7.0 in written.values()
    assert [row[1] for row in tags_written] == [ids[3], ids[3], ids[4]]
    config = alembic_config(ds.store)
    with ds.store.write() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0011")
    assert current_revision(ds.store) == "0011"
    ds.store.migrate()
    assert numbers() == pytest.approx(written)
    assert tagged() == tags_written
    project.close()
