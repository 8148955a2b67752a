"""The value editors' reads and saves (tags, numbers, and any kind whose label is a JSON value
edited as a whole): one layer's current value of one item with the label id it is (the
editor's ``base``), and a value saved on that version.

Every rule is the library's: the layer's kind checks the value (``labels.kinds``: tags in
the tag set, a number in the layer's range), ``LabelWrite.base`` refuses a stale save
(Conflict, 409), ``Viewer.check_write`` a layer the user may not write (403) and
``Viewer.layer`` one they may not see (blind annotators see only their own layers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assay.dataset import Dataset
from assay.errors import InvalidParameter
from assay.labels.kinds import get_kind
from assay.labels.writes import current_labels_of
from assay.store import reads
from assay.web.auth import Principal
from assay.web.kinds import editor_of
from assay.web.state import AppState
from assay.web.views.datasets import layer_out
from assay.web.views.layer_values import save_on_base, saved


def _value_layer(who: Principal, dataset: Dataset, layer: str) -> Any:
    row = who.viewer.layer(dataset, layer)
    if get_kind(row.value_kind).stores_class:
        raise InvalidParameter(
            f"Layer {layer!r} holds class labels: set them with the label form or POST .../labels."
        )
    return row


def value_entry(
    who: Principal, dataset: Dataset, row: Any, head: dict[str, Any] | None
) -> dict[str, Any]:
    """One layer's current value of one item, as an editor loads it: the value (None: not
    annotated), the label id it is (0 for none), the layer's options, the classes (tags) with
    the keys that pick them, and whether the user may edit it."""
    shown = layer_out(who, row)
    head = head or {}
    kind = row.value_kind
    entry: dict[str, Any] = {
        "layer": row.name,
        "value_kind": kind,
        **{k: shown[k] for k in ("kind", "owner", "frozen", "can_write", "options")},
        "value": head.get("value"),
        "label": head.get("label"),
        "label_id": int(head.get("id") or 0),
        "author": head.get("author"),
    }
    if kind == "tags":
        entry["classes"] = [{"name": c, "key": k} for k, c in dataset.class_keys(row.name)]
    return entry


def item_value(
    state: AppState, who: Principal, dataset: Dataset, item_id: int, layer: str
) -> dict[str, Any]:
    """The current value of an item in ``layer`` (a layer the user may see)."""
    del state
    reads.item(dataset.store, dataset.id, item_id)  # 404 unless the item is in this dataset
    row = _value_layer(who, dataset, layer)
    head = current_labels_of(dataset.store, dataset.id, [item_id], [row.id]).get(item_id, {})
    return {"ok": True, "item_id": item_id, **value_entry(who, dataset, row, head.get(row.id))}


def editor_layers(who: Principal, dataset: Dataset, item_id: int) -> list[dict[str, Any]]:
    """The item page's value editors: per layer the user may write whose kind has an editor
    (one that does not take the item's own place, as boxes and spans do), its current value
    (one read)."""
    rows = [
        r
        for r in who.viewer.layers(dataset)
        if (editor := editor_of(r.value_kind)) is not None
        and not editor.in_place
        and who.viewer.can_write(r)
    ]
    heads = current_labels_of(dataset.store, dataset.id, [item_id], [r.id for r in rows])
    current = heads.get(item_id, {})
    return [value_entry(who, dataset, r, current.get(r.id)) for r in rows]


async def save_value_async(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    item_id: int,
    *,
    layer: str,
    value: Any,
    base: int,
    note: str | None = None,
    idempotency_key: str | None = None,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """Write an item's value in ``layer`` as the signed-in user, made on the version ``base``
    (the label id the editor loaded, 0 for none; a stale one is a Conflict). ``value`` None
    clears the label. Through the group committer, as every label the web writes."""
    reads.item(dataset.store, dataset.id, item_id)  # 404 unless the item is in this dataset
    _value_layer(who, dataset, layer)
    label_id, written, row, head = await save_on_base(
        state, who, dataset, item_id, layer, value,
        base=base, note=note, idempotency_key=idempotency_key, timeout_s=timeout_s,
    )  # fmt: skip
    entry = value_entry(who, dataset, row, head)
    return saved(item_id, layer, label_id, written, entry, {"value": value, "label": None})


def page_values(
    who: Principal, dataset: Dataset, rows: Sequence[Any], item_ids: Sequence[int]
) -> dict[int, list[dict[str, Any]]]:
    """The grid's value columns: for a page of items, per item the current value of each of
    ``rows`` (tags and number layers the user may see), in one read."""
    if not rows or not item_ids:
        return {}
    heads = current_labels_of(dataset.store, dataset.id, list(item_ids), [r.id for r in rows])
    out: dict[int, list[dict[str, Any]]] = {}
    for item_id in item_ids:
        per_layer = heads.get(item_id, {})
        cells = []
        for r in rows:
            value = per_layer.get(r.id, {}).get("value")
            unit = (r.options or {}).get("unit") if r.value_kind == "number" else None
            cells.append(
                {"layer": r.name, "value_kind": r.value_kind, "value": value, "unit": unit}
            )
        out[item_id] = cells
    return out


def value_layer_rows(who: Principal, dataset: Dataset, limit: int | None = 4) -> list[Any]:
    """The tags and number layers the user may see (the grid shows the first ``limit`` as
    columns; None: all of them, as its sorts offer)."""
    rows = [r for r in who.viewer.layers(dataset) if r.value_kind in ("tags", "number")]
    return rows if limit is None else rows[:limit]
