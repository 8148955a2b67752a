"""The conformal prediction set of one item, from what a model run has stored.

The item page shows, for the newest finished run with a model layer, the set of classes that
holds the item's true class with probability ``coverage`` (split conformal, crepes). The
calibration uses the run's stored probabilities of the items labeled in its reference layer
(the layer it trained on, else ``ground_truth``): nothing is trained or featurized, and a
:class:`Calibration` is immutable, so a caller may keep it while the data version holds.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from assay.labels.kinds import DEFAULT_KIND
from assay.labels.load import load_matrix
from assay.models import runs as model_runs
from assay.models.conformal import fit_calibrator, predict_sets
from assay.store import filters, queries

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset


@dataclass(frozen=True)
class Source:
    """Which run's predictions (its model layer) are calibrated against which layer."""

    run: str
    layer: str
    reference: str


@dataclass(frozen=True)
class Calibration:
    """A fitted conformal calibrator of a model layer's probabilities."""

    source: Source
    classifier: Any
    classes: list[str]
    n_calibration: int

    def item_set(self, dataset: Dataset, item_id: int, coverage: float) -> dict[str, Any] | None:
        """The item's prediction set at ``coverage`` (None when the layer has no class
        probabilities for it)."""
        with dataset.store.read() as conn:
            probs = model_runs.item_probs(conn, dataset.id, self.source.layer, item_id)
        if probs is None or len(probs) != len(self.classes):
            return None
        row = np.asarray([probs], dtype=float)
        members = predict_sets(self.classifier, row, coverage=coverage)[0]
        return {
            "run": self.source.run,
            "layer": self.source.layer,
            "reference_layer": self.source.reference,
            "coverage": coverage,
            "set": [self.classes[k] for k in np.flatnonzero(members)],
            "n_calibration": self.n_calibration,
        }


def newest_source(dataset: Dataset, visible: Collection[str]) -> Source | None:
    """The newest finished run of class probabilities whose model layer and reference layer
    are both in ``visible`` (the layers the asker may see), or None. Runs of other kinds
    (boxes) have no prediction set."""
    with dataset.store.read() as conn:
        all_runs = model_runs.list_runs(conn, dataset.id)
        classes = {
            r.name for r in queries.list_layers(conn, dataset.id) if r.value_kind == DEFAULT_KIND
        }
    run = next(
        (
            r
            for r in all_runs
            if r["state"] == "done" and r.get("layer") in visible and r.get("layer") in classes
        ),
        None,
    )
    if run is None:
        return None
    reference = str(run.get("train_layer") or filters.DEFAULT_LAYER)
    if reference not in visible:
        return None
    return Source(str(run["name"]), str(run["layer"]), reference)


def calibrate(dataset: Dataset, source: Source) -> Calibration | None:
    """A calibrator of the source layer's labeled items (None with too few of them)."""
    with dataset.store.read() as conn:
        ids, probs = model_runs.layer_probs(conn, dataset.id, source.layer, None)
        matrix = load_matrix(conn, dataset.id, [source.reference])
    codes = dict(zip(matrix.item_ids.tolist(), matrix.codes[:, 0].tolist(), strict=True))
    # The matrix's class codes follow the dataset's classes, as the probabilities' columns do.
    labels = np.array([codes.get(int(i), -1) for i in ids], dtype=np.int64)
    keep = labels >= 0
    classifier = fit_calibrator(probs[keep], labels[keep])
    if classifier is None:
        return None
    return Calibration(source, classifier, list(matrix.classes), int(keep.sum()))
