"""What the models make of one item, for the item page and its API twin: every model layer's
prediction with its probabilities, the conformal prediction set of the newest model run, and
the item's nearest neighbours.

Each piece reads what is already stored; nothing is trained or featurized inside a request.
The conformal calibration (the hinge scores of the run's labeled items) and the neighbour
index are built once per data version and kept in the app's cache, so an item page stays a
few milliseconds after the first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sqlalchemy as sa

from assay.access import Viewer
from assay.dataset import Dataset
from assay.models import runs as model_runs
from assay.store import filters
from assay.store import schema as t
from assay.web import data
from assay.web.auth import Principal
from assay.web.state import AppState
from assay.web.urls import media_url

TOP_K = 5
N_NEIGHBOURS = 8
COVERAGE = 0.9
MAX_INDEX = 200_000  # vectors kept in a neighbour index in memory; larger sets use the map
SNIPPET = 120


def insights(state: AppState, who: Principal, dataset: Dataset, item_id: int) -> dict[str, Any]:
    """Predictions, the conformal set and the neighbours of one item (see the module doc)."""
    data.get_item(dataset, item_id)  # ItemNotFound (404) for another dataset's id
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
    h, lb, c = t.label_heads.c, t.labels.c, t.classes.c
    with dataset.store.read() as conn:
        rows = {
            r.layer_id: r
            for r in conn.execute(
                sa.select(h.layer_id, c.name.label("label"), lb.probs, lb.confidence)
                .join(t.labels, lb.id == h.label_id)
                .outerjoin(t.classes, c.id == h.class_id)
                .where(h.item_id == item_id, h.layer_id.in_([r.id for r in layers]))
            )
        }
    out = []
    for layer in layers:
        row = rows.get(layer.id)
        if row is None or row.label is None:
            continue
        top: list[dict[str, Any]] = []
        probs = row.probs if isinstance(row.probs, list) else None
        if probs and len(probs) == len(classes):
            order = np.argsort(-np.asarray(probs, dtype=float), kind="stable")[:TOP_K]
            top = [{"label": classes[k], "p": float(probs[k])} for k in order]
        out.append(
            {"layer": layer.name, "label": row.label, "confidence": row.confidence, "top": top}
        )
    return out


def conformal_set(
    state: AppState, dataset: Dataset, item_id: int, visible: set[str]
) -> dict[str, Any] | None:
    """The item's prediction set at COVERAGE from the newest finished run with a model layer,
    calibrated (split conformal, crepes) on that run's labeled items; None without one."""
    run = next(
        (
            r
            for r in dataset.models.runs()
            if r["state"] == "done" and r.get("layer") and r["layer"] in visible
        ),
        None,
    )
    if run is None:
        return None
    layer = str(run["layer"])
    reference = str(run.get("train_layer") or filters.DEFAULT_LAYER)
    if reference not in visible:
        return None
    key = ("item-conformal", dataset.id, layer, reference, data.data_version(dataset))
    calibrated = state.stats.get(key, lambda: _calibrate(dataset, layer, reference))
    if calibrated is None:
        return None
    classifier, classes, n_cal = calibrated
    with dataset.store.read() as conn:
        probs = model_runs.item_probs(conn, dataset.id, layer, item_id)
    if probs is None or len(probs) != len(classes):
        return None
    from assay.models.conformal import predict_sets

    members = predict_sets(classifier, np.asarray([probs], dtype=float), coverage=COVERAGE)[0]
    return {
        "run": run["name"],
        "layer": layer,
        "reference_layer": reference,
        "coverage": COVERAGE,
        "set": [classes[k] for k in np.flatnonzero(members)],
        "n_calibration": n_cal,
    }


def _calibrate(dataset: Dataset, layer: str, reference: str) -> tuple[Any, list[str], int] | None:
    """A conformal calibrator of the layer's labeled items (None with too few of them)."""
    from assay.models.conformal import fit_calibrator

    with dataset.store.read() as conn:
        ids, probs = model_runs.layer_probs(conn, dataset.id, layer, None)
    matrix = dataset.label_matrix([reference])
    codes = dict(zip(matrix.item_ids.tolist(), matrix.codes[:, 0].tolist(), strict=True))
    # The matrix's class codes follow the dataset's classes, as the probabilities' columns do.
    labels = np.array([codes.get(int(i), -1) for i in ids], dtype=np.int64)
    keep = labels >= 0
    classifier = fit_calibrator(probs[keep], labels[keep])
    if classifier is None:
        return None
    return classifier, list(matrix.classes), int(keep.sum())


