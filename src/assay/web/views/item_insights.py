"""What the models make of one item, for the item page and its API twin: every model layer's
prediction with its probabilities, the conformal prediction set of the newest model run, and
the item's nearest neighbours.

Each piece reads what is already stored (:mod:`assay.models.item_conformal`,
:mod:`assay.maps.neighbours`); nothing is trained or featurized inside a request. The
conformal calibration and the neighbour index are built once per data version and kept in
the app's cache, so an item page stays a few milliseconds after the first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.access import Viewer
from assay.dataset import Dataset
from assay.labels.writes import current_labels_of
from assay.maps import neighbours as nearest
from assay.models import item_conformal
from assay.store import filters, reads
from assay.web.auth import Principal
from assay.web.state import AppState
from assay.web.urls import media_url
from assay.web.views.items import public_item

TOP_K = 5
N_NEIGHBOURS = 8
COVERAGE = 0.9
MAX_INDEX = 200_000  # vectors kept in a neighbour index in memory; larger sets use the map
SNIPPET = 120


def insights(state: AppState, who: Principal, dataset: Dataset, item_id: int) -> dict[str, Any]:
    """Predictions, the conformal set and the neighbours of one item (see the module doc)."""
    reads.item(dataset.store, dataset.id, item_id)  # ItemNotFound (404) for another dataset's id
    visible = who.viewer.layers(dataset)
    model_layers = [r for r in visible if r.kind == "model"]
    return {
        "ok": True,
        "item_id": item_id,
        "predictions": predictions(dataset, item_id, model_layers),
        "conformal": conformal_set(state, dataset, item_id, {r.name for r in visible}),
        "neighbours": neighbours(state, who, dataset, item_id, visible),
    }


def predictions(dataset: Dataset, item_id: int, layers: list[Any]) -> list[dict[str, Any]]:
    """Each model layer's predicted class for the item and its top classes by probability."""
    if not layers:
        return []
    classes = dataset.classes()
    current = current_labels_of(dataset.store, dataset.id, [item_id], [r.id for r in layers])
    rows = current.get(item_id, {})
    out = []
    for layer in layers:
        row = rows.get(layer.id)
        if row is None or row["value"] is None:
            continue
        top: list[dict[str, Any]] = []
        probs = row["probs"]
        if isinstance(probs, list) and len(probs) == len(classes):
            order = np.argsort(-np.asarray(probs, dtype=float), kind="stable")[:TOP_K]
            top = [{"label": classes[k], "p": float(probs[k])} for k in order]
        out.append(
            {
                "layer": layer.name,
                "label": row["label"],
                "value": row["value"],
                "confidence": row["confidence"],
                "top": top,
            }
        )
    return out


def conformal_set(
    state: AppState, dataset: Dataset, item_id: int, visible: set[str]
) -> dict[str, Any] | None:
    """The item's prediction set at COVERAGE from the newest finished run with a model layer
    the user may see (:mod:`assay.models.item_conformal`); None without one."""
    source = item_conformal.newest_source(dataset, visible)
    if source is None:
        return None
    version = reads.data_version(dataset.store, dataset.id)
    key = ("item-conformal", dataset.id, source, version)
    calibration = state.stats.get(key, lambda: item_conformal.calibrate(dataset, source))
    if calibration is None:
        return None
    found: dict[str, Any] | None = calibration.item_set(dataset, item_id, COVERAGE)
    return found


def neighbours(
    state: AppState, who: Principal, dataset: Dataset, item_id: int, visible: list[Any]
) -> dict[str, Any]:
    """The item's nearest items: in the newest cached feature vectors when there are at most
    MAX_INDEX of them, else in the newest embedding map's 2-D points; with neither, a note."""
    source = nearest.newest_source(dataset, MAX_INDEX)
    key = ("item-neighbours", dataset.id, source)
    index = state.stats.get(key, lambda: nearest.build_index(dataset, source) if source else None)
    if index is None:
        return {
            "source": None,
            "items": [],
            "note": "Compute the embedding map (Suggestions & jobs) or cross-validate a model "
            "to see this item's nearest neighbours.",
        }
    picked = index.nearest(item_id, N_NEIGHBOURS)
    if picked is None:
        return {
            "source": index.description,
            "items": [],
            "note": f"This item is not in the {index.description}.",
        }
    # Their labels from a layer the user may see: the default one, or (blind) their own.
    layer = _label_layer(who.viewer, visible)
    labels: dict[int, dict[str, Any]] = {}
    if layer is not None:
        current = current_labels_of(dataset.store, dataset.id, picked, [layer.id])
        labels = {i: per[layer.id] for i, per in current.items()}
    rows = {r["id"]: r for r in reads.items_by_ids(dataset.store, dataset.id, picked)}
    items = []
    for i in picked:
        row = rows[i]
        public = public_item(row, media_url(dataset.name, i))
        text = public.get("text")
        items.append(
            {
                "id": i,
                "key": public["key"],
                "media_url": public["media_url"],
                "text": text[:SNIPPET] if isinstance(text, str) else None,
                "label": labels.get(i, {}).get("label"),
                "value": labels.get(i, {}).get("value"),
            }
        )
    return {
        "source": index.description,
        "layer": layer.name if layer else None,
        "items": items,
        "note": None,
    }


def _label_layer(viewer: Viewer, visible: list[Any]) -> Any:
    if viewer.blind:
        return next((r for r in visible if viewer.owns(r)), None)
    by_name = {r.name: r for r in visible}
    return by_name.get(filters.DEFAULT_LAYER) or next(iter(visible), None)
