"""Datasets as the API and the pages show them: the list, one dataset with its visible layers,
its item count and its statistics.

This module and its siblings in ``views/`` compute what one API endpoint returns and its
page shows, so a page and its JSON twin cannot disagree. Access rules (roles, blind mode,
dataset scoping) are applied as the user's viewer (:class:`assay.access.Viewer`) decides them.
"""

from __future__ import annotations

from typing import Any

from assay.dataset import Dataset
from assay.labels.layers import layer_info
from assay.store import filters, reads
from assay.web.auth import Principal
from assay.web.state import AppState


def open_dataset(state: AppState, name: str) -> Dataset:
    """The dataset of that name (DatasetNotFound, a 404, when there is none)."""
    return state.project.dataset(name)


def list_datasets(state: AppState) -> list[dict[str, Any]]:
    """Every dataset with its item count (cached: see :func:`item_count`)."""
    out = []
    for row in reads.datasets_with_last_item(state.project.store):
        n = 0 if row.max_item is None else _count(state, row.id, None, row.max_item)
        out.append({"id": row.id, "name": row.name, "created_at": row.created_at, "n_items": n})
    return out


def item_count(state: AppState, dataset: Dataset, filter: str | None = None) -> int:
    """How many items the dataset (or the slice ``filter`` selects) has.

    Counting scans the dataset's index (70 ms at 1,000,000 items), so counts are cached by
    the dataset's data version: items and labels are only ever added, so a count changes
    only with it (without a filter, only with the largest item id).
    """
    version = reads.data_version(dataset.store, dataset.id)
    return _count(state, dataset.id, filter, version if filter else version[0])


def _count(state: AppState, dataset_id: int, filter: str | None, version: object) -> int:
    store = state.project.store
    key = ("n_items", dataset_id, filter or None, version)
    return int(state.stats.get(key, lambda: reads.count_items(store, dataset_id, filter)))


def layers(state: AppState, who: Principal, dataset: Dataset) -> list[dict[str, Any]]:
    """The visible layers as dicts, each saying whether this user may write to it."""
    return [layer_out(who, r) for r in who.viewer.layers(dataset)]


def dataset_detail(
    state: AppState, who: Principal, dataset: Dataset, *, count: bool = True
) -> dict[str, Any]:
    """A dataset's name, size, classes and visible layers.

    ``count=False`` leaves out the item count (``n_items`` None): pages that do not show it
    skip even the look-up of the cached count.
    """
    return {
        "id": dataset.id,
        "name": dataset.name,
        "n_items": item_count(state, dataset) if count else None,
        "classes": dataset.classes(),
        "layers": layers(state, who, dataset),
    }


def layer_out(who: Principal, row: Any) -> dict[str, Any]:
    """A layer as the API and the pages show it to ``who``: the library's description of it
    (:func:`assay.labels.layers.layer_info`) without its origin, which may name a layer the
    user may not see, and whether they may write to it."""
    out = layer_info(row)
    out.pop("origin", None)
    return {**out, "can_write": who.viewer.can_write(row)}


def default_layer(who: Principal, dataset: Dataset) -> str:
    """``ground_truth`` when visible, else the first layer the user may see."""
    names = [r.name for r in who.viewer.layers(dataset)]
    if filters.DEFAULT_LAYER in names or not names:
        return filters.DEFAULT_LAYER
    return str(names[0])


def statistics(
    state: AppState, who: Principal, dataset: Dataset, filter: str | None
) -> dict[str, Any]:
    """The inventory of the dataset or of a filtered slice (cached while nothing changes)."""
    visible = who.viewer.layer_names(dataset)
    who.viewer.check_filter(dataset, filter, visible)
    key = (dataset.id, filter or None, reads.data_version(dataset.store, dataset.id))
    inventory: dict[str, Any] = state.stats.get(
        key, lambda: dataset.stats(filter or None).to_dict()
    )
    shown = [layer for layer in inventory["layers"] if layer["name"] in visible]
    return {"ok": True, **inventory, "layers": shown}


def layer_statistics(
    state: AppState, who: Principal, dataset: Dataset, layer: str, filter: str | None
) -> dict[str, Any]:
    """The statistics of one layer you may see by its kind (boxes per image and sizes, tag
    co-occurrence, span lengths, the distribution of numbers), over the dataset or a filtered
    slice; cached while nothing changes."""
    from assay.stats.kind_stats import layer_statistics as compute

    name = who.viewer.layer(dataset, layer).name
    who.viewer.check_filter(dataset, filter)
    key = ("layer", dataset.id, name, filter or None, reads.data_version(dataset.store, dataset.id))
    found: dict[str, Any] = state.stats.get(key, lambda: compute(dataset, name, filter or None))
    return {"ok": True, "dataset": dataset.name, "filter": filter or None, "layer": found}
