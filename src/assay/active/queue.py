"""The order the labeling queue serves items in, behind one function (the web only asks).

First the layer's current suggestion list (``assay suggest``, or "Suggest" on the jobs
page): its items not yet labeled in the layer, best first. Then every other item with no
label in the layer, by id. The cursor is a string the client hands back as is: ``s<rank>``
while in the list, ``<item id>`` after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import InvalidParameter
from assay.labels.kinds import get_kind
from assay.store import schema as t
from assay.store.engine import Store
from assay.store.filters import compile_filter

CURSOR = re.compile(r"^(?:s(?P<rank>\d{1,12})|(?P<item>\d{1,19}))$")


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue: item ids, why each is here (None for the id order), the next
    cursor (None at the end) and the suggestion list that orders it (None if there is none)."""

    ids: list[int]
    reasons: dict[int, dict[str, Any]]
    cursor: str | None
    suggestion_list: dict[str, Any] | None


def parse_cursor(text: str | None) -> tuple[int | None, int | None]:
    """(rank, item id) from a cursor; (None, None) for the start of the queue."""
    if not text:
        return None, None
    m = CURSOR.match(text)
    if m is None:
        raise InvalidParameter(f"Bad queue cursor {text!r}: pass back the 'next' value as is.")
    return (int(m["rank"]), None) if m["rank"] is not None else (None, int(m["item"]))


def current_list(conn: Connection, dataset_id: int, layer_id: int) -> Any:
    """The layer's newest ready suggestion list, or None."""
    sl = t.suggestion_lists.c
    return conn.execute(
        sa.select(t.suggestion_lists)
        .where(sl.dataset_id == dataset_id, sl.layer_id == layer_id, sl.state == "ready")
        .order_by(sl.id.desc())
        .limit(1)
    ).first()


def _unlabeled(layer_id: int, values: bool = False) -> sa.ColumnElement[bool]:
    """No current label in the layer; ``values``: the layer keeps JSON values (boxes), so a
    label is there when its row holds one (``[]`` included), not when a class id is set."""
    heads = t.label_heads.alias().c
    if values:
        lab = t.labels.alias().c
        return ~(
            sa.exists()
            .where(
                heads.layer_id == layer_id,
                heads.item_id == t.items.c.id,
                lab.id == heads.label_id,
                lab.value.is_not(None),
            )
            .correlate(t.items)
        )
    return ~(
        sa.exists()
        .where(
            heads.layer_id == layer_id, heads.item_id == t.items.c.id, heads.class_id.is_not(None)
        )
        .correlate(t.items)
    )


def _keeps_values(conn: Connection, layer_id: int) -> bool:
    kind = conn.execute(
        sa.select(t.layers.c.value_kind).where(t.layers.c.id == layer_id)
    ).scalar_one()
    return not get_kind(kind).stores_class


def next_items(
    conn: Connection,
    dataset_id: int,
    layer_id: int,
    *,
    where: sa.ColumnElement[bool] | None,
    after: str | None,
    limit: int,
) -> QueuePage:
    """The next ``limit`` items to label in the layer, after the cursor ``after``.

    An item is due when it has no current label in the layer (never labeled, or cleared);
    ``where`` (a compiled filter) narrows the pool. Both phases are keyset scans (on rank,
    then on item id), never an OFFSET.
    """
    after_rank, after_item = parse_cursor(after)
    values = _keeps_values(conn, layer_id)
    lst = current_list(conn, dataset_id, layer_id)
    info = None
    if lst is not None:
        info = {"id": int(lst.id), "strategy": lst.strategy, "model": lst.model}
    ids: list[int] = []
    reasons: dict[int, dict[str, Any]] = {}
    i = t.items.c
    if lst is not None and after_item is None:
        s = t.suggestions.c
        query = (
            sa.select(s.rank, s.item_id, s.score, s.reason)
            .select_from(t.suggestions.join(t.items, i.id == s.item_id))
            .where(s.list_id == lst.id, _unlabeled(layer_id, values))
        )
        if where is not None:
            query = query.where(where)
        if after_rank is not None:
            query = query.where(s.rank > after_rank)
        rows = conn.execute(query.order_by(s.rank).limit(limit + 1)).all()
        for r in rows[:limit]:
            ids.append(int(r.item_id))
            reasons[int(r.item_id)] = {"rank": r.rank, "score": r.score, "reason": r.reason}
        if len(rows) > limit:
            return QueuePage(ids, reasons, f"s{rows[limit - 1].rank}", info)
        after_item = 0  # the list is done: go on with the other items by id
    query = sa.select(i.id).where(i.dataset_id == dataset_id, _unlabeled(layer_id, values))
    if lst is not None:
        s = t.suggestions.alias().c
        listed = sa.exists().where(s.list_id == lst.id, s.item_id == i.id).correlate(t.items)
        query = query.where(~listed)  # served in the first phase
    if where is not None:
        query = query.where(where)
    if after_item:
        query = query.where(i.id > after_item)
    more = limit - len(ids)
    found = [int(v) for v in conn.execute(query.order_by(i.id).limit(more + 1)).scalars()]
    served = found[:more]
    ids += served
    cursor = None
    if len(found) > more:  # more to come: after the last one served, or from the start
        cursor = str(served[-1]) if served else str(after_item or 0)
    return QueuePage(ids, reasons, cursor, info)


def count_labeled(
    conn: Connection, dataset_id: int, layer_id: int, where: sa.ColumnElement[bool] | None
) -> int:
    """How many items (of those ``where`` selects) have a current label in the layer."""
    h, lab = t.label_heads.c, t.labels.c
    query: Any = sa.select(sa.func.count()).select_from(t.label_heads)
    if _keeps_values(conn, layer_id):
        query = query.join(t.labels, lab.id == h.label_id).where(
            h.layer_id == layer_id, lab.value.is_not(None)
        )
    else:
        query = query.where(h.layer_id == layer_id, h.class_id.is_not(None))
    if where is not None:
        query = query.join(t.items, t.items.c.id == h.item_id).where(
            t.items.c.dataset_id == dataset_id, where
        )
    return int(conn.execute(query).scalar_one())


def serve(
    store: Store,
    dataset_id: int,
    layer_id: int,
    *,
    filter: str | None,
    after: str | None,
    limit: int,
) -> tuple[QueuePage, int | None]:
    """One page of the queue of the layer over the slice ``filter`` (:func:`next_items`) and,
    on the first page (no ``after``), how many items of the slice the layer has labeled."""
    with store.read() as conn:
        where = compile_filter(conn, dataset_id, filter)
        page = next_items(conn, dataset_id, layer_id, where=where, after=after, limit=limit)
        labeled = None if after is not None else count_labeled(conn, dataset_id, layer_id, where)
    return page, labeled
