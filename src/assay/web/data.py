"""How the API shows an item and a layer (the reads themselves are :mod:`assay.store.reads`)."""

from __future__ import annotations

from typing import Any

from assay.dataset import Dataset
from assay.store import queries
from assay.store.reads import ITEM_FIELDS


def public_item(row: dict[str, Any], media_url: str | None) -> dict[str, Any]:
    """An item as the API shows it: public fields, its label and where its image is."""
    out = {name: row.get(name) for name in ITEM_FIELDS}
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
