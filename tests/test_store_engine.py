"""The Store: migrations, SQLite connection settings, transactions and the write lock."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection

import assay.store.engine as engine_module
from assay.errors import StoreBusy, StoreError
from assay.store import schema
from assay.store.engine import Store
from assay.store.migrate import HEAD, current_revision, script_head

# These tests are about the migrations: Alembic runs on every store (tests/conftest.py).
pytestmark = pytest.mark.real_migrations

TXN = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK)\b", re.IGNORECASE)
CHANGE = re.compile(r"^\s*(CREATE|ALTER|DROP|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def add_dataset(conn: Connection, name: str) -> None:
    conn.execute(sa.insert(schema.datasets).values(name=name, created_at=datetime.now(UTC)))


def dataset_names(store: Store) -> set[str]:
    with store.read() as conn:
        return set(conn.execute(sa.select(schema.datasets.c.name)).scalars())


def record_statements(store: Store) -> list[str]:
    """Every statement the engine sends through a cursor from now on."""
    statements: list[str] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def _record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    return statements


def trace_sqlite(store: Store) -> list[str]:
    """Every statement SQLite itself runs on connections opened from now on (BEGIN and COMMIT
    included, however they were issued)."""
    statements: list[str] = []

    @event.listens_for(store.engine, "connect")
    def _trace(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.set_trace_callback(statements.append)

    store.close()  # drop pooled connections, so the next one is new and traced
    return statements


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "assay.db")
    try:
        store.migrate()
        yield store
    finally:
        store.close()


# ---------------------------------------------------------------------------------------------
# Both backends
# ---------------------------------------------------------------------------------------------


def test_migrate_reaches_head_and_creates_every_table(store: Store) -> None:
    assert script_head() == HEAD
    assert current_revision(store) == HEAD
    with store.read() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert set(schema.metadata.tables) <= tables


def test_migrate_twice_is_a_no_op(store: Store) -> None:
    statements = record_statements(store)
    store.migrate()
    store.migrate()
    assert current_revision(store) == HEAD == script_head()
    with store.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    assert [s for s in statements if CHANGE.match(s)] == []


def test_write_commits(store: Store) -> None:
    with store.write() as conn:
        add_dataset(conn, "kept")
    assert dataset_names(store) == {"kept"}


def test_failing_write_rolls_back(store: Store) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.write() as conn:
        add_dataset(conn, "lost")
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.datasets)).scalar() == 1
        raise Boom
    assert dataset_names(store) == set()
    # The store is still usable afterwards.
    with store.write() as conn:
        add_dataset(conn, "next")
    assert dataset_names(store) == {"next"}


def test_unreachable_postgres_raises_a_one_line_store_error() -> None:
    store = Store("postgresql://127.0.0.1:1/nope")
    try:
        with pytest.raises(StoreError) as info:
            store.migrate()
    finally:
        store.close()
    message = str(info.value)
    assert message.strip()
    assert "\n" not in message
    assert "127.0.0.1" in message


# ---------------------------------------------------------------------------------------------
# SQLite: connection settings, transaction modes, the write lock
# ---------------------------------------------------------------------------------------------


def test_sqlite_pragmas_on_a_fresh_connection(sqlite_store: Store) -> None:
    sqlite_store.close()  # the next connection is a new one
    with sqlite_store.read() as conn:

        def pragma(name: str) -> Any:
            return conn.exec_driver_sql(f"PRAGMA {name}").scalar()

        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2  # FULL
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") >= 5000
        assert pragma("page_size") == engine_module.PAGE_SIZE


def test_non_durable_write_relaxes_sync_only_inside(sqlite_store: Store) -> None:
    sqlite_store.close()
    with sqlite_store.write(durable=False) as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        conn.execute(schema.datasets.insert().values(name="relaxed", created_at=datetime.now(UTC)))
    # The pooled connection is the same one: it must be back to FULL for everyone else.
    with sqlite_store.write() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.datasets)).scalar() == 1


def test_sqlite_write_begins_immediate_and_read_deferred(sqlite_store: Store) -> None:
    traced = trace_sqlite(sqlite_store)
    with sqlite_store.write() as conn:
        add_dataset(conn, "a")
    assert [s.upper() for s in traced if TXN.match(s)] == ["BEGIN IMMEDIATE", "COMMIT"]

    traced.clear()
    with sqlite_store.read() as conn:
        conn.execute(sa.select(schema.datasets.c.name)).all()
    assert [s.upper() for s in traced if TXN.match(s)] == ["BEGIN DEFERRED", "COMMIT"]

    traced.clear()
    with pytest.raises(RuntimeError), sqlite_store.write() as conn:
        add_dataset(conn, "b")
        raise RuntimeError
    assert [s.upper() for s in traced if TXN.match(s)] == ["BEGIN IMMEDIATE", "ROLLBACK"]
    assert dataset_names(sqlite_store) == {"a"}


def test_sqlite_foreign_keys_are_enforced(sqlite_store: Store) -> None:
    with pytest.raises(sa.exc.IntegrityError), sqlite_store.write() as conn:
        conn.execute(sa.insert(schema.classes).values(dataset_id=12345, name="cat", position=0))


def test_sqlite_writer_waits_for_the_lock(sqlite_store: Store, tmp_path: Path) -> None:
    locked, errors = threading.Event(), []

    def hold_the_lock() -> None:
        try:
            raw = sqlite3.connect(tmp_path / "assay.db", isolation_level=None)
            try:
                raw.execute("BEGIN IMMEDIATE")
                locked.set()
                time.sleep(1.0)
                raw.execute("COMMIT")
            finally:
                raw.close()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            locked.set()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        with sqlite_store.write() as conn:
            add_dataset(conn, "waited")
        waited = time.monotonic() - started
    finally:
        holder.join(10)
    assert errors == []
    assert 0.7 <= waited < 5.0
    assert dataset_names(sqlite_store) == {"waited"}


def test_sqlite_write_raises_store_busy_past_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "BUSY_TIMEOUT_MS", 300)
    path = tmp_path / "assay.db"
    store = Store(path)
    store.migrate()
    raw = sqlite3.connect(path, isolation_level=None)
    try:
        raw.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(StoreBusy, match="busy"), store.write() as conn:
            add_dataset(conn, "never")
        elapsed = time.monotonic() - started
        assert 0.2 <= elapsed < 4.0
        # Readers are not blocked by a writer (WAL).
        assert dataset_names(store) == set()
        raw.execute("ROLLBACK")
        # Once the lock is released, writing works again.
        with store.write() as conn:
            add_dataset(conn, "after")
        assert dataset_names(store) == {"after"}
    finally:
        raw.close()
        store.close()
