"""How the API shows an item and a layer (the reads themselves are :mod:`assay.store.reads`)."""

from __future__ import annotations

from typing import Any

from assay.labels.layers import layer_info
from assay.store.reads import ITEM_FIELDS
from assay.web.auth import Principal


def public_item(row: dict[str, Any], media_url: str | None) -> dict[str, Any]:
    """An item as the API shows it: public fields, its label and where its image is."""
    out = {name: row.get(name) for name in ITEM_FIELDS}
    out["key"] = out.pop("external_key")
    if "label" in row:
        out["label"] = row["label"]
    out["media_url"] = media_url if row.get("kind") == "image" else None
    return out


def layer_out(who: Principal, row: Any) -> dict[str, Any]:
    """A layer as the API and the pages show it to ``who``: the library's description of it
    (:func:`assay.labels.layers.layer_info`) without its origin, which may name a layer the
    user may not see, and whether they may write to it."""
    out = layer_info(row)
    out.pop("origin", None)
    return {**out, "can_write": who.viewer.can_write(row)}
