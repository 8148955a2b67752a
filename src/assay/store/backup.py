"""``assay backup`` / ``assay restore``: a consistent copy of the store while it is in use.

SQLite: the online backup API copies every page inside one read transaction, so the copy is
the database as of one instant while writers carry on (WAL mode lets them). Restoring runs the
same API the other way, into the live database under its write lock: readers see the old or
the new content, never a mix. PostgreSQL: ``pg_dump`` (one MVCC snapshot) and ``pg_restore``
in a single transaction.

Media referenced by path (image folders) stay where they are and are not in the copy; images
imported into the store (IDX, the demo) are.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from assay.errors import InvalidParameter, MissingDependency, StoreError
from assay.store.engine import Store


def _sqlite_path(store: Store) -> Path:
    database = make_url(store.url).database
    if not database:
        raise StoreError("This SQLite store has no file to back up.")
    return Path(database)


def backup(store: Store, target: str | os.PathLike[str]) -> Path:
    """Write a consistent copy of the store to ``target`` (refuses to overwrite a file)."""
    path = Path(target)
    if path.exists():
        raise InvalidParameter(f"{path} exists; choose a new file name for the backup.")
    path.parent.mkdir(parents=True, exist_ok=True)
    if store.dialect == "postgresql":
        _pg_dump(store, path)
        return path
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(_sqlite_path(store), timeout=30)
    try:
        dest = sqlite3.connect(partial)
        try:
            # pages=-1: one step, one read transaction, so the copy is one instant of the store.
            source.backup(dest, pages=-1)
            check = dest.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dest.close()
    finally:
        source.close()
    if check != "ok":
        partial.unlink(missing_ok=True)
        raise StoreError(f"The backup failed its integrity check ({check}); nothing was kept.")
    os.replace(partial, path)
    return path


def restore(store: Store, source: str | os.PathLike[str]) -> None:
    """Replace the store's content with the backup ``source`` (all at once, or not at all)."""
    path = Path(source)
    if not path.is_file():
        raise InvalidParameter(f"No backup file at {path}.")
    if store.dialect == "postgresql":
        _pg_restore(store, path)
        return
    backup_db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        try:
            check = backup_db.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise InvalidParameter(f"{path} is not an Assay SQLite backup ({exc}).") from exc
        if check != "ok":
            raise InvalidParameter(f"{path} fails SQLite's integrity check ({check}).")
        tables = {r[0] for r in backup_db.execute("SELECT name FROM sqlite_master")}
        if "alembic_version" not in tables:
            raise InvalidParameter(f"{path} is an SQLite file but not an Assay store.")
        store.close()
        live = sqlite3.connect(_sqlite_path(store), timeout=30)
        try:
            backup_db.backup(live, pages=-1)
        finally:
            live.close()
    finally:
        backup_db.close()


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise MissingDependency(
        f"`{name}` is needed to back up or restore PostgreSQL; install the PostgreSQL client "
        "(e.g. `apt-get install postgresql-client`)."
    )


def _libpq_url(store: Store) -> str:
    url = make_url(store.url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _run(argv: list[str], what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=3600, check=False)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise StoreError(f"{what} failed: {last}")


def _pg_dump(store: Store, path: Path) -> None:
    partial = path.with_name(path.name + ".partial")
    try:
        _run(
            [_pg_tool("pg_dump"), "--format=custom", f"--file={partial}", _libpq_url(store)],
            "pg_dump",
        )
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)


def _pg_restore(store: Store, path: Path) -> None:
    store.close()
    _run(
        [
            _pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            f"--dbname={_libpq_url(store)}",
            str(path),
        ],
        "pg_restore",
    )
