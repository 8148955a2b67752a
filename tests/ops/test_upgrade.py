"""A store made by the previous release's schema (migration 0001, issue 2) upgrades to the
current one with every item, label and history intact, and works afterwards."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command

import assay
from assay.store.doctor import check_store
from assay.store.engine import Store
from assay.store.migrate import HEAD, alembic_config, current_revision

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _old_store(url: str) -> None:
    """Migrate to 0001 and fill it the way 0.1 wrote: raw rows, 0001's columns only."""
    store = Store(url)
    config = alembic_config(store)
    with store.write() as conn:
        config.attributes["connection"] = conn
        # The PostgreSQL test database comes migrated to HEAD: take it back to an empty one
        # first (which also exercises every downgrade).
        command.downgrade(config, "base")
        command.upgrade(config, "0001")
    with store.write() as conn:
        ins = conn.execute
        ins(
            sa.text(
                "INSERT INTO imports (id, dataset_name, source, format, state, pid, host,"
                " started_at, finished_at, n_rows, n_new_items, n_new_labels)"
                " VALUES (1, 'old', 'old.csv', 'csv', 'published', 1, 'h', :t, :t, 30, 30, 32)"
            ),
            {"t": NOW},
        )
        ins(
            sa.text(
                "INSERT INTO datasets (id, name, description, created_at, state, import_id)"
                " VALUES (1, 'old', '', :t, 'ready', 1)"
            ),
            {"t": NOW},
        )
        for k, name in enumerate(["cat", "dog"]):
            ins(
                sa.text(
                    "INSERT INTO classes (id, dataset_id, name, position) VALUES (:i, 1, :n, :p)"
                ),
                {"i": k + 1, "n": name, "p": k},
            )
        ins(
            sa.text(
                "INSERT INTO layers (id, dataset_id, name, kind, frozen, created_at)"
                " VALUES (1, 1, 'ground_truth', 'import', false, :t)"
            ),
            {"t": NOW},
        )
        for i in range(1, 31):
            ins(
                sa.text(
                    "INSERT INTO items (id, dataset_id, external_key, kind, split, content_hash,"
                    " import_id) VALUES (:i, 1, :k, 'tabular', 'train', :h, 1)"
                ),
                {"i": i, "k": f"k{i}", "h": f"{i:032x}"},
            )
            ins(
                sa.text(
                    "INSERT INTO labels (id, layer_id, item_id, class_id, author, created_at,"
                    " import_id) VALUES (:i, 1, :i, :c, 'import', :t, 1)"
                ),
                {"i": i, "c": 1 + i % 2, "t": NOW},
            )
        # Two relabels: a history of two rows for items 1 and 2.
        for label_id, item in ((31, 1), (32, 2)):
            ins(
                sa.text(
                    "INSERT INTO labels (id, layer_id, item_id, class_id, author, created_at,"
                    " reason, supersedes) VALUES (:l, 1, :i, 1, 'ann', :t, 'fixed', :i)"
                ),
                {"l": label_id, "i": item, "t": NOW},
            )
        ins(
            sa.text(
                "INSERT INTO label_heads (layer_id, item_id, label_id, class_id)"
                " SELECT layer_id, item_id, MAX(id), NULL FROM labels GROUP BY layer_id, item_id"
            )
        )
        ins(
            sa.text(
                "UPDATE label_heads SET class_id = (SELECT class_id FROM labels"
                " WHERE labels.id = label_heads.label_id)"
            )
        )
        if store.dialect == "postgresql":
            for table in ("imports", "datasets", "classes", "layers", "items", "labels"):
                ins(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" (SELECT MAX(id) FROM {table}))"
                    )
                )
    assert current_revision(store) == "0001"
    store.close()


def test_upgrade_from_the_previous_release_keeps_everything(tmp_path: Path, store_url: str) -> None:
    _old_store(store_url)
    project = assay.open(assay.init(tmp_path, db=store_url).root, db=store_url)
    assert current_revision(project.store) == HEAD
    ds = project.dataset("old")
    assert len(ds) == 30
    assert [h["label"] for h in ds.history("k1")] == ["dog", "cat"]
    assert ds.history("k1")[1]["note"] == "fixed"
    assert ds.item("k3")["labels"]["ground_truth"]["label"] == "dog"
    assert check_store(project.store).ok
    # The new features work on the upgraded store.
    ds.create_layer("alice", owner="alice")
    ds.set_label("k3", "cat", layer="alice", author="alice")
    ds.snapshot("after-upgrade")
    ds.set_label("k3", "dog", layer="alice", author="alice")
    assert ds.diff("after-upgrade").n_changes == 1
    assert ds.layer("ground_truth")["description"] == ""
    project.close()
