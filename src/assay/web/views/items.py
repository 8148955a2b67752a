"""Items as the API and the pages show them: keyset pages of a dataset's items, one item with
its current label in every visible layer, its image, its history, and label writes.

What the API returns about an item leaves out server details (the file path of its image,
its content hash): :func:`public_item`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.responses import Response

from assay.dataset import VALUE_SORT, Dataset
from assay.errors import InvalidParameter, ItemNotFound, PermissionDenied
from assay.labels.writes import LabelRequest, LabelWrite, current_labels_of
from assay.store import reads
from assay.store.queries import MAX_PAGE
from assay.store.reads import ITEM_FIELDS
from assay.web import media
from assay.web.auth import Principal
from assay.web.errors import Forbidden
from assay.web.state import AppState
from assay.web.urls import media_url
from assay.web.views.datasets import default_layer, item_count, layer_out


def public_item(row: dict[str, Any], media_url: str | None) -> dict[str, Any]:
    """An item as the API shows it: public fields, its label and where its image is."""
    out = {name: row.get(name) for name in ITEM_FIELDS}
    out["key"] = out.pop("external_key")
    if "label" in row:
        out["label"] = row["label"]
    out["media_url"] = media_url if row.get("kind") == "image" else None
    return out


def _check_layer(who: Principal, dataset: Dataset, layer: str) -> set[str]:
    """The names of the visible layers, refusing ``layer`` if it is not one of them."""
    names = who.viewer.layer_names(dataset)
    if layer not in names and who.viewer.blind:
        raise Forbidden(f"You may not see the labels of layer {layer!r}.")
    return names


def items_page(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    *,
    filter: str | None,
    layer: str | None,
    after: int | str | None,
    limit: int,
    sort: str = "added",
    model: str | None = None,
    count: bool = False,
) -> dict[str, Any]:
    """One keyset page of items matching ``filter`` in the order ``sort``, with their label in
    ``layer`` and, with ``model``, that layer's prediction, its confidence and whether it is
    right (:meth:`assay.dataset.Dataset.items`).

    ``count`` adds ``total``: how many items match (:func:`total`)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidParameter(f"limit must be between 1 and {MAX_PAGE}, got {limit}.")
    layer = layer or default_layer(who, dataset)
    visible = _check_layer(who, dataset, layer)
    _check_order(who, dataset, sort, model)
    who.viewer.check_filter(dataset, filter, visible)
    rows, cursor = dataset.items(
        filter or None, after=after, limit=limit, layer=layer, sort=sort, model=model or None
    )
    out = {
        "ok": True,
        "dataset": dataset.name,
        "filter": filter or None,
        "layer": layer,
        "sort": sort,
        "model": model or None,
        "items": [
            {
                **public_item(r, media_url(dataset.name, r["id"])),
                **{k: r[k] for k in ("score", "prediction", "confidence", "correct") if k in r},
            }
            for r in rows
        ],
        "next": cursor,
    }
    if count:
        out["total"], out["total_capped"] = total(state, dataset, filter, sort, model)
    return out


# Counts above this show as "10,000+": counting stops there, so a count costs at most a scan
# of this many matching items, whatever the dataset's size.
COUNT_CAP = 10_000


def total(
    state: AppState, dataset: Dataset, filter: str | None, sort: str, model: str | None
) -> tuple[int, bool]:
    """How many items a grid of ``filter`` in order ``sort`` holds, and whether that is a
    lower bound (more than :data:`COUNT_CAP`).

    The whole dataset's count is exact (cached per largest item id, as the dataset list's).
    Other counts stop at :data:`COUNT_CAP` and are cached per data version (items and labels
    are only ever added, so a count changes only with it).
    """
    if not filter and sort in ("added", "newest", "key"):
        return item_count(state, dataset), False
    version = reads.data_version(dataset.store, dataset.id)
    key = ("grid_count", dataset.id, filter or None, sort, model or None, version)
    n = int(
        state.stats.get(key, lambda: dataset.count(filter, sort=sort, model=model, cap=COUNT_CAP))
    )
    return min(n, COUNT_CAP), n > COUNT_CAP


def _check_order(who: Principal, dataset: Dataset, sort: str, model: str | None) -> None:
    """Refuse a grid order the user may not see: a model layer hidden from them, or in blind
    mode a label-quality order over layers they do not see (it tells how suspect those labels
    are)."""
    if model:
        _check_layer(who, dataset, model)
    if sort.startswith(VALUE_SORT):  # a number layer's values
        _check_layer(who, dataset, sort[len(VALUE_SORT) :])
    if sort in ("quality", "loss") and who.viewer.blind:
        run = dataset.quality.run(None)
        for name in (run.layer, *(run.annotator_layers or ()), run.model_layer):
            if name is not None:
                _check_layer(who, dataset, name)


