"""Suggestions for box layers: which images to box next, from a model's predicted boxes.

The pool is every image of the slice with no current label in the target box layer (never
annotated, or cleared; ``[]`` counts as annotated: someone looked and found nothing). The
``box-uncertainty`` strategy ranks it by how unsure a predictions layer (a model box layer whose
boxes carry a ``score``) is about each image, from the scores alone (no features, no model to
train), so it costs one streamed read of the two layers:

* each predicted box's uncertainty is ``1 - |2 score - 1|`` (1 at 0.5, 0 at 0 or 1); boxes whose
  score lies in the middle band ``[BAND_LOW, BAND_HIGH]`` weigh ``BAND_WEIGHT`` times as much in
  the image's weighted mean, so a few borderline boxes are not drowned by many sure ones;
* "is anything there?": the uncertainty of the image's best score, so an image whose most
  confident box is still borderline ranks high even with few boxes;
* the image's score is the larger of the two. An image the model left empty (``[]``) is one
  it is sure has nothing (score 0); an image without predictions ranks after every predicted
  one. Ties go to the smaller item id, so the order is deterministic.

``random`` serves box layers too (the baseline). Strategies that rank by class probabilities
or features (``margin``, ``diverse``, ...) are classification's and are refused here, as
``box-uncertainty`` is refused for a classification layer.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from assay.active import strategies as st
from assay.active.pool import EmptyPool
from assay.active.ranking import Ranked
from assay.errors import InvalidParameter
from assay.stats.layer_scan import iter_layer_values
from assay.store import filters, queries

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

__all__ = [
    "BAND_HIGH",
    "BAND_LOW",
    "BAND_WEIGHT",
    "box_uncertainty",
    "rank_box_pool",
]

VALUE_KIND = "boxes"
BAND_LOW, BAND_HIGH = 0.3, 0.7
BAND_WEIGHT = 3.0
#: What serves box layers (``auto`` is box-uncertainty with a predictions layer).
FOR_BOXES = ("random", "box-uncertainty")


def box_uncertainty(scores: Sequence[float] | np.ndarray) -> tuple[float, str]:
    """How unsure a model is about one image, from its predicted boxes' scores: (score in
    [0, 1], a one-line reason)."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        return 0.0, "the model found nothing here"
    u = 1.0 - np.abs(2.0 * s - 1.0)
    band = (s >= BAND_LOW) & (s <= BAND_HIGH)
    weights = np.where(band, BAND_WEIGHT, 1.0)
    mean = float((weights * u).sum() / weights.sum())
    best = float(s.max())
    presence = 1.0 - abs(2.0 * best - 1.0)
    n_band = int(band.sum())
    noun = "box" if s.size == 1 else "boxes"
    if presence >= mean - 1e-12:  # one box: the same figure, said the simpler way
        return presence, (
            f"unsure anything is there: best score {best:.2f} ({s.size} predicted {noun})"
        )
    return mean, (
        f"{n_band} of {s.size} predicted {noun} with scores in {BAND_LOW:g}-{BAND_HIGH:g} "
        f"(uncertainty {mean:.2f})"
    )


def _predictions_layer(conn: Any, dataset_id: int, name: str | None, notes: list[str]) -> Any:
    """The predictions layer's row: the named one (a box layer), or the dataset's only model
    box layer when none is named."""
    if name:
        row = queries.get_layer(conn, dataset_id, name)
        if row.value_kind != VALUE_KIND:
            raise InvalidParameter(
                f"Predictions layer {name!r} holds {row.value_kind} labels, not boxes: name a "
                "layer of predicted boxes (e.g. a model run's layer, or imported COCO results)."
            )
        return row
    models = [
        r
        for r in queries.list_layers(conn, dataset_id)
        if r.value_kind == VALUE_KIND and r.kind == "model"
    ]
    if len(models) != 1:
        found = ", ".join(r.name for r in models) or "none"
        raise InvalidParameter(
            "box-uncertainty ranks images by a model's predicted boxes: name the predictions "
            f"layer with --predictions (model box layers here: {found})."
        )
    notes.append(f"Predictions from layer {models[0].name!r}, the only model box layer.")
    return models[0]


