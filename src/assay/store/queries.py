"""Lookups and keyset-paginated reads shared by the library, the CLI and the web app.

Every listing here pages by id (``WHERE id > :after ORDER BY id LIMIT :n``) over an index,
so its cost does not grow with how deep the page is.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql import visitors

from assay.errors import (
    ClassNotFound,
    DatasetNotFound,
    InvalidParameter,
    ItemNotFound,
    LayerNotFound,
)
from assay.store import schema as t

CHUNK_SIZE = 50_000
MAX_PAGE = 1_000
# The largest value an id column holds (SQLite INTEGER, PostgreSQL BIGINT). Ids, cursors and
# numbers given by users are checked against it before they reach the database, whose driver
# would fail on a bigger one (OverflowError) instead of saying what is wrong.
MAX_ID = 2**63 - 1
# SQLite's default limit on host parameters is 32766; stay well under it for IN lists.
IN_CHUNK = 5_000
# Datasets whose first import has not been published yet do not exist for readers.
READY = t.datasets.c.state == "ready"


def hint(name: str, choices: Sequence[str], what: str) -> str:
    """' Did you mean X?' or the known choices, to end an error message with."""
    close = difflib.get_close_matches(name, choices, n=1)
    if close:
        return f" Did you mean {close[0]!r}?"
    if not choices:
        return f" There are no {what} yet."
    shown = ", ".join(repr(c) for c in list(choices)[:10])
    return f" Known {what}: {shown}{' ...' if len(choices) > 10 else ''}."


def get_dataset(conn: Connection, name: str) -> Row[Any]:
    """The dataset row of that name, or DatasetNotFound with a hint."""
    row = conn.execute(sa.select(t.datasets).where(t.datasets.c.name == name, READY)).first()
    if row is None:
        names = list(conn.execute(sa.select(t.datasets.c.name).where(READY)).scalars())
        raise DatasetNotFound(
            f"No dataset named {name!r}.{hint(name, names, 'datasets')}"
            " List them with `assay datasets`."
        )
    return row


def list_datasets(conn: Connection) -> list[dict[str, Any]]:
    """Every dataset with its item count, oldest first."""
    rows = conn.execute(
        sa.select(t.datasets.c.id, t.datasets.c.name, t.datasets.c.created_at)
        .where(READY)
        .order_by(t.datasets.c.id)
    ).all()
    return [
        {"id": r.id, "name": r.name, "created_at": r.created_at, "n_items": count_items(conn, r.id)}
        for r in rows
    ]


def list_imports(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    """The most recent imports, newest first: what, where from, and how each one ended."""
    i = t.imports.c
    rows = conn.execute(sa.select(t.imports).order_by(i.id.desc()).limit(limit)).all()
    return [r._asdict() for r in rows]


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
        raise ClassNotFound(f"No class {name!r} in this dataset.{hint(name, names, 'classes')}")
    return row


def list_layers(conn: Connection, dataset_id: int) -> list[Row[Any]]:
    """The dataset's annotation layers, oldest first."""
    return list(
        conn.execute(
            sa.select(t.layers).where(t.layers.c.dataset_id == dataset_id).order_by(t.layers.c.id)
        ).all()
    )


def trained_on(conn: Connection, dataset_id: int) -> dict[str, list[str | None]]:
    """For each model layer a run wrote, the layers those runs learnt from (a run's
    ``train_layer``, by name as when it ran)."""
    runs, layers = t.model_runs.c, t.layers.c
    rows = conn.execute(
        sa.select(layers.name, runs.train_layer)
        .join(t.layers, layers.id == runs.layer_id)
        .where(runs.dataset_id == dataset_id)
    )
    out: dict[str, list[str | None]] = {}
    for row in rows:
        out.setdefault(row.name, []).append(row.train_layer)
    return out


def check_id(value: int, what: str = "id") -> int:
    """``value`` if it is an int from 0 to :data:`MAX_ID`, else InvalidParameter naming ``what``."""
    if not 0 <= value <= MAX_ID:
        raise InvalidParameter(f"The {what} {value} is out of range: use 0 to {MAX_ID}.")
    return value


