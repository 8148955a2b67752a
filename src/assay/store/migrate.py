"""Schema migrations with Alembic, run under a lock so only one process migrates at a time."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from assay.errors import StoreError
from assay.store.engine import Store

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest revision; a test checks that it matches the migration scripts.
HEAD = "0012"


def alembic_config(store: Store) -> Config:
    """An Alembic config pointing at Assay's migration scripts and the store's database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", store.url.replace("%", "%%"))
    return config


def script_head() -> str:
    """The head revision according to the migration scripts on disk."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def current_revision(store: Store) -> str | None:
    """The store's schema revision, or None for an empty database."""
    with store.read() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(store: Store) -> None:
    """Migrate to HEAD inside one write transaction (which also serializes concurrent runs)."""
    if current_revision(store) == HEAD:
        return
    config = alembic_config(store)
    try:
        with store.write() as conn:
            if store.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7140117)"))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(
            f"Migrating the store failed, nothing was changed: {exc.__class__.__name__}: "
            f"{str(getattr(exc, 'orig', exc)).splitlines()[0]}"
        ) from exc
