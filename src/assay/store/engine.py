"""The ``Store``: one object that owns the database engine, its transactions and its schema.

SQLite is the embedded default. Its connections run in WAL mode with ``synchronous=FULL``,
foreign keys on and a busy timeout, and every write transaction starts with
``BEGIN IMMEDIATE`` so that two writers queue on the lock instead of failing half-way with
"database is locked" (a deferred transaction that upgrades to a write skips the busy handler).
PostgreSQL is selected by a ``postgresql://`` URL and needs the ``postgres`` extra.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from assay.errors import MissingDependency, StoreBusy, StoreError

BUSY_TIMEOUT_MS = 5000
SQLITE_POOL = 40
PAGE_SIZE = 8192
_WRITE = "assay_write"


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def normalize_url(url: str | os.PathLike[str]) -> str:
    """Turn a path or a database URL into an SQLAlchemy URL (``postgresql`` uses psycopg 3)."""
    text = os.fspath(url)
    if text.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).resolve()}"


def _sqlite_engine(url: str) -> Engine:
    engine = sa.create_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        # Keep as many connections as threads that may read at once (the web server runs
        # requests on up to 40 threads): with the default 5, every request beyond them opened
        # and closed a connection of its own, a fifth of a label write's CPU time.
        pool_size=SQLITE_POOL,
        max_overflow=SQLITE_POOL,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (the driver's implicit BEGIN is always DEFERRED).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # Takes effect only in a new, empty database (before WAL mode is set): 8 KiB pages
        # made bulk inserts about 20 % faster than the default 4 KiB here.
        cur.execute(f"PRAGMA page_size={PAGE_SIZE}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # 32 MiB of page cache (the default is 2 MiB): index inserts during imports and
        # scans for statistics touch far more pages than that.
        cur.execute("PRAGMA cache_size=-32768")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _postgres_engine(url: str) -> Engine:
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise MissingDependency(
            "PostgreSQL support needs psycopg: pip install 'assay[postgres]'"
        ) from exc
    return sa.create_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        pool_pre_ping=True,
    )


class Store:
    """The project's database: connections, transactions and the schema version.

    Parameters
    ----------
    url : str or path
        A ``postgresql://`` URL, any SQLAlchemy URL, or the path of an SQLite file.

    Examples
    --------
    >>> store = Store("/tmp/example.db")  # doctest: +SKIP
    >>> with store.write() as conn:  # doctest: +SKIP
    ...     conn.execute(...)
    """

    def __init__(self, url: str | os.PathLike[str]) -> None:
        self.url = normalize_url(url)
        backend = sa.engine.make_url(self.url).get_backend_name()
        if backend == "sqlite":
            self.engine = _sqlite_engine(self.url)
        elif backend == "postgresql":
            self.engine = _postgres_engine(self.url)
        else:
            raise StoreError(f"Unsupported database {backend!r}: use SQLite or PostgreSQL.")
        self.dialect = backend

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction (a consistent snapshot on both backends)."""
        with self._connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self, *, durable: bool = True, wait: bool = True) -> Iterator[Connection]:
        """A connection in a write transaction: committed on success, rolled back on error.

        ``durable=False`` lets SQLite skip the fsync at commit (``synchronous=NORMAL``: a
        power cut may lose the last commits, never consistency). Only for writes nobody can
        see yet, such as the batches of an unpublished import, whose publishing commit is
        durable and makes everything before it durable too.

        ``wait=False`` raises StoreBusy at once, on SQLite, when another writer holds the lock,
        instead of waiting for it: for bookkeeping a request should not wait on (a busy
        writer such as the label committer can hold the lock almost without a gap).
        """
        with self._connect(write=True) as conn:
            sqlite = self.dialect == "sqlite"
            relaxed = not durable and sqlite
            if relaxed:  # and checkpoint in bigger steps: fewer fsyncs of the database file
                _pragma(conn, "synchronous=NORMAL")
                _pragma(conn, "wal_autocheckpoint=16384")
            if not wait and sqlite:
                _pragma(conn, "busy_timeout=0")
            try:
                with conn.begin():
                    yield conn
            finally:
                if relaxed:
                    _pragma(conn, "synchronous=FULL")
                    _pragma(conn, "wal_autocheckpoint=1000")
                if not wait and sqlite:
                    _pragma(conn, f"busy_timeout={BUSY_TIMEOUT_MS}")

    @contextmanager
    def _connect(self, write: bool = False) -> Iterator[Connection]:
        try:
            conn = self.engine.connect()
        except sa.exc.OperationalError as exc:
            raise StoreError(f"Cannot open the store at {self!r}: {_first_line(exc)}") from exc
        try:
            if write:
                conn = conn.execution_options(**{_WRITE: True})
            yield conn
        except sa.exc.OperationalError as exc:
            if "database is locked" in str(exc):
                raise StoreBusy(
                    "The store is busy: another process held the write lock for more than "
                    f"{BUSY_TIMEOUT_MS / 1000:.0f} s. Try again when it has finished."
                ) from exc
            # The transaction was rolled back: say so, and what went wrong, in one line.
            raise StoreError(
                f"The store failed ({_first_line(exc)}); this operation was rolled back and "
                f"nothing of it was saved. {_advice(exc)}"
            ) from exc
        finally:
            with contextlib.suppress(sa.exc.SQLAlchemyError):  # died with its server
                conn.close()

    def ping(self) -> None:
        """Run a trivial query: StoreError, saying why, unless the store answers (for health
        checks)."""
        try:
            with self.read() as conn:
                conn.execute(sa.text("SELECT 1")).scalar_one()
        except StoreError:
            raise
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            raise StoreError(f"The store does not answer: {_first_line(exc)}") from exc

    def close(self) -> None:
        """Close every pooled connection (the store can still be used afterwards)."""
        self.engine.dispose()

    def migrate(self) -> None:
        """Bring the schema to the newest version (creates it in an empty database)."""
        from assay.store.migrate import upgrade

        upgrade(self)


def _pragma(conn: Connection, setting: str) -> None:
    """Set a PRAGMA on the driver connection, outside any transaction."""
    conn.connection.driver_connection.execute(f"PRAGMA {setting}")  # type: ignore[union-attr]


def _advice(exc: BaseException) -> str:
    """What to do about a failed store operation."""
    text = str(exc).lower()
    if "disk is full" in text or "no space" in text:
        return "Free some disk space and try again."
    if "readonly" in text or "read-only" in text:
        return "The database file (or its folder) is read-only; make it writable."
    if "connection" in text or "server closed" in text or "terminating" in text:
        return "The database server is unreachable; try again once it is back."
    return "Try again; if it persists, run `assay doctor`."


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
