"""``ds.models``: features, training, cross-validation, predictions and evaluation."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from assay.errors import InvalidParameter
from assay.models import features as _features
from assay.models import number_models, pipeline, runs
from assay.models.detection import cv as detection
from assay.models.detection.cv import BoxPredictions
from assay.models.features import Features
from assay.models.pipeline import Predictions
from assay.models.specs import CrossValidateSpec, TrainSpec
from assay.progress import ProgressCallback

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset


class DatasetModels:
    """Models of one dataset. Get it with ``dataset.models``.

    Examples
    --------
    >>> cv = ds.models.cross_validate(folds=5)  # doctest: +SKIP
    >>> cv = ds.models.cross_validate(CrossValidateSpec(folds=5))  # doctest: +SKIP
    >>> ds.models.evaluate(cv["name"], coverage=0.9)["accuracy"]  # doctest: +SKIP
    >>> run = ds.models.train(filter="split=train")  # doctest: +SKIP
    >>> ds.models.predict(run["name"], "split=test")  # doctest: +SKIP
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __repr__(self) -> str:
        return f"<DatasetModels of {self.dataset.name!r}>"

    # -- features --------------------------------------------------------------------------

    def features(
        self,
        filter: str | None = None,
        *,
        featurizer: str = "auto",
        item_ids: Sequence[int] | np.ndarray | None = None,
        progress: ProgressCallback | None = None,
    ) -> Features:
        """Feature vectors of the slice (computed once per item version, then cached)."""
        return _features.featurize(
            self.dataset, filter, featurizer=featurizer, item_ids=item_ids, progress=progress
        )

    def import_features(
        self,
        path: str | os.PathLike[str],
        *,
        name: str,
        ids: str | os.PathLike[str] | Sequence[int | str] | None = None,
        key_column: str = "key",
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Import your own embeddings (.npy + ids, or Parquet with a key column) as ``name``."""
        return _features.import_features(
            self.dataset, path, name=name, ids=ids, key_column=key_column, progress=progress
        )

    def feature_sets(self) -> list[dict[str, Any]]:
        """The cached and imported feature sets, newest first."""
        return _features.feature_sets(self.dataset)

    # -- runs ------------------------------------------------------------------------------

    def train(
        self,
        spec: TrainSpec | None = None,
        /,
        *,
        progress: ProgressCallback | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Fit a model on the labels of a layer in a slice and save it as a run.

        ``spec`` (:class:`assay.models.specs.TrainSpec`) or its fields as keywords say what
        to fit: ``name``, ``model`` (a name or an unfitted estimator), ``layer``, ``filter``,
        ``params``, ``search_seconds``, ``featurizer``, ``seed``; their defaults and bounds
        are the spec's (InvalidParameter for a bad one). A box layer is learned by a detector
        (``model``: ``centernet``, ``components`` or ``auto``; see
        :mod:`assay.models.detection`).

        Returns
        -------
        dict
            The run (see :meth:`run`).
        """
        checked = TrainSpec.of(spec, **options)
        if detection.check_fits(self.dataset, checked):
            return detection.train(self.dataset, checked, progress=progress)
        return pipeline.train(self.dataset, checked, progress=progress)

    def cross_validate(
        self,
        spec: CrossValidateSpec | None = None,
        /,
        *,
        progress: ProgressCallback | None = None,
        dask: Any = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Out-of-fold probabilities for every labeled item of the slice.

        ``folds`` models are trained on stratified folds, so each item is predicted by a
        model that never saw it (what label-quality methods need). The probabilities go to a
        ``model`` layer named after the run (label = argmax); the run records the snapshot of
        ``layer`` it learned from. ``dask`` (a scheduler address or a Client) trains the folds
        on a Dask cluster, with the same result. ``spec``
        (:class:`assay.models.specs.CrossValidateSpec`) or its fields as keywords: those of
        :meth:`train` and ``folds``.

        For a box layer (``value_kind="boxes"``), a detector gives every labeled image
        out-of-fold boxes with a ``score`` (and the slice's unlabeled images boxes from a
        detector trained on all of them), into a box model layer named after the run (see
        :mod:`assay.models.detection.cv`); classifier options are refused there.
        """
        checked = CrossValidateSpec.of(spec, **options)
        if number_models.check_fits(self.dataset, checked):  # a regressor for a number layer
            return number_models.cross_validate(self.dataset, checked, progress=progress)
        if detection.check_fits(self.dataset, checked, dask=dask):
            return detection.cross_validate(self.dataset, checked, progress=progress)
        return pipeline.cross_validate(self.dataset, checked, progress=progress, dask=dask)

    def predict(
        self,
        run: str,
        filter: str | Sequence[int] | None = None,
        *,
        into_layer: str | None = None,
        write: bool = True,
        progress: ProgressCallback | None = None,
    ) -> Predictions | BoxPredictions:
        """Predict with trained run ``run`` on a slice: a filter string or a list of item ids.

        The predictions are written to the model layer ``into_layer`` (default: the run's
        name) unless ``write`` is False. A detector's run gives :class:`BoxPredictions`
        (scored boxes per image, into a box model layer).
        """
        item_ids = None
        if filter is not None and not isinstance(filter, str):
            item_ids, filter = np.asarray(list(filter), dtype=np.int64), None
        with self.dataset.store.read() as conn:
            row = runs.get_run(conn, self.dataset.id, run)
        if detection.is_detector_run(row):
            return detection.predict(
                self.dataset, run, filter, item_ids=item_ids, into_layer=into_layer, write=write
            )
        return pipeline.predict(
            self.dataset, run, filter, item_ids=item_ids, into_layer=into_layer, write=write,
            progress=progress,
        )  # fmt: skip

    def evaluate(
        self, run_or_layer: str, filter: str | None = None, **options: Any
    ) -> dict[str, Any]:
        """Metrics of a run (or any model layer) against ``reference_layer`` on the slice.

        Returns per-class precision/recall/F1, accuracy, log loss, a reliability curve with
        the expected calibration error, the confusion matrix with the items of each cell, the
        errors sorted by loss and conformal prediction sets at ``coverage`` (cross-conformal,
        see :mod:`assay.models.conformal`) with their empirical coverage and mean size.
        ``options`` (``reference_layer``, ``coverage``, ``top_errors``, ``max_cell_items``,
        ``seed``) and their defaults are those of :func:`assay.models.pipeline.evaluate`.

        Predictions of another annotation kind get that kind's measures from
        :mod:`assay.models.kind_evaluation` (boxes: COCO's mAP, per-class AP, PR curves, false
        positives and negatives at ``score_threshold``, see
        :func:`assay.models.box_evaluation.evaluate_source`); the classification-only options
        are ignored there.
        """
        from assay.models import kind_evaluation

        with self.dataset.store.read() as conn:
            evaluate = kind_evaluation.evaluator_for(conn, self.dataset.id, run_or_layer)
        if evaluate is not None:
            for name in kind_evaluation.CLASS_ONLY_OPTIONS:
                options.pop(name, None)
            return evaluate(self.dataset, run_or_layer, filter, **options)
        if options.pop("score_threshold", None) is not None:
            raise InvalidParameter(
                f"A score threshold applies to predicted boxes; {run_or_layer!r} predicts classes."
            )
        return pipeline.evaluate(self.dataset, run_or_layer, filter, **options)

    def runs(self) -> list[dict[str, Any]]:
        """Every model run of the dataset, newest first."""
        with self.dataset.store.read() as conn:
            return runs.list_runs(conn, self.dataset.id)

    def run(self, name: str) -> dict[str, Any]:
        """One run: name, kind, state, model, params, metrics, snapshot_id, layer, error..."""
        return pipeline.run(self.dataset, name)
