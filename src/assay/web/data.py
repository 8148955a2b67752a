"""The reads the web app needs beyond the library's, each scoped to one dataset.

Every lookup of an item takes the dataset too and checks ``items.dataset_id``: an item id from
one dataset is "not found" through another dataset's URL. What the API returns about an item
leaves out server details (the file path of its image, its content hash).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.dataset import Dataset
from assay.errors import ItemNotFound
from assay.store import queries
from assay.store import schema as t

# Item columns the API shows (``media_path``, ``numbers`` and ``content_hash`` stay inside).
PUBLIC_FIELDS = (
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
_PUBLIC_COLUMNS = [t.items.c[name] for name in PUBLIC_FIELDS]


def public_item(row: dict[str, Any], media_url: str | None) -> dict[str, Any]:
    """An item as the API shows it: public fields, its label and where its image is."""
    out = {name: row.get(name) for name in PUBLIC_FIELDS}
    out["key"] = out.pop("external_key")
    if "label" in row:
        out["label"] = row["label"]
    out["media_url"] = media_url if row.get("kind") == "image" else None
    return out


def layer_rows(dataset: Dataset) -> list[Any]:
    """The dataset's layers as rows (name, kind, frozen, owner, ...), oldest first."""
    with dataset.store.read() as conn:
        return queries.list_layers(conn, dataset.id)


def layer_dict(row: Any) -> dict[str, Any]:
    """A layer as the API shows it."""
    return {
        "name": row.name,
        "kind": row.kind,
        "frozen": bool(row.frozen),
        "owner": row.owner,
        "description": row.description,
        "created_at": row.created_at,
    }


def _item_row(conn: Connection, dataset: Dataset, item_id: int) -> Any:
    row = conn.execute(
        sa.select(*_PUBLIC_COLUMNS, t.items.c.media_path).where(
            t.items.c.id == item_id, t.items.c.dataset_id == dataset.id
        )
    ).first()
    if row is None:
        raise ItemNotFound(f"No item {item_id} in dataset {dataset.name!r}.")
    return row


def get_item(dataset: Dataset, item_id: int) -> dict[str, Any]:
    """One item of ``dataset`` (ItemNotFound if the id is not one of its items)."""
    with dataset.store.read() as conn:
        return dict(_item_row(conn, dataset, item_id)._asdict())


def current_labels(dataset: Dataset, item_id: int, layer_ids: list[int]) -> dict[int, Any]:
    """The current label of an item in each of ``layer_ids``: layer id -> row."""
    h, lb, c = t.label_heads.c, t.labels.c, t.classes.c
    if not layer_ids:
        return {}
    with dataset.store.read() as conn:
        _item_row(conn, dataset, item_id)
        rows = conn.execute(
            sa.select(h.layer_id, c.name.label("class_name"), lb.author, lb.created_at, lb.reason)
            .join(t.labels, lb.id == h.label_id)
            .outerjoin(t.classes, c.id == h.class_id)
            .where(h.item_id == item_id, h.layer_id.in_(layer_ids))
        ).all()
    return {r.layer_id: r for r in rows}


def neighbours(
    dataset: Dataset, item_id: int, where: sa.ColumnElement[bool] | None
) -> tuple[int | None, int | None]:
    """The ids of the items just before and after ``item_id`` (within a filter)."""
    i = t.items.c
    with dataset.store.read() as conn:
        base = sa.select(i.id).where(i.dataset_id == dataset.id)
        if where is not None:
            base = base.where(where)
        prev = conn.execute(base.where(i.id < item_id).order_by(i.id.desc()).limit(1)).scalar()
        nxt = conn.execute(base.where(i.id > item_id).order_by(i.id).limit(1)).scalar()
    return prev, nxt


def media_blob(dataset: Dataset, item_id: int) -> tuple[bytes, str] | None:
    """The image bytes and type kept in the store for an item of ``dataset``, if any."""
    b = t.media_blobs.c
    with dataset.store.read() as conn:
        _item_row(conn, dataset, item_id)
        row = conn.execute(sa.select(b.data, b.mime).where(b.item_id == item_id)).first()
    return (bytes(row.data), str(row.mime)) if row else None


def data_version(dataset: Dataset) -> tuple[int, int]:
    """A cheap fingerprint that changes when the dataset's items or any label change.

    Items and labels are append-only, so their largest ids tell whether anything was added;
    both are index lookups.
    """
    with dataset.store.read() as conn:
        max_item = conn.execute(
            sa.select(sa.func.max(t.items.c.id)).where(t.items.c.dataset_id == dataset.id)
        ).scalar()
        max_label = conn.execute(sa.select(sa.func.max(t.labels.c.id))).scalar()
    return int(max_item or 0), int(max_label or 0)


def media_file(dataset: Dataset, item_id: int) -> tuple[str, str, str | None] | None:
    """(file path, key, import source) of an item of ``dataset`` whose image is a file."""
    i, imp = t.items.c, t.imports.c
    with dataset.store.read() as conn:
        row = conn.execute(
            sa.select(i.media_path, i.external_key, imp.source)
            .outerjoin(t.imports, imp.id == i.import_id)
            .where(i.id == item_id, i.dataset_id == dataset.id)
        ).first()
    if row is None:
        raise ItemNotFound(f"No item {item_id} in dataset {dataset.name!r}.")
    if row.media_path is None:
        return None
    return row.media_path, row.external_key, row.source


def dataset_rows(conn: Connection) -> list[Any]:
    """Every published dataset with its largest item id (id, name, created_at, max_item)."""
    d, i = t.datasets.c, t.items.c
    last = (
        sa.select(sa.func.max(i.id))
        .where(i.dataset_id == d.id)
        .correlate(t.datasets)
        .scalar_subquery()
        .label("max_item")
    )
    return list(
        conn.execute(
            sa.select(d.id, d.name, d.created_at, last).where(queries.READY).order_by(d.id)
        ).all()
    )


def count_items(conn: Connection, dataset_id: int) -> int:
    """How many items a dataset has (a scan of its index: cache the answer)."""
    return int(
        conn.execute(
            sa.select(sa.func.count()).where(t.items.c.dataset_id == dataset_id)
        ).scalar_one()
    )


def items_by_ids(dataset: Dataset, ids: list[int]) -> list[dict[str, Any]]:
    """The public rows of items ``ids`` of ``dataset``, in the order given (missing: left out)."""
    if not ids:
        return []
    with dataset.store.read() as conn:
        rows = conn.execute(
            sa.select(*_PUBLIC_COLUMNS).where(
                t.items.c.dataset_id == dataset.id, t.items.c.id.in_(ids)
            )
        ).all()
    by_id = {r.id: dict(r._asdict()) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def labels_for_items(
    dataset: Dataset, item_ids: list[int], layer_ids: list[int]
) -> dict[int, dict[int, tuple[str | None, float | None]]]:
    """Current labels of some items in some layers: item -> layer id -> (class, confidence)."""
    if not item_ids or not layer_ids:
        return {}
    h, lb, c = t.label_heads.c, t.labels.c, t.classes.c
    with dataset.store.read() as conn:
        rows = conn.execute(
            sa.select(h.item_id, h.layer_id, c.name, lb.confidence)
            .join(t.labels, lb.id == h.label_id)
            .outerjoin(t.classes, c.id == h.class_id)
            .where(h.item_id.in_(item_ids), h.layer_id.in_(layer_ids))
        ).all()
    out: dict[int, dict[int, tuple[str | None, float | None]]] = {}
    for item_id, layer_id, name, confidence in rows:
        if name is not None:
            out.setdefault(item_id, {})[layer_id] = (name, confidence)
    return out
