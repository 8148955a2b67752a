"""Boxes as the box editor, the overlays and the grid show them: an item's boxes in every box
layer the user may see (one read), a whole box set saved on the version the editor loaded,
and the boxes of one layer for a page of grid items (one read per page).

Every rule about boxes (valid boxes, classes, stale edits, who may write) is the library's:
``assay.labels.kinds.boxes`` checks the boxes, ``LabelWrite.base`` refuses a stale save
(Conflict, 409), ``Viewer.check_write`` a layer the user may not write (403).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from assay.dataset import Dataset
from assay.labels.writes import current_labels_of
from assay.web.auth import Principal
from assay.web.rendering import layer_colour
from assay.web.state import AppState
from assay.web.urls import media_url
from assay.web.views.datasets import layer_out
from assay.web.views.layer_values import (
    class_keys,
    layers_of_kind,
    page_layer_values,
    save_on_base,
    saved,
)

BOXES = "boxes"


def box_layer_rows(who: Principal, dataset: Dataset) -> list[Any]:
    """The box layers the user may see, oldest first."""
    return layers_of_kind(who, dataset, BOXES)


def layer_entry(who: Principal, row: Any, head: dict[str, Any] | None) -> dict[str, Any]:
    """One box layer of one item: its boxes, the label id they are (the editor's ``base``:
    0 when the item has no label there), its colour and whether the user may edit it."""
    shown = layer_out(who, row)
    head = head or {}
    boxes = head.get("value") or []
    return {
        "layer": row.name,
        **{k: shown[k] for k in ("kind", "owner", "frozen", "can_write")},
        "colour": layer_colour(row.name),
        "label_id": int(head.get("id") or 0),
        "labeled": head.get("value") is not None,
        "boxes": boxes,
        "scored": any("score" in b for b in boxes),
        "author": head.get("author"),
        "created_at": _iso(head.get("created_at")),
    }


def _iso(when: Any) -> str | None:
    return when.isoformat() if isinstance(when, datetime) else when


def item_boxes(
    state: AppState, who: Principal, dataset: Dataset, item: dict[str, Any]
) -> dict[str, Any]:
    """An item's boxes in every box layer the user may see (one read of the label heads),
    with the dataset's classes and, per layer the user may edit, the keys that pick classes.

    ``item`` is the item's public record (id, key, width, height).
    """
    rows = box_layer_rows(who, dataset)
    item_id = int(item["id"])
    heads = current_labels_of(dataset.store, dataset.id, [item_id], [r.id for r in rows])
    current = heads.get(item_id, {})
    layers = [layer_entry(who, r, current.get(r.id)) for r in rows]
    keys = class_keys(dataset, layers)
    return {
        "ok": True,
        "dataset": dataset.name,
        "item": {
            "id": item_id,
            "key": item.get("key", item.get("external_key")),
            "width": item.get("width"),
            "height": item.get("height"),
            "media_url": media_url(dataset.name, item_id) if item.get("kind") == "image" else None,
        },
        "classes": dataset.classes(),
        "keys": keys,
        "layers": layers,
    }


async def save_boxes_async(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    item_id: int,
    *,
    layer: str,
    boxes: list[dict[str, Any]],
    base: int,
    note: str | None = None,
    idempotency_key: str | None = None,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """Write an item's whole box set in ``layer`` as the signed-in user, made on the version
    ``base`` (the label id the editor loaded, 0 for none): a stale base is a Conflict, so a
    second editor never silently overwrites the first. Through the group committer, as every
    label the web writes; the answer holds the boxes as stored (ids given to new boxes)."""
    label_id, written, row, head = await save_on_base(
        state, who, dataset, item_id, layer, boxes,
        base=base, note=note, idempotency_key=idempotency_key, timeout_s=timeout_s,
    )  # fmt: skip
    entry = layer_entry(who, row, head)
    return saved(item_id, layer, label_id, written, entry, {"boxes": boxes})


def page_boxes(
    who: Principal,
    dataset: Dataset,
    layer: str,
    item_ids: Sequence[int],
    visible: Sequence[Any] | None = None,
) -> dict[int, list[dict[str, Any]]]:
    """The boxes of ``layer`` for a page of items (item id -> boxes; items without a label
    there are left out), in one read: the grid's box overlays. ``visible``: the box layers
    the user may see, when the caller has them already (:func:`box_layer_rows`)."""
    values: dict[int, list[dict[str, Any]]] = page_layer_values(
        who,
        dataset,
        layer,
        item_ids,
        BOXES,
        "not boxes: choose a box layer to draw over the thumbnails.",
        visible,
    )
    return values


def tile_svg(boxes: Sequence[dict[str, Any]], width: int, height: int, layer: str) -> Markup:
    """The SVG a grid tile draws over its thumbnail: one ``rect`` per box, in image pixels
    (the viewBox), titled with the box's class and score.

    Built here rather than in the template: a page of 480 tiles x 10 boxes is thousands of
    rects, and a Jinja loop over them cost several times the rest of the grid's page.
    """
    parts = [
        f'<svg class="tile-boxes" viewBox="0 0 {int(width)} {int(height)}" '
        # A presentation attribute, not a style: the pages' CSP refuses inline styles.
        f'stroke="{escape(layer_colour(layer))}" '
        f'aria-label="{len(boxes)} boxes of {escape(layer)}">'
    ]
    names: dict[str, str] = {}  # class -> escaped (a page has few classes, many boxes)
    for b in boxes:
        name = names.get(b["class"])
        if name is None:
            name = names[b["class"]] = str(escape(b["class"]))
        score = f" {float(b['score']):.2f}" if "score" in b else ""
        parts.append(
            f'<rect x="{float(b["x"]):g}" y="{float(b["y"]):g}" '
            f'width="{float(b["w"]):g}" height="{float(b["h"]):g}">'
            f"<title>{name}{score}</title></rect>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
