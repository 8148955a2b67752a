"""The migrations build exactly the schema that ``store/schema.py`` declares, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from assay.store.engine import Store
from assay.store.migrate import HEAD, current_revision, script_head
from assay.store.schema import metadata


def test_migrated_store_matches_the_declared_schema(store: Store) -> None:
    assert current_revision(store) == HEAD == script_head()
    with store.read() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": False}
        )
        diffs = compare_metadata(context, metadata)
    assert diffs == []
