"""What every editor of a whole value per item shares (box sets, span sets, tags, numbers):
the layers of one kind a user may see, the keys that pick classes in the layers they edit, a
value saved on the version the editor loaded, and one layer's values over a page of grid
items, each in one read.

The rules stay the library's: the layer's kind checks the value, ``LabelWrite.base`` refuses
a stale save (Conflict, 409), ``Viewer.check_write`` a layer the user may not write (403) and
``Viewer.layer`` one they may not see.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from assay.dataset import Dataset
from assay.errors import InvalidParameter
from assay.labels.writes import current_labels_of
from assay.web.auth import Principal
from assay.web.state import AppState
from assay.web.views.items import label_request


def layers_of_kind(who: Principal, dataset: Dataset, kind: str) -> list[Any]:
    """The layers of annotation kind ``kind`` the user may see, oldest first."""
    return [r for r in who.viewer.layers(dataset) if r.value_kind == kind]


def class_keys(dataset: Dataset, layers: Sequence[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Per layer entry the user may write (``can_write``), class -> the key that picks it."""
    return {
        la["layer"]: {c: k for k, c in dataset.class_keys(la["layer"]) if k}
        for la in layers
        if la["can_write"]
    }


async def save_on_base(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    item_id: int,
    layer: str,
    value: Any,
    *,
    base: int,
    note: str | None,
    idempotency_key: str | None,
    timeout_s: float,
) -> tuple[int, int, Any, dict[str, Any] | None]:
    """Write ``value`` as the item's label in ``layer``, made on the version ``base`` (the
    label id the editor loaded, 0 for none), through the group committer as every label the
    web writes. Returns the label id, whether it was written (0: a retry of the same
    idempotency key), the layer's row and its head now (which may already be a later save)."""
    request = label_request(state, who, item_id, layer, value, note, idempotency_key, base=base)
    future = asyncio.wrap_future(state.labels.enqueue(dataset.id, request))
    label_id, written = await asyncio.wait_for(future, timeout_s)
    row = who.viewer.layer(dataset, layer)
    head = current_labels_of(dataset.store, dataset.id, [item_id], [row.id]).get(item_id, {})
    return label_id, int(written), row, head.get(row.id)


def saved(
    item_id: int,
    layer: str,
    label_id: int,
    written: int,
    entry: dict[str, Any],
    sent: dict[str, Any],
) -> dict[str, Any]:
    """The answer to a save: the stored fields of ``entry`` (the layer's head now) when it is
    this save, else what was sent (``sent``: field -> value), since another session may have
    saved after it."""
    this = entry["label_id"] == label_id
    return {
        "ok": True,
        "item_id": item_id,
        "layer": layer,
        "label_id": label_id,
        "written": written,
        **{field: entry[field] if this else value for field, value in sent.items()},
    }


def page_layer_values(
    who: Principal,
    dataset: Dataset,
    layer: str,
    item_ids: Sequence[int],
    kind: str,
    refusal: str,
    visible: Sequence[Any] | None = None,
) -> dict[int, Any]:
    """The values of ``layer`` (of kind ``kind``) for a page of items (item id -> value; items
    without a label there are left out), in one read. ``visible``: the layers the user may
    see, when the caller has them already; ``refusal`` ends the message for another kind."""
    found = [r for r in visible or () if r.name == layer]
    row = found[0] if found else who.viewer.layer(dataset, layer)
    if row.value_kind != kind:
        raise InvalidParameter(f"Layer {layer!r} holds {row.value_kind} labels, {refusal}")
    heads = current_labels_of(dataset.store, dataset.id, list(item_ids), [row.id])
    out: dict[int, Any] = {}
    for item_id, per_layer in heads.items():
        value = per_layer.get(row.id, {}).get("value")
        if value is not None:
            out[item_id] = value
    return out
