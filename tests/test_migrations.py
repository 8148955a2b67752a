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

from assay.quality.runs import latest_run
from assay.store import schema as t
from assay.store.engine import Store
from assay.store.migrate import HEAD, alembic_config, current_revision, script_head
from assay.store.schema import metadata

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
