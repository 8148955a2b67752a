"""tests/conftest.py migrates empty SQLite stores by copying a store Alembic migrated once per
session: the copy must be exactly what Alembic makes, and a working store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command

from assay.store import migrate
from assay.store.engine import Store
from assay.store.migrate import HEAD, current_revision


def _shape(store: Store) -> dict[str, Any]:
    with store.read() as conn:
        sql = conn.exec_driver_sql
        return {
            "objects": sql(
                "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
            ).all(),
            "version": sql("SELECT version_num FROM alembic_version").all(),
            "pragmas": [
                sql(f"PRAGMA {name}").scalar()
                for name in ("page_size", "journal_mode", "user_version", "auto_vacuum", "encoding")
            ],
        }


def test_the_template_copy_equals_an_alembic_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store(tmp_path / "first.db").migrate()  # the session's template exists from here on
    copied, migrated = Store(tmp_path / "copied.db"), Store(tmp_path / "migrated.db")
    try:
        with monkeypatch.context() as mp:

            def refuse(*_args: Any, **_kwargs: Any) -> None:
                raise AssertionError("Alembic ran: the store was not copied from the template")

            mp.setattr(command, "upgrade", refuse)
            copied.migrate()
        migrate.upgrade.__wrapped__(migrated)  # type: ignore[attr-defined]
        assert current_revision(copied) == HEAD
        assert _shape(copied) == _shape(migrated)
        assert len(_shape(copied)["objects"]) > 20
        with copied.write() as conn:  # writable, with foreign keys enforced
            conn.exec_driver_sql(
                "INSERT INTO datasets (name, created_at) VALUES ('d', CURRENT_TIMESTAMP)"
            )
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        copied.close()
        migrated.close()
