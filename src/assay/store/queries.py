"""Lookups and keyset-paginated reads shared by the library, the CLI and the web app.

Every listing here pages by id (``WHERE id > :after ORDER BY id LIMIT :n``) over an index,
so its cost does not grow with how deep the page is.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from assay.errors import ClassNotFound, DatasetNotFound, LayerNotFound
from assay.store import schema as t

CHUNK_SIZE = 50_000
MAX_PAGE = 1_000


def _hint(name: str, choices: Sequence[str], what: str) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    if close:
        return f" Did you mean {close[0]!r}?"
    if not choices:
        return f" There are no {what} yet."
    shown = ", ".join(repr(c) for c in list(choices)[:10])
    return f" Known {what}: {shown}{' ...' if len(choices) > 10 else ''}."


def get_dataset(conn: Connection, name: str) -> Row[Any]:
    """The dataset row of that name, or DatasetNotFound with a hint."""
    row = conn.execute(sa.select(t.datasets).where(t.datasets.c.name == name)).first()
    if row is None:
        names = list(conn.execute(sa.select(t.datasets.c.name)).scalars())
        raise DatasetNotFound(
            f"No dataset named {name!r}.{_hint(name, names, 'datasets')}"
            " List them with `assay datasets`."
        )
    return row


def list_datasets(conn: Connection) -> list[dict[str, Any]]:
    """Every dataset with its item count, oldest first."""
    counts = (
        sa.select(t.items.c.dataset_id, sa.func.count().label("n"))
        .group_by(t.items.c.dataset_id)
        .subquery()
    )
    rows = conn.execute(
        sa.select(t.datasets.c.id, t.datasets.c.name, t.datasets.c.created_at, counts.c.n)
        .outerjoin(counts, counts.c.dataset_id == t.datasets.c.id)
        .order_by(t.datasets.c.id)
    ).all()
    return [
        {"id": r.id, "name": r.name, "created_at": r.created_at, "n_items": r.n or 0} for r in rows
    ]


def list_classes(conn: Connection, dataset_id: int) -> list[Row[Any]]:
    """The dataset's classes in schema order."""
    return list(
        conn.execute(
            sa.select(t.classes)
            .where(t.classes.c.dataset_id == dataset_id)
            .order_by(t.classes.c.position)
        ).all()
    )


def get_class(conn: Connection, dataset_id: int, name: str) -> Row[Any]:
    """The class of that name, or ClassNotFound listing the dataset's classes."""
    row = conn.execute(
        sa.select(t.classes).where(t.classes.c.dataset_id == dataset_id, t.classes.c.name == name)
    ).first()
    if row is None:
        names = [c.name for c in list_classes(conn, dataset_id)]
        raise ClassNotFound(f"No class {name!r} in this dataset.{_hint(name, names, 'classes')}")
    return row


def list_layers(conn: Connection, dataset_id: int) -> list[Row[Any]]:
    """The dataset's annotation layers, oldest first."""
    return list(
        conn.execute(
            sa.select(t.layers).where(t.layers.c.dataset_id == dataset_id).order_by(t.layers.c.id)
        ).all()
    )


def get_layer(conn: Connection, dataset_id: int, name: str) -> Row[Any]:
    """The layer of that name, or LayerNotFound listing the dataset's layers."""
    row = conn.execute(
        sa.select(t.layers).where(t.layers.c.dataset_id == dataset_id, t.layers.c.name == name)
    ).first()
    if row is None:
        names = [r.name for r in list_layers(conn, dataset_id)]
        raise LayerNotFound(f"No layer {name!r} in this dataset.{_hint(name, names, 'layers')}")
    return row


def iter_item_chunks(
    conn: Connection,
    dataset_id: int,
    columns: Sequence[sa.ColumnElement[Any]],
    where: sa.ColumnElement[bool] | None = None,
    *,
    id_range: tuple[int, int] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[list[Row[Any]]]:
    """Yield the dataset's items in id order, ``chunk_size`` rows at a time (flat memory).

    ``columns`` are selected alongside ``items.id``; ``id_range`` (inclusive low, exclusive
    high) restricts the scan to one partition, as the Dask runner does.
    """
    after = (id_range[0] - 1) if id_range else -1
    while True:
        query = (
            sa.select(t.items.c.id, *columns)
            .where(t.items.c.dataset_id == dataset_id, t.items.c.id > after)
            .order_by(t.items.c.id)
            .limit(chunk_size)
        )
        if id_range is not None:
            query = query.where(t.items.c.id < id_range[1])
        if where is not None:
            query = query.where(where)
        rows = conn.execute(query).all()
        if not rows:
            return
        yield rows
        after = rows[-1].id
        if len(rows) < chunk_size:
            return


def item_id_bounds(conn: Connection, dataset_id: int) -> tuple[int, int] | None:
    """The smallest and largest item id of the dataset (None when it is empty)."""
    lo, hi = conn.execute(
        sa.select(sa.func.min(t.items.c.id), sa.func.max(t.items.c.id)).where(
            t.items.c.dataset_id == dataset_id
        )
    ).one()
    return None if lo is None else (int(lo), int(hi))


def page_items(
    conn: Connection,
    dataset_id: int,
    where: sa.ColumnElement[bool] | None = None,
    *,
    after: int | None = None,
    limit: int = 50,
) -> tuple[list[Row[Any]], int | None]:
    """One page of items after id ``after``; returns the rows and the cursor of the next page."""
    limit = max(1, min(int(limit), MAX_PAGE))
    query = (
        sa.select(t.items)
        .where(t.items.c.dataset_id == dataset_id)
        .order_by(t.items.c.id)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(t.items.c.id > after)
    if where is not None:
        query = query.where(where)
    rows = list(conn.execute(query).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)


def current_label_column(layer_id: int) -> sa.ScalarSelect[Any]:
    """A correlated subquery giving each item's current class name in the layer (or NULL)."""
    return (
        sa.select(t.classes.c.name)
        .select_from(t.label_heads.join(t.classes, t.classes.c.id == t.label_heads.c.class_id))
        .where(t.label_heads.c.layer_id == layer_id, t.label_heads.c.item_id == t.items.c.id)
        .scalar_subquery()
    )
