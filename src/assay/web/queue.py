"""The order the labeling queue serves items in, behind one function.

For now: the items that have no label yet in the chosen layer, in item order, after a keyset
cursor. The active-learning suggestions (a later issue) will replace the body of
:func:`next_items`; callers treat the cursor as opaque, so nothing else has to change.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store import schema as t


def next_items(
    conn: Connection,
    dataset_id: int,
    layer_id: int,
    *,
    where: sa.ColumnElement[bool] | None,
    after: int | None,
    limit: int,
) -> tuple[list[int], int | None]:
    """The ids of the next ``limit`` items to label in the layer, and the cursor after them.

    An item is due when it has no current label in the layer (never labeled, or cleared);
    ``where`` (a compiled filter) narrows the pool. The scan walks ``items`` by id, probing
    ``label_heads`` by primary key for each item: a keyset page, never an OFFSET.
    """
    i = t.items.c
    heads = t.label_heads.alias().c
    labeled = (
        sa.exists()
        .where(heads.layer_id == layer_id, heads.item_id == i.id, heads.class_id.is_not(None))
        .correlate(t.items)
    )
    query = sa.select(i.id).where(i.dataset_id == dataset_id, ~labeled)
    if where is not None:
        query = query.where(where)
    if after is not None:
        query = query.where(i.id > after)
    ids = [int(v) for v in conn.execute(query.order_by(i.id).limit(limit + 1)).scalars()]
    page = ids[:limit]
    return page, (page[-1] if len(ids) > limit else None)


def count_labeled(
    conn: Connection, dataset_id: int, layer_id: int, where: sa.ColumnElement[bool] | None
) -> int:
    """How many items (of those ``where`` selects) have a current label in the layer."""
    h = t.label_heads.c
    query: Any = sa.select(sa.func.count()).select_from(t.label_heads)
    query = query.where(h.layer_id == layer_id, h.class_id.is_not(None))
    if where is not None:
        query = query.join(t.items, t.items.c.id == h.item_id).where(
            t.items.c.dataset_id == dataset_id, where
        )
    return int(conn.execute(query).scalar_one())


def count_items(conn: Connection, dataset_id: int, where: sa.ColumnElement[bool] | None) -> int:
    """How many items of the dataset ``where`` selects."""
    query = sa.select(sa.func.count()).where(t.items.c.dataset_id == dataset_id)
    if where is not None:
        query = query.where(where)
    return int(conn.execute(query).scalar_one())
