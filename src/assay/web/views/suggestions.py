"""What to label next, as the API and the jobs page show it: a layer's current suggestion
list and its items, with access rules applied (annotators see only their own layers)."""

from __future__ import annotations

from typing import Any

from assay.dataset import Dataset
from assay.store import reads
from assay.web.auth import Principal
from assay.web.state import AppState
from assay.web.urls import media_url
from assay.web.views.items import public_item


def suggestions(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    layer: str,
    *,
    after: int | None = None,
    limit: int = 48,
    pending_only: bool = True,
) -> dict[str, Any]:
    """The layer's current list (None if it has none) and its items in rank order."""
    who.viewer.layer(dataset, layer)  # 404 / blind mode before anything
    current = dataset.suggestions.current(layer)
    rows: list[dict[str, Any]] = []
    if current is not None:
        rows = dataset.suggestions.items(layer, after=after, limit=limit, pending_only=pending_only)
    by_id = {
        r["id"]: r
        for r in reads.items_by_ids(dataset.store, dataset.id, [r["item_id"] for r in rows])
    }
    items = []
    for r in rows:
        item = by_id.get(r["item_id"])
        if item is None:
            continue
        public = public_item(item, media_url(dataset.name, r["item_id"]))
        items.append({**public, **{k: r[k] for k in ("rank", "score", "reason", "done", "label")}})
    return {
        "ok": True,
        "layer": layer,
        "list": current.to_dict() if current else None,
        "items": items,
        "next": items[-1]["rank"] if len(rows) == limit and items else None,
    }