def rank_box_pool(
    ds: Dataset,
    layer: str,
    *,
    strategy: str = "auto",
    predictions: str | None = None,
    batch: int = 20,
    filter: str | None = None,
    seed: int = 0,
) -> Ranked:
    """Rank the images of the slice ``filter`` that box layer ``layer`` has not annotated, and
    pick ``batch`` of them (see the module's docstring).

    Raises
    ------
    LayerNotFound
        No such layer (target or predictions).
    EmptyPool
        Every image of the slice is annotated in ``layer``.
    InvalidParameter
        Not a box layer, a strategy that does not fit, no predictions layer to rank by.
    """
    notes: list[str] = []
    with ds.store.read() as conn:
        row = queries.get_layer(conn, ds.id, layer)
        if row.value_kind != VALUE_KIND:
            raise InvalidParameter(f"Layer {layer!r} is not a box layer.")
        if strategy not in ("auto", *FOR_BOXES):
            raise InvalidParameter(
                f"Strategy {strategy!r} does not rank box layers: use auto, {', '.join(FOR_BOXES)}."
            )
        chosen = "box-uncertainty" if strategy == "auto" else strategy
        pred = None
        if chosen == "box-uncertainty":
            pred = _predictions_layer(conn, ds.id, predictions, notes)
        where = filters.compile_filter(conn, ds.id, filter)
        pool: list[int] = []
        n_labeled = 0
        for rows in iter_layer_values(conn, ds.id, int(row.id), where=where):
            for item_id, _, _, value in rows:
                if value is None:
                    pool.append(int(item_id))
                else:
                    n_labeled += 1
        predicted: dict[int, list[float]] = {}
        if pred is not None and pool:
            wanted = set(pool)
            for rows in iter_layer_values(
                conn, ds.id, int(pred.id), where=where, annotated_only=True
            ):
                for item_id, _, _, value in rows:
                    if int(item_id) in wanted and value is not None:
                        boxes = orjson.loads(value) if isinstance(value, str | bytes) else value
                        predicted[int(item_id)] = [float(b.get("score", 1.0)) for b in boxes]
    if not pool:
        raise EmptyPool(
            f"Nothing left to suggest: all {n_labeled} images are annotated in box layer "
            f"{layer!r}. Pick another layer or a wider filter."
        )
    if batch > len(pool):
        notes.append(
            f"The batch ({batch}) is larger than the pool of images not annotated "
            f"({len(pool)}): suggesting all {len(pool)}."
        )
        batch = len(pool)
    ids = np.asarray(pool, dtype=np.int64)
    if chosen == "random":
        order = np.random.default_rng(seed).permutation(len(ids))[:batch]
        scores = np.zeros(batch)
        reasons = ["random pick"] * batch
    else:
        assert pred is not None
        scores_all = np.zeros(len(ids))
        has = np.zeros(len(ids), dtype=bool)
        why: dict[int, str] = {}
        for pos, item in enumerate(pool):
            found = predicted.get(item)
            if found is not None:
                scores_all[pos], why[pos] = box_uncertainty(found)
                has[pos] = True
        missing = int((~has).sum())
        if missing:
            notes.append(
                f"{missing} of the {len(pool)} images not annotated have no predictions in "
                f"layer {pred.name!r}: they come last, by id."
            )
        # Predicted images first, most uncertain first, ties (and unpredicted) by item id.
        order = np.lexsort((ids, -scores_all, ~has))[:batch]
        scores = scores_all[order]
        reasons = [
            why.get(int(p), f"no predictions in layer {pred.name!r}") for p in order.tolist()
        ]
    for note in notes:
        if not note.startswith("Predictions from"):
            warnings.warn(note, UserWarning, stacklevel=3)
    selection = st.Selection(chosen, order.astype(np.int64), scores.astype(np.float64), reasons)
    return Ranked(
        selection,
        ids[order],
        chosen,
        None if pred is None else str(pred.name),
        len(pool),
        n_labeled,
        notes,
    )