def item_detail(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    item_id: int,
    filter: str | None = None,
    *,
    sort: str = "added",
    model: str | None = None,
) -> dict[str, Any]:
    """One item, its current label in every visible layer (``label`` as the layer's annotation
    kind shows it, ``value`` as JSON), and its neighbours in the grid of ``filter`` in the
    order ``sort`` (ids and keys), so stepping follows the grid it was opened from."""
    row = reads.item(dataset.store, dataset.id, item_id)
    rows = who.viewer.layers(dataset)
    ids = [r.id for r in rows]
    current = current_labels_of(dataset.store, dataset.id, [item_id], ids).get(item_id, {})
    labels = []
    for r in rows:
        head = current.get(r.id, {})
        shown = layer_out(who, r)
        labels.append(
            {
                "layer": r.name,
                **{k: shown[k] for k in ("kind", "value_kind", "owner", "frozen", "can_write")},
                "label": head.get("label"),
                "value": head.get("value"),
                "label_id": int(head.get("id") or 0),
                "author": head.get("author"),
                "created_at": head.get("created_at"),
                "reason": head.get("note"),
            }
        )
    who.viewer.check_filter(dataset, filter, {r.name for r in rows})
    _check_order(who, dataset, sort, model)
    prev, nxt = dataset.neighbours(item_id, filter, sort=sort, model=model or None)
    keys = {
        r["id"]: r["external_key"]
        for r in reads.items_by_ids(dataset.store, dataset.id, [i for i in (prev, nxt) if i])
    }
    return {
        "ok": True,
        "dataset": dataset.name,
        "item": public_item(row, media_url(dataset.name, item_id)),
        "labels": labels,
        "classes": dataset.classes(),
        "previous": prev,
        "next": nxt,
        "previous_key": keys.get(prev) if prev else None,
        "next_key": keys.get(nxt) if nxt else None,
    }


def item_media(state: AppState, dataset: Dataset, item_id: int, *, thumb: bool) -> Response:
    """An item's image (a thumbnail when ``thumb``), from the store or its file."""
    blob = reads.media_blob(dataset.store, dataset.id, item_id)
    if blob is not None:
        content = blob[0]
    else:
        found = reads.media_file(dataset.store, dataset.id, item_id)
        if found is None:
            raise ItemNotFound(f"Item {item_id} has no image.")
        path = media.resolve_file(*found, media_roots=state.settings.media_roots)
        content = media.read_file(path)
    if thumb and media.sniff(content):
        content = media.thumbnail(content)[0]
    return media.image_response(content)


def write_label(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    item_id: int,
    *,
    layer: str,
    label: str | None,
    note: str | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Set (or with ``label=None`` clear) an item's label in ``layer`` as the signed-in user.

    Annotators may write only to layers they own, reviewers and admins to any; frozen layers
    refuse everyone (409). The idempotency key is kept per user, so one user's retries never
    collide with another's keys.
    """
    request = label_request(state, who, item_id, layer, label, note, idempotency_key)
    label_id, written = state.labels.submit(dataset.id, request)
    return _label_written(item_id, layer, label, label_id, written)


async def write_label_async(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    item_id: int,
    *,
    layer: str,
    label: str | None,
    note: str | None = None,
    idempotency_key: str | None = None,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """:func:`write_label` for the event loop: the request waits for its group commit without
    holding a thread (fifty annotators would otherwise hold fifty threads contending for the
    GIL, which made the slowest writes several times slower than the median)."""
    request = label_request(state, who, item_id, layer, label, note, idempotency_key)
    future = asyncio.wrap_future(state.labels.enqueue(dataset.id, request))
    label_id, written = await asyncio.wait_for(future, timeout_s)
    return _label_written(item_id, layer, label, label_id, written)


def label_request(
    state: AppState,
    who: Principal,
    item_id: int,
    layer: str,
    label: Any,
    note: str | None,
    idempotency_key: str | None,
    *,
    base: int | None = None,
) -> LabelRequest:
    """The write for the committer, with the check of who may write to the layer; the check
    runs against the layer row inside the write transaction (no read of its own). ``label``
    is the layer's kind of value (a class name, a box set); ``base`` the label id the writer
    edited (a stale one is a Conflict, see ``LabelWrite.base``)."""

    def check(row: Any) -> None:
        if not who.viewer.can_see(row):
            raise PermissionDenied(f"You may not see layer {layer!r}.")
        who.viewer.check_write(row)

    key = f"u{who.user.id}:{idempotency_key}" if idempotency_key else None
    write = LabelWrite(item_id, label, note, base=base)
    return LabelRequest(layer, write, who.user.username, key, check=check)


def _label_written(
    item_id: int, layer: str, label: str | None, label_id: int, written: bool
) -> dict[str, Any]:
    return {
        "ok": True,
        "item_id": item_id,
        "layer": layer,
        "label": label,
        "label_id": label_id,
        "written": int(written),
    }


def label_history(
    state: AppState, who: Principal, dataset: Dataset, item_id: int, layer: str | None = None
) -> dict[str, Any]:
    """Every label the item had in the layers the user may see, oldest first per layer."""
    reads.item(dataset.store, dataset.id, item_id)  # 404 unless the item is in this dataset
    visible = who.viewer.layer_names(dataset)
    if layer is not None and layer not in visible:
        raise Forbidden(f"You may not see layer {layer!r}.")
    entries = [h for h in dataset.history(item_id, layer) if h["layer"] in visible]
    return {"ok": True, "item_id": item_id, "history": entries}
