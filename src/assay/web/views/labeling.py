"""Layers, bulk label writes and the labeling queue, with the access rules applied.

Like every module of ``views/``, each function computes what one API endpoint returns and its
page shows. Who may do what:

* creating a layer: admins and reviewers (any kind, any owner); annotators only a ``human``
  layer owned by themselves;
* copying, renaming, freezing: admins and reviewers; setting the keys that pick its classes:
  whoever may write to it;
* writing labels (one, many, by filter, from the queue): only into layers the user may write
  (:meth:`assay.access.Viewer.writable_layer`), always as the signed-in user.
"""

from __future__ import annotations

from typing import Any

from assay.active import queue
from assay.dataset import Dataset
from assay.errors import Conflict
from assay.store import reads
from assay.web.auth import Principal
from assay.web.state import AppState
from assay.web.urls import media_url
from assay.web.views.datasets import item_count, layer_out
from assay.web.views.items import public_item

MAX_BULK_ITEMS = 100_000


# -- layers -----------------------------------------------------------------------------------


def create_layer(
    state: AppState, who: Principal, dataset: Dataset, name: str, **options: Any
) -> dict[str, Any]:
    """Add an empty layer (``options``: those of :meth:`assay.Dataset.create_layer`: kind,
    value_kind, owner, description, options). Annotators may only add ``human`` layers they own."""
    options["owner"] = who.viewer.new_layer_owner(
        options.get("kind", "human"), options.get("owner")
    )
    info = dataset.create_layer(name, **options)
    return {"ok": True, "layer": layer_out(who, who.viewer.layer(dataset, info["name"]))}


def copy_layer(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    *,
    source: str,
    target: str,
    owner: str | None = None,
) -> dict[str, Any]:
    """A new layer starting from the current labels of ``source`` (copies credited to you)."""
    who.viewer.layer(dataset, source)
    info = dataset.copy_layer(source, target, author=who.user.username, owner=owner)
    return {"ok": True, "layer": layer_out(who, who.viewer.layer(dataset, info["name"]))}


def rename_layer(
    state: AppState, who: Principal, dataset: Dataset, *, layer: str, name: str
) -> dict[str, Any]:
    """Rename a layer; its labels, history and snapshots follow it."""
    who.viewer.layer(dataset, layer)
    info = dataset.rename_layer(layer, name)
    return {"ok": True, "layer": layer_out(who, who.viewer.layer(dataset, info["name"]))}


def freeze_layer(
    state: AppState, who: Principal, dataset: Dataset, *, layer: str, frozen: bool
) -> dict[str, Any]:
    """Make a layer read-only, or writable again."""
    who.viewer.layer(dataset, layer)
    dataset.freeze_layer(layer, frozen)
    return {"ok": True, "layer": layer_out(who, who.viewer.layer(dataset, layer))}


def class_keys(dataset: Dataset, layer: str | None) -> list[dict[str, str | None]]:
    """The keys that pick each class when labeling in ``layer`` (see
    :mod:`assay.labels.hotkeys`), as [{"class", "key"}] in class order."""
    return [{"class": c, "key": k} for k, c in dataset.class_keys(layer)]


def set_layer_keys(
    state: AppState, who: Principal, dataset: Dataset, *, layer: str, keys: dict[str, str]
) -> dict[str, Any]:
    """Set the keys that pick classes in ``layer`` (whoever may label in it)."""
    who.viewer.writable_layer(dataset, layer)
    dataset.set_layer_keys(layer, keys)
    return {
        "ok": True,
        "layer": layer_out(who, who.viewer.layer(dataset, layer)),
        "keys": class_keys(dataset, layer),
    }


# -- bulk writes ------------------------------------------------------------------------------


def bulk_label(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    *,
    layer: str,
    label: str | None,
    items: list[int] | None,
    filter: str | None,
    note: str | None = None,
) -> dict[str, Any]:
    """Label many items (by id, or every item a filter selects) in one transaction.

    All or nothing: an unknown item or class, or a frozen layer, writes nothing.
    """
    who.viewer.writable_layer(dataset, layer)
    if items is not None:
        result = dataset.set_labels(
            [(int(i), label) for i in items],
            layer=layer,
            author=who.user.username,
            note=note,
            viewer=who.viewer,
        )
        n_items = len(items)
    else:
        who.viewer.check_filter(dataset, filter)
        result = dataset.label_where(
            filter or None,
            label,
            layer=layer,
            author=who.user.username,
            note=note,
            viewer=who.viewer,
        )
        n_items = result.n_written + result.n_unchanged
    return {
        "ok": True,
        "layer": layer,
        "label": label,
        "items": n_items,
        "written": result.n_written,
        "unchanged": result.n_unchanged,
    }


# -- the labeling queue -----------------------------------------------------------------------


def queue_layers(state: AppState, who: Principal, dataset: Dataset) -> list[dict[str, Any]]:
    """The layers the user may label in from the queue: unfrozen, writable, not derived.

    Annotators get their own layers; reviewers and admins every writable human layer, their
    own first.
    """
    viewer = who.viewer
    labelable = ("human", "import")
    rows = [r for r in viewer.layers(dataset) if viewer.can_write(r) and r.kind in labelable]
    rows.sort(key=lambda r: (r.owner != who.user.username, r.kind != "human", r.id))
    return [layer_out(who, r) for r in rows]


def queue_page(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    *,
    layer: str,
    filter: str | None,
    after: str | None,
    limit: int,
) -> dict[str, Any]:
    """The next items to label in ``layer`` (see :func:`assay.active.queue.next_items`).

    The first page (no ``after``) also says how many items the queue covers and how many of
    them are labeled in the layer already.
    """
    row = who.viewer.writable_layer(dataset, layer)
    if row.frozen:
        raise Conflict(f"Layer {layer!r} is frozen (read-only): unfreeze it to label in it.")
    who.viewer.check_filter(dataset, filter)
    page, labeled = queue.serve(
        dataset.store, dataset.id, row.id, filter=filter, after=after, limit=limit
    )
    rows = reads.items_by_ids(dataset.store, dataset.id, page.ids)
    out: dict[str, Any] = {
        "ok": True,
        "dataset": dataset.name,
        "layer": layer,
        "filter": filter or None,
        "order": "suggested" if page.suggestion_list else "id",
        "suggestions": page.suggestion_list,
        "items": [
            {
                **public_item({**r, "label": None}, media_url(dataset.name, r["id"])),
                "suggested": page.reasons.get(r["id"]),
            }
            for r in rows
        ],
        "next": page.cursor,
    }
    if after is None:
        out["labeled"] = labeled
        out["total"] = item_count(state, dataset, filter)
    return out
