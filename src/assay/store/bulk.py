"""Driver-level bulk writes: the fast paths imports and label writes share.

SQLAlchemy's per-row parameter processing costs more than SQLite's insert itself at 100,000
rows, so bulk paths hand tuples straight to the driver (``executemany`` on SQLite, ``COPY`` on
PostgreSQL) with values already in the form the driver stores; :func:`insert_columns` goes one
step further on SQLite (one ``INSERT ... SELECT`` over ``json_each``: even ``executemany``'s
per-row parameter binding costs more than the insert).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class Same:
    """One value for every row of :func:`insert_columns` (bound once, not once per row)."""

    value: Any


def bulk_insert(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert many rows through the driver: ``COPY`` on PostgreSQL, ``executemany`` on SQLite.

    ``table`` and ``columns`` are names from this package, never user input.
    """
    if isinstance(rows, Sequence) and not rows:
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


def insert_columns(
    conn: Connection, table: str, columns: Mapping[str, Sequence[Any] | Same], n: int
) -> None:
    """Insert ``n`` rows given column-wise: per column, a sequence of ``n`` values (str, int,
    float or None) or :class:`Same` (one value for all).

    SQLite: ONE statement, ``INSERT ... SELECT`` over ``json_each`` of the rows as a JSON
    array (serialized by orjson in C), the constant columns bound once: at 200,000 labels
    this takes a quarter to a third of the CPU of ``executemany`` (whose per-row parameter
    binding is most of its cost). A column of a ``range`` (consecutive ids) is computed from
    the row's position and not sent at all. PostgreSQL: ``COPY`` (:func:`bulk_insert`).
    ``table`` and the column names are names from this package, never user input.
    """
    if n == 0:
        return
    names = list(columns)
    if conn.dialect.name == "postgresql":
        cols = [
            itertools.repeat(c.value, n) if isinstance(c, Same) else c for c in columns.values()
        ]
        bulk_insert(conn, table, names, zip(*cols, strict=False))
        return
    params: list[Any] = []
    exprs: list[str] = []
    sent: list[Sequence[Any]] = []
    varying = [c for c in columns.values() if not isinstance(c, Same) and not _consecutive(c)]
    for col in columns.values():
        if isinstance(col, Same):
            exprs.append("?")
            params.append(col.value)
        elif _consecutive(col):
            assert isinstance(col, range)
            exprs.append(f"{int(col.start)} + j.key")
        elif len(varying) == 1:
            exprs.append("j.value")
            sent.append(col)
        else:
            exprs.append(f"j.value ->> {len(sent)}")
            sent.append(col)
    data = list(sent[0]) if len(sent) == 1 else list(zip(*sent, strict=True)) if sent else [0] * n
    params.append(orjson.dumps(data).decode())
    statement = (
        f"INSERT INTO {table} ({', '.join(names)}) "  # noqa: S608
        f"SELECT {', '.join(exprs)} FROM json_each(?) AS j"
    )
    conn.exec_driver_sql(statement, tuple(params))


def _consecutive(col: Any) -> bool:
    return isinstance(col, range) and col.step == 1


def allocate_id_block(conn: Connection, table: sa.Table, n: int) -> Sequence[int]:
    """:func:`allocate_ids` as a ``range`` on SQLite (consecutive ids: :func:`insert_columns`
    computes them instead of sending them, and a range of ids is found by ``BETWEEN``)."""
    if conn.dialect.name == "postgresql" or n == 0:
        return allocate_ids(conn, table, n)
    top = conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()
    return range(int(top) + 1, int(top) + 1 + n)


def ids_by_key(conn: Connection, dataset_id: int, keys: Sequence[str]) -> dict[str, int]:
    """External key -> item id for those of ``keys`` that are items of the dataset, in one
    statement whatever their number (SQLAlchemy's expanding ``IN`` costs more to compile than
    to run at 20,000 keys)."""
    if not keys:
        return {}
    if conn.dialect.name == "postgresql":
        query = (
            "SELECT external_key, id FROM items WHERE dataset_id = %s AND external_key = ANY(%s)"
        )
        rows = conn.exec_driver_sql(query, (dataset_id, list(keys)))
    else:
        query = (
            "SELECT external_key, id FROM items WHERE dataset_id = ? "
            "AND external_key IN (SELECT value FROM json_each(?))"
        )
        rows = conn.exec_driver_sql(query, (dataset_id, orjson.dumps(list(keys)).decode()))
    return {str(k): int(v) for k, v in rows}


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
