"""Driver-level bulk writes: the fast paths imports and label writes share.

SQLAlchemy's per-row parameter processing costs more than SQLite's insert itself at 100,000
rows, so bulk paths hand tuples straight to the driver (``executemany`` on SQLite, ``COPY`` on
PostgreSQL) with values already in the form the driver stores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def bulk_insert(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert many rows through the driver: ``COPY`` on PostgreSQL, ``executemany`` on SQLite.

    ``table`` and ``columns`` are names from this package, never user input.
    """
    if not rows:
        return
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        import psycopg

        raw = conn.connection.driver_connection
        statement = f"COPY {table} ({names}) FROM STDIN"
        try:
            with raw.cursor() as cur, cur.copy(statement) as copy:  # type: ignore[union-attr]
                for row in rows:
                    copy.write_row(row)
        except psycopg.errors.IntegrityError as exc:
            # The raw driver's error bypasses SQLAlchemy: raise what callers catch on SQLite.
            raise sa.exc.IntegrityError(statement, None, exc) from exc
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(rows))  # noqa: S608


def allocate_ids(conn: Connection, table: sa.Table, n: int) -> list[int]:
    """``n`` fresh primary keys for ``table``, to insert with explicit ids.

    SQLite hands out ``max(id) + 1`` and we hold the write lock, so the next ``n`` are ours;
    PostgreSQL draws them from the column's sequence.
    """
    if n == 0:
        return []
    if conn.dialect.name == "postgresql":
        seq = sa.func.pg_get_serial_sequence(table.name, "id")
        query = sa.select(sa.func.nextval(seq)).select_from(sa.func.generate_series(1, n))
        return [int(v) for v in conn.execute(query).scalars()]
    top = conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()
    return list(range(int(top) + 1, int(top) + 1 + n))


def db_value(conn: Connection, column: sa.Column[Any], value: Any) -> Any:
    """``value`` as the driver stores it in ``column`` (e.g. SQLite's text timestamps)."""
    process = column.type._cached_bind_processor(conn.dialect)
    return process(value) if process else value