def neighbours(
    state: AppState, who: Principal, dataset: Dataset, item_id: int, visible: list[Any]
) -> dict[str, Any]:
    """The item's nearest items: in the newest cached feature vectors when there are at most
    MAX_INDEX of them, else in the newest embedding map's 2-D points; with neither, a note."""
    source = _source(dataset)
    key = ("item-neighbours", dataset.id, source[1:] if source else None)
    found = state.stats.get(key, lambda: _index(source))
    if found is None:
        return {
            "source": None,
            "items": [],
            "note": "Compute the embedding map (Suggestions & jobs) or cross-validate a model "
            "to see this item's nearest neighbours.",
        }
    source, ids, points, tree = found
    where = np.searchsorted(ids, item_id)
    if where >= len(ids) or ids[where] != item_id:
        return {"source": source, "items": [], "note": f"This item is not in the {source}."}
    k = min(N_NEIGHBOURS + 1, len(ids))
    _, near = tree.kneighbors(points[where : where + 1], n_neighbors=k)
    picked = [int(ids[j]) for j in near[0] if int(ids[j]) != item_id][:N_NEIGHBOURS]
    # Their labels from a layer the user may see: the default one, or (blind) their own.
    layer = _label_layer(who.viewer, visible)
    labels: dict[int, str] = _labels_in(dataset, layer.id, picked) if layer is not None else {}
    rows = {r["id"]: r for r in data.items_by_ids(dataset, picked)}
    items = []
    for i in picked:
        row = rows[i]
        public = data.public_item(row, media_url(dataset.name, i))
        text = public.get("text")
        items.append(
            {
                "id": i,
                "key": public["key"],
                "media_url": public["media_url"],
                "text": text[:SNIPPET] if isinstance(text, str) else None,
                "label": labels.get(i),
            }
        )
    return {"source": source, "layer": layer.name if layer else None, "items": items, "note": None}


def _label_layer(viewer: Viewer, visible: list[Any]) -> Any:
    if viewer.blind:
        return next((r for r in visible if viewer.owns(r)), None)
    by_name = {r.name: r for r in visible}
    return by_name.get(filters.DEFAULT_LAYER) or next(iter(visible), None)


def _labels_in(dataset: Dataset, layer_id: int, ids: list[int]) -> dict[int, str]:
    h, c = t.label_heads.c, t.classes.c
    with dataset.store.read() as conn:
        rows = conn.execute(
            sa.select(h.item_id, c.name)
            .join(t.classes, c.id == h.class_id)
            .where(h.layer_id == layer_id, h.item_id.in_(ids))
        )
        return {int(r.item_id): str(r.name) for r in rows}


def _source(dataset: Dataset) -> tuple[Dataset, str, int, str] | None:
    """Where neighbours come from: the newest stored feature set (up to MAX_INDEX vectors),
    else the newest embedding map; both are immutable, so their id is the cache key."""
    from assay.maps import latest_map
    from assay.models.features import feature_sets

    ready = [s for s in feature_sets(dataset) if s["state"] == "ready" and (s["n_items"] or 0) > 1]
    if ready and ready[0]["n_items"] <= MAX_INDEX:
        return dataset, "features", int(ready[0]["id"]), f"{ready[0]['featurizer']} feature vectors"
    found = latest_map(dataset)
    if found is None:
        return None
    return dataset, "map", int(found["map_id"]), "embedding map"


def _index(source: tuple[Dataset, str, int, str] | None) -> Any:
    """(description, item ids ascending, points, fitted NearestNeighbors) or None."""
    from sklearn.neighbors import NearestNeighbors

    from assay.maps import read_points
    from assay.models.features import read_cached_vectors

    if source is None:
        return None
    dataset, kind, ident, described = source
    if kind == "features":
        ids, X = read_cached_vectors(dataset, ident)
    else:
        ids, X = read_points(dataset, ident)
    if len(ids) < 2:
        return None
    tree = NearestNeighbors(algorithm="auto").fit(X)
    return described, np.asarray(ids, dtype=np.int64), X, tree