def get_layer(conn: Connection, dataset_id: int, name: str) -> Row[Any]:
    """The layer of that name, or LayerNotFound listing the dataset's layers."""
    row = conn.execute(
        sa.select(t.layers).where(t.layers.c.dataset_id == dataset_id, t.layers.c.name == name)
    ).first()
    if row is None:
        layers = list_layers(conn, dataset_id)
        raise LayerNotFound(
            f"No layer {name!r} in this dataset.{hint(name, [r.name for r in layers], 'layers')}",
            name=name,
            layers=layers,
        )
    return row


def iter_raw_chunks(
    conn: Connection,
    query: sa.Select[Any],
    *,
    id_range: tuple[int, int] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[list[tuple[Any, ...]]]:
    """Run ``query`` in id-ordered chunks of plain tuples, straight from the driver.

    ``query`` selects ``items.id`` first and restricts the dataset. Chunks are fetched by
    keyset (``items.id > last id``), never by ``OFFSET``, so memory stays flat and each chunk
    costs the same; ``id_range`` (inclusive low, exclusive high) restricts the scan to one
    partition. For scans over millions of rows this skips SQLAlchemy's per-row result
    processing (JSON columns come back as text, timestamps as stored); the statement is
    compiled once.
    """
    items_id = t.items.c.id
    paged = query.where(items_id > sa.bindparam("_after")).order_by(items_id)
    if id_range is not None:
        paged = paged.where(items_id < sa.bindparam("_before"))
    compiled = paged.limit(chunk_size).compile(dialect=conn.dialect)
    # Bound values still need their type's processing (e.g. JSON paths in filters).
    processors = compiled._bind_processors
    params = {
        k: processors[k](v) if k in processors else v  # type: ignore[operator]
        for k, v in compiled.params.items()
    }
    params["_before"] = id_range[1] if id_range else None
    after = id_range[0] - 1 if id_range else -1
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        while True:
            params["_after"] = after
            if compiled.positiontup is not None:  # qmark drivers (SQLite) bind by position
                cursor.execute(str(compiled), [params[k] for k in compiled.positiontup])
            else:
                cursor.execute(str(compiled), params)
            rows = cursor.fetchall()
            if not rows:
                return
            yield rows
            if len(rows) < chunk_size:
                return
            after = rows[-1][0]
    finally:
        cursor.close()


def iter_tuples(
    conn: Connection, query: sa.Select[Any], chunk_size: int = CHUNK_SIZE
) -> Iterator[list[tuple[Any, ...]]]:
    """Run ``query`` once and stream its rows in chunks of plain driver tuples.

    For queries that are not keyset-pageable (joins with several rows per item): SQLite's
    cursor steps lazily, PostgreSQL gets a server-side (named) cursor, so memory stays flat.
    Like :func:`iter_raw_chunks`, this skips SQLAlchemy's per-row result processing.
    """
    # render_postcompile expands IN lists into plain bound parameters.
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    processors = compiled._bind_processors
    params = {
        k: processors[k](v) if k in processors else v  # type: ignore[operator]
        for k, v in compiled.params.items()
    }
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        cursor = raw.cursor(name=f"assay_{id(compiled):x}")  # type: ignore[union-attr]
        cursor.execute(str(compiled), params)
    else:
        cursor = raw.cursor()  # type: ignore[union-attr]
        cursor.execute(str(compiled), [params[k] for k in compiled.positiontup or []])
    try:
        while rows := cursor.fetchmany(chunk_size):
            yield rows
    finally:
        cursor.close()


def item_id_bounds(conn: Connection, dataset_id: int) -> tuple[int, int] | None:
    """The smallest and largest item id of the dataset (None when it is empty)."""
    lo, hi = conn.execute(
        sa.select(sa.func.min(t.items.c.id), sa.func.max(t.items.c.id)).where(
            t.items.c.dataset_id == dataset_id
        )
    ).one()
    return None if lo is None else (int(lo), int(hi))


@dataclass(frozen=True)
class Order:
    """How a page of items is ordered: by item id, by key, or by a score that another table
    holds for some items (``source``, one row per item there, its item column ``item``), worst
    first. Ties break by item id. Items the source has no row for are not on such a page
    (nor in its count): a score sort lists the items that have the score.

    Every order reads one index in order (``items (dataset_id, id)``, ``(dataset_id,
    external_key)``, ``labels (layer_id, confidence, item_id)``, ``label_heads (layer_id,
    number, item_id)``, ``label_quality (run_id, quality)`` or ``(run_id, loss)``), and pages
    by keyset, so a deep page costs what the
    first one does.
    """

    name: str
    value: Any = None  # the sort column; None: the item id
    source: Any = None  # the table (or join) holding ``value``; None: items itself
    item: Any = None  # the source's item id column
    condition: Any = None  # what restricts the source (its run, its layer)
    descending: bool = False
    numeric: bool = True  # how a cursor's value reads back


ADDED = Order("added")
NEWEST = Order("newest", descending=True)
BY_KEY = Order("key", value=t.items.c.external_key, numeric=False)


def order_by_confidence(layer_id: int) -> Order:
    """Least sure first: the confidence of the current label of a (model) layer."""
    labels, heads = t.labels.alias("sort_labels"), t.label_heads.alias("sort_heads")
    source = labels.join(
        heads,
        sa.and_(
            heads.c.layer_id == labels.c.layer_id,
            heads.c.item_id == labels.c.item_id,
            heads.c.label_id == labels.c.id,
        ),
    )
    return Order(
        "confidence",
        value=labels.c.confidence,
        source=source,
        item=labels.c.item_id,
        condition=sa.and_(labels.c.layer_id == layer_id, labels.c.confidence.is_not(None)),
    )


def order_by_value(layer_id: int) -> Order:
    """Highest first: the current value of a number layer, as its head keeps it
    (``label_heads.number``), read in order from ``ix_label_heads_layer_number``. Items
    without a value are not on the page, as with the other score orders."""
    heads = t.label_heads.alias("sort_heads")
    return Order(
        "value",
        value=heads.c.number,
        source=heads,
        item=heads.c.item_id,
        condition=sa.and_(heads.c.layer_id == layer_id, heads.c.number.is_not(None)),
        descending=True,
    )


def order_by_quality(run_id: int, column: str) -> Order:
    """A label-issue run's ``quality`` (lowest, the likeliest wrong, first) or ``loss`` (highest
    first)."""
    lq = t.label_quality.alias("sort_quality")
    value = lq.c[column]
    return Order(
        column,
        value=value,
        source=lq,
        item=lq.c.item_id,
        condition=sa.and_(lq.c.run_id == run_id, value.is_not(None)),
        descending=column == "loss",
    )


def _ordered(dataset_id: int, order: Order, *columns: Any) -> sa.Select[Any]:
    """SELECT ``columns`` of the dataset's items, joined to the order's source."""
    query = sa.select(*columns).where(t.items.c.dataset_id == dataset_id)
    if order.source is not None:
        query = query.select_from(order.source.join(t.items, t.items.c.id == order.item)).where(
            order.condition
        )
    return query


def parse_cursor(order: Order, text: int | str) -> tuple[Any, int]:
    """(sort value, item id) after which a page of ``order`` starts; a cursor is the item id
    for the id orders, else ``"ID:VALUE"`` (as :func:`page_items` returns it)."""
    if isinstance(text, int):
        return None, check_id(text, "cursor")
    head, colon, value = text.partition(":")
    problem = InvalidParameter(
        f"Bad cursor {text!r} for the order {order.name!r}: pass the 'next' of the previous page."
    )
    has_value = bool(colon)
    if not (head.isascii() and head.isdigit()) or has_value != (order.value is not None):
        raise problem
    if order.value is None or not order.numeric:
        return value, check_id(int(head), "cursor")
    try:
        return float(value), check_id(int(head), "cursor")
    except ValueError:
        raise problem from None


def page_items(
    conn: Connection,
    dataset_id: int,
    where: sa.ColumnElement[bool] | None = None,
    *,
    after: int | str | None = None,
    limit: int = 50,
    order: Order = ADDED,
) -> tuple[list[Row[Any]], int | str | None]:
    """One page of items in ``order`` after the cursor ``after``; returns the rows (with the
    sort value as ``sort_value``) and the cursor of the next page: the last item id for the
    id orders, else ``"ID:VALUE"``."""
    limit = max(1, min(int(limit), MAX_PAGE))
    i = t.items.c
    value = i.id if order.value is None else order.value
    item = i.id if order.item is None else order.item
    query = _ordered(dataset_id, order, t.items, value.label("sort_value"))
    if after is not None:
        key, item_id = parse_cursor(order, after)
        later = (lambda a, b: a < b) if order.descending else (lambda a, b: a > b)
        if order.value is None:
            query = query.where(later(item, item_id))
        else:
            query = query.where(later(sa.tuple_(value, item), sa.tuple_(key, item_id)))
    if where is not None:
        query = query.where(where)
    keys = [value, item] if order.value is not None else [item]
    query = query.order_by(*(k.desc() if order.descending else k for k in keys))
    rows = list(conn.execute(query.limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    if not more:
        return rows, None
    last = rows[-1]
    if order.value is None:
        return rows, int(last.id)
    shown = repr(float(last.sort_value)) if order.numeric else str(last.sort_value)
    return rows, f"{last.id}:{shown}"


def neighbours(
    conn: Connection,
    dataset_id: int,
    item_id: int,
    where: sa.ColumnElement[bool] | None = None,
    order: Order = ADDED,
) -> tuple[int | None, int | None]:
    """The ids of the items just before and after ``item_id`` in ``order`` among those
    ``where`` selects (None at either end, or both when the order leaves the item out): two
    keyset probes from the item's own sort value."""
    i = t.items.c
    value = i.id if order.value is None else order.value
    item = i.id if order.item is None else order.item
    own = conn.execute(
        _ordered(dataset_id, order, value).where(item == check_id(item_id, "item id"))
    ).first()
    if own is None:
        return None, None
    key = [value, item] if order.value is not None else [item]
    at = sa.tuple_(*key) if len(key) > 1 else key[0]
    mark = sa.tuple_(own[0], item_id) if len(key) > 1 else item_id
    base = _ordered(dataset_id, order, i.id)
    if where is not None:
        base = base.where(where)
    before, after = (at > mark, at < mark) if order.descending else (at < mark, at > mark)
    up = [k if order.descending else k.desc() for k in key]
    down = [k.desc() if order.descending else k for k in key]
    prev = conn.execute(base.where(before).order_by(*up).limit(1)).scalar()
    nxt = conn.execute(base.where(after).order_by(*down).limit(1)).scalar()
    return prev, nxt


def id_chunks(ids: Sequence[int], column: Any) -> list[Any]:
    """WHERE clauses covering ``ids``: one range when they are many and dense (one index range
    scan instead of dozens of IN lists), else IN lists of IN_CHUNK ids."""
    ordered = sorted(ids)
    if len(ordered) > IN_CHUNK and ordered[-1] - ordered[0] < 4 * len(ordered):
        return [column.between(ordered[0], ordered[-1])]
    return [column.in_(ordered[i : i + IN_CHUNK]) for i in range(0, len(ordered), IN_CHUNK)]


def check_items(conn: Connection, dataset_id: int, item_ids: Sequence[int]) -> None:
    """ItemNotFound unless every id is an item of this dataset (ids of other datasets too)."""
    wanted = set(item_ids)
    found: set[int] = set()
    storable = [i for i in wanted if 0 <= i <= MAX_ID]  # others are no item's id
    for clause in id_chunks(storable, t.items.c.id):
        found.update(
            conn.execute(
                sa.select(t.items.c.id).where(t.items.c.dataset_id == dataset_id, clause)
            ).scalars()
        )
    missing = sorted(wanted - found)
    if missing:
        shown = ", ".join(map(str, missing[:5]))
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ItemNotFound(f"No item with id {shown}{more} in this dataset; nothing was written.")


def item_sizes(
    conn: Connection, dataset_id: int, item_ids: Sequence[int]
) -> dict[int, tuple[int | None, int | None]]:
    """item id -> (width, height) in pixels (None where unknown: not an image, or not read)."""
    sizes: dict[int, tuple[int | None, int | None]] = {}
    i = t.items.c
    for clause in id_chunks([x for x in set(item_ids) if 0 <= x <= MAX_ID], i.id):
        rows = conn.execute(
            sa.select(i.id, i.width, i.height).where(i.dataset_id == dataset_id, clause)
        )
        sizes.update({int(r[0]): (r[1], r[2]) for r in rows})
    return sizes


def item_texts(conn: Connection, dataset_id: int, item_ids: Sequence[int]) -> dict[int, str | None]:
    """item id -> its text (None where the item has none: an image, a row without text)."""
    texts: dict[int, str | None] = {}
    i = t.items.c
    for clause in id_chunks([x for x in set(item_ids) if 0 <= x <= MAX_ID], i.id):
        rows = conn.execute(sa.select(i.id, i.text).where(i.dataset_id == dataset_id, clause))
        texts.update({int(r[0]): r[1] for r in rows})
    return texts


def count_items(
    conn: Connection,
    dataset_id: int,
    where: sa.ColumnElement[bool] | None = None,
    *,
    order: Order = ADDED,
    cap: int | None = None,
    among: Any = None,
) -> int:
    """How many items of the dataset ``where`` (a compiled filter) selects, all without one;
    with a score ``order``, only those that have the score.

    The one count of items: ``len(dataset)``, the dataset list, the labeling queue, the grid
    and the web app's cached counts all ask it. A scan of the dataset's index (about 40 ms at
    1,000,000 items): callers that ask often cache the answer. With ``cap`` the scan stops
    after ``cap + 1`` items, and a result above ``cap`` means "more than ``cap``". ``among``
    (a subquery of ``item_id`` of a layer of this dataset,
    :func:`assay.store.filters.count_driver`): count the items among these that ``where``
    selects, scanning them instead of the dataset's items.
    """
    if cap is None and order.source is None:
        query = sa.select(sa.func.count()).where(t.items.c.dataset_id == dataset_id)
        if where is not None:
            query = query.where(where)
        return int(conn.execute(query).scalar_one())
    if among is not None and order.source is None:
        i = t.items.c
        if where is None or _reads_only_item_ids(where):
            # The conditions ask ``among``'s item ids, not the items' rows (at 1,000,000 items
            # a probe of the wide ``items`` table costs as much as the rest of the test).
            inner = sa.select(among.c.item_id)
            if where is not None:
                inner = inner.where(_on_ids(where, among))
        else:
            # Scan ``among``'s index and reach each item by its id ("+ 0" keeps SQLite from
            # scanning the dataset's items and probing ``among`` instead).
            inner = (
                sa.select(i.id)
                .select_from(among.join(t.items, i.id == among.c.item_id))
                .where((i.dataset_id + 0) == dataset_id)
            )
            if where is not None:
                inner = inner.where(where)
        if cap is not None:
            inner = inner.limit(cap + 1)
        query = sa.select(sa.func.count()).select_from(inner.subquery())
        return int(conn.execute(query).scalar_one())
    if where is None and order.source is not None:
        # The source's rows are all of this dataset's items: no probe of items per row.
        inner = sa.select(order.item).select_from(order.source).where(order.condition)
    else:
        inner = _ordered(dataset_id, order, t.items.c.id)
    if where is not None:
        inner = inner.where(where)
    if cap is not None:
        inner = inner.limit(cap + 1)
    return int(conn.execute(sa.select(sa.func.count()).select_from(inner.subquery())).scalar_one())


def _reads_only_item_ids(where: sa.ColumnElement[bool]) -> bool:
    """Whether ``where`` reads no column of ``items`` but its id (the filter's conditions on
    labels, tags, cases, selections: correlated on ``items.id`` alone)."""
    return all(
        e is t.items.c.id
        for e in visitors.iterate(where)
        if isinstance(e, sa.Column) and e.table is t.items
    )


def _on_ids(where: sa.ColumnElement[bool], among: Any) -> Any:
    """``where`` asked of ``among.item_id`` instead of ``items.id`` (its subqueries correlated
    to ``among``). ``among`` holds item ids of one dataset's layer, so no item of another
    dataset comes in."""

    def swap(element: Any) -> Any:
        if element is t.items.c.id:
            return among.c.item_id
        if element is t.items:
            return among
        return None

    return visitors.replacement_traverse(where, {}, swap)  # type: ignore[call-overload]
