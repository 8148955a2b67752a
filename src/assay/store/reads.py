"""Reads the faces need beyond the ``Dataset`` API: items by id or key, an item's neighbours
within a filter, its image, and a dataset's data version. (The current labels of a few items,
shown by their layers' annotation kind, are :func:`assay.labels.writes.current_labels_of`.)

Each function opens its own read transaction on ``store`` and is scoped to one dataset: an
item id of another dataset is "not found" (ItemNotFound), never read. What they return about
an item leaves out server details (the file path of its image, its content hash).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import ItemNotFound
from assay.store import filters, queries
from assay.store import schema as t
from assay.store.engine import Store

# The item columns shown to users (``media_path``, ``numbers`` and ``content_hash`` stay inside).
ITEM_FIELDS = (
    "id",
    "external_key",
    "kind",
    "split",
    "text",
    "fields",
    "meta",
    "width",
    "height",
    "channels",
    "pixel_mean",
    "pixel_std",
    "text_length",
    "import_id",
)
_ITEM_COLUMNS = [t.items.c[name] for name in ITEM_FIELDS]


def _not_found(item_id: int) -> ItemNotFound:
    return ItemNotFound(f"No item {item_id} in this dataset.")


def _check_item(conn: Connection, dataset_id: int, item_id: int) -> None:
    i = t.items.c
    found = conn.execute(
        sa.select(i.id).where(i.id == item_id, i.dataset_id == dataset_id)
    ).scalar()
    if found is None:
        raise _not_found(item_id)


def item(store: Store, dataset_id: int, item_id: int) -> dict[str, Any]:
    """One item of the dataset (its :data:`ITEM_FIELDS`); ItemNotFound if it is not one."""
    i = t.items.c
    with store.read() as conn:
        row = conn.execute(
            sa.select(*_ITEM_COLUMNS).where(i.id == item_id, i.dataset_id == dataset_id)
        ).first()
    if row is None:
        raise _not_found(item_id)
    return dict(row._asdict())


def item_id_by_key(store: Store, dataset_id: int, key: str) -> int:
    """The id of the dataset's item with that key; ItemNotFound if there is none."""
    i = t.items.c
    with store.read() as conn:
        found = conn.execute(
            sa.select(i.id).where(i.dataset_id == dataset_id, i.external_key == key)
        ).scalar()
    if found is None:
        raise ItemNotFound(f"No item with key {key!r} in this dataset.")
    return int(found)


def items_by_ids(store: Store, dataset_id: int, ids: list[int]) -> list[dict[str, Any]]:
    """The items ``ids`` of the dataset in the order given (ids of no item of it: left out)."""
    if not ids:
        return []
    i = t.items.c
    with store.read() as conn:
        rows = conn.execute(
            sa.select(*_ITEM_COLUMNS).where(i.dataset_id == dataset_id, i.id.in_(ids))
        ).all()
    by_id = {r.id: dict(r._asdict()) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def neighbours(
    store: Store,
    dataset_id: int,
    item_id: int,
    filter: str | None = None,
    order: queries.Order = queries.ADDED,
) -> tuple[int | None, int | None]:
    """The ids of the items just before and after ``item_id`` among those ``filter`` selects,
    in ``order`` (:func:`assay.dataset.item_order` turns a grid's sort into one)."""
    with store.read() as conn:
        where = filters.compile_filter(conn, dataset_id, filter)
        return queries.neighbours(conn, dataset_id, item_id, where, order)


def media_blob(store: Store, dataset_id: int, item_id: int) -> tuple[bytes, str] | None:
    """The image bytes and type kept in the store for an item of the dataset, if any."""
    b = t.media_blobs.c
    with store.read() as conn:
        _check_item(conn, dataset_id, item_id)
        row = conn.execute(sa.select(b.data, b.mime).where(b.item_id == item_id)).first()
    return (bytes(row.data), str(row.mime)) if row else None


def media_file(store: Store, dataset_id: int, item_id: int) -> tuple[str, str, str | None] | None:
    """(file path, key, import source) of an item of the dataset whose image is a file."""
    i, imp = t.items.c, t.imports.c
    with store.read() as conn:
        row = conn.execute(
            sa.select(i.media_path, i.external_key, imp.source)
            .outerjoin(t.imports, imp.id == i.import_id)
            .where(i.id == item_id, i.dataset_id == dataset_id)
        ).first()
    if row is None:
        raise _not_found(item_id)
    if row.media_path is None:
        return None
    return row.media_path, row.external_key, row.source


def data_version(store: Store, dataset_id: int) -> tuple[int, int]:
    """A cheap fingerprint that changes when the dataset's items or any label change.

    Items and labels are append-only, so their largest ids tell whether anything was added;
    both are index lookups.
    """
    with store.read() as conn:
        max_item = conn.execute(
            sa.select(sa.func.max(t.items.c.id)).where(t.items.c.dataset_id == dataset_id)
        ).scalar()
        max_label = conn.execute(sa.select(sa.func.max(t.labels.c.id))).scalar()
    return int(max_item or 0), int(max_label or 0)


def datasets_with_last_item(store: Store) -> list[Any]:
    """Every published dataset with its largest item id (id, name, created_at, max_item): the
    id changes whenever items are added, so it keys a cached count."""
    d, i = t.datasets.c, t.items.c
    last = (
        sa.select(sa.func.max(i.id))
        .where(i.dataset_id == d.id)
        .correlate(t.datasets)
        .scalar_subquery()
        .label("max_item")
    )
    with store.read() as conn:
        return list(
            conn.execute(
                sa.select(d.id, d.name, d.created_at, last).where(queries.READY).order_by(d.id)
            ).all()
        )


def count_items(store: Store, dataset_id: int, filter: str | None = None) -> int:
    """How many items of the dataset ``filter`` selects (all without one): a scan of the
    dataset's index, so cache the answer (:func:`assay.store.queries.count_items`)."""
    with store.read() as conn:
        where = filters.compile_filter(conn, dataset_id, filter)
        return queries.count_items(conn, dataset_id, where)
