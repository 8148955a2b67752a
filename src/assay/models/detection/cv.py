"""Detector runs on a box layer: out-of-fold boxes (``assay predict --cv K``), a trained
detector (``assay train``) and its predictions (``assay predict --run``).

A cross-validation pins the box layer's labels with a snapshot (as every run does), splits
the labeled images into K folds and has each fold's images boxed by a detector trained on
the other folds, so each labeled image gets boxes from a model that never saw its labels
(what label-quality checks need). Images of the slice without a label in the layer are boxed
by a detector trained on every labeled image. The boxes, each with its ``score``, go into a
``model`` layer of kind ``boxes`` named after the run, written in the transaction that marks
the run done: a failed run leaves no half-written layer.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from assay.errors import InvalidParameter
from assay.labels.kinds.boxes import match_boxes
from assay.models import artifacts, runs
from assay.models.detection.base import (
    DETECTORS,
    load_images,
    make_detector,
    resolve_detector,
)
from assay.models.specs import CrossValidateSpec, TrainSpec
from assay.progress import ProgressCallback, no_progress
from assay.store import filters, queries
from assay.store import schema as t

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from assay.handle import DatasetHandle as Dataset

#: Predicted boxes scored at least this count in a run's F1 (the layer keeps lower ones).
METRIC_SCORE = 0.5
METRIC_IOU = 0.5


@dataclass(frozen=True)
class BoxPredictions:
    """A detector run's boxes for a set of items (``boxes[i]`` for ``item_ids[i]``)."""

    run: str
    item_ids: np.ndarray
    boxes: list[list[dict[str, Any]]]
    layer: str | None = None


def is_box_layer(ds: Dataset, layer: str) -> bool:
    """True when ``layer`` holds boxes (LayerNotFound when there is no such layer)."""
    with ds.store.read() as conn:
        return str(queries.get_layer(conn, ds.id, layer).value_kind) == "boxes"


def check_fits(ds: Dataset, spec: TrainSpec, *, dask: Any = None) -> bool:
    """Whether ``spec`` is a detector run (its layer holds boxes); InvalidParameter when an
    option of the other family is given: a classifier, a featurizer, a search or Dask for a
    box layer, a detector for a class layer."""
    boxes = is_box_layer(ds, spec.layer)
    if not boxes:
        if isinstance(spec.model, str) and spec.model in DETECTORS:
            raise InvalidParameter(
                f"--model {spec.model} is a detector, but layer {spec.layer!r} holds one class "
                "per item: learn it with a classifier (auto, logreg, hgb, cnn)."
            )
        return False
    where = f"Layer {spec.layer!r} holds boxes"
    if spec.model != "auto" and not (isinstance(spec.model, str) and spec.model in DETECTORS):
        shown = spec.model if isinstance(spec.model, str) else type(spec.model).__name__
        raise InvalidParameter(
            f"{where}: --model {shown} is a classifier; use a detector: "
            f"{', '.join(DETECTORS)} or auto."
        )
    if spec.featurizer != "auto":
        raise InvalidParameter(
            f"{where}: --featurizer is for classifiers; a detector reads the pixels itself."
        )
    if spec.search_seconds is not None:
        raise InvalidParameter(
            f"{where}: --search-seconds searches classifier parameters; give a detector's "
            "with --param (e.g. --param epochs=20)."
        )
    if dask is not None:
        raise InvalidParameter(f"{where}: --dask trains classifier folds; detectors run here.")
    return True


def snapshot_boxes(
    conn: Connection, dataset_id: int, snapshot_id: int, layer: str, filter: str | None
) -> tuple[list[int], list[list[dict[str, Any]]]]:
    """(item ids ascending, their box lists) of ``layer`` in the snapshot, for the slice."""
    layer_id = queries.get_layer(conn, dataset_id, layer).id
    sl, lab = t.snapshot_labels.c, t.labels.c
    query = (
        sa.select(sl.item_id, lab.value)
        .join(t.labels, lab.id == sl.label_id)
        .where(sl.snapshot_id == snapshot_id, sl.layer_id == layer_id, lab.value.is_not(None))
    )
    where = filters.compile_filter(conn, dataset_id, filter)
    if where is not None:
        query = query.join(t.items, t.items.c.id == sl.item_id).where(where)
    ids: list[int] = []
    values: list[list[dict[str, Any]]] = []
    for item_id, value in conn.execute(query.order_by(sl.item_id)):
        ids.append(int(item_id))
        values.append(list(value or []))
    return ids, values


def _slice_images(conn: Connection, dataset_id: int, filter: str | None) -> list[int]:
    """The image items of the slice, by id."""
    i = t.items.c
    query = sa.select(i.id).where(i.dataset_id == dataset_id, i.kind == "image")
    where = filters.compile_filter(conn, dataset_id, filter)
    if where is not None:
        query = query.where(where)
    return [int(v) for v in conn.execute(query.order_by(i.id)).scalars()]


def _fit(detector: Any, images: list[np.ndarray], boxes: Sequence[Any], classes: list[str],
         report: ProgressCallback, what: str) -> Any:  # fmt: skip
    """Fit, passing epoch progress to detectors that report it."""
    if "progress" in inspect.signature(detector.fit).parameters:
        return detector.fit(images, boxes, classes,
                            progress=lambda d, n, _m: report(d, n, what))  # fmt: skip
    report(0, None, what)
    return detector.fit(images, boxes, classes)


def box_scores(
    predicted: Sequence[Sequence[Mapping[str, Any]]],
    truth: Sequence[Sequence[Mapping[str, Any]]],
    *,
    min_score: float = METRIC_SCORE,
    min_iou: float = METRIC_IOU,
) -> dict[str, float | int]:
    """Matched precision, recall and F1: a predicted box (scored at least ``min_score``) is
    right when the Hungarian matching pairs it with a true box at IoU >= ``min_iou`` and of
    its class."""
    tp = n_pred = n_true = 0
    for pred, true in zip(predicted, truth, strict=True):
        kept = [b for b in pred if b.get("score", 1.0) >= min_score]
        pairs = match_boxes(kept, list(true), min_iou=min_iou)
        tp += sum(1 for i, j, _ in pairs if kept[i]["class"] == true[j]["class"])
        n_pred += len(kept)
        n_true += len(true)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "n_true": n_true,
            "n_predicted": n_pred}  # fmt: skip


def _detector_name(spec: TrainSpec) -> str:
    name = resolve_detector(spec.model)
    make_detector(name, seed=spec.seed, params=spec.params)  # bad parameters fail up front
    return name


def cross_validate(
    ds: Dataset, spec: CrossValidateSpec, *, progress: ProgressCallback | None = None
) -> dict[str, Any]:
    """Out-of-fold boxes for every labeled image of the slice (and boxes from a detector
    trained on all of them for the slice's unlabeled images), into a box model layer named
    after the run. Returns the run."""
    from sklearn.model_selection import KFold

    from assay.models.pipeline import recorded_run, run

    report = progress or no_progress
    name = _detector_name(spec)
    folds = spec.folds
    with recorded_run(
        ds, name=spec.name, kind="cv", model=name, params=dict(spec.params or {}),
        featurizer=None, layer=spec.layer, filter=spec.filter, folds=folds, seed=spec.seed,
        makes_layer=True,
    ) as (run_id, run_name):  # fmt: skip
        snapshot_id = runs.pin_labels(ds, run_id, run_name, spec.layer)
        with ds.store.read() as conn:
            ids, truth = snapshot_boxes(conn, ds.id, snapshot_id, spec.layer, spec.filter)
            labeled = set(ids)
            others = [i for i in _slice_images(conn, ds.id, spec.filter) if i not in labeled]
            classes = [c.name for c in queries.list_classes(conn, ds.id)]
        if len(ids) < folds:
            raise InvalidParameter(
                f"{len(ids)} image(s) of the slice have boxes in {spec.layer!r}: too few for "
                f"{folds} folds. Label more images, or use fewer folds (--cv)."
            )
        report(0, None, f"reading {len(ids) + len(others)} images")
        with ds.store.read() as conn:
            images = load_images(conn, ds.id, ids)
            other_images = load_images(conn, ds.id, others) if others else []
        started = time.perf_counter()
        predicted: list[list[dict[str, Any]]] = [[] for _ in ids]
        splitter = KFold(n_splits=folds, shuffle=True, random_state=spec.seed)
        for k, (train, test) in enumerate(splitter.split(np.arange(len(ids)))):
            detector = make_detector(name, seed=spec.seed + k, params=spec.params)
            _fit(detector, [images[i] for i in train], [truth[i] for i in train], classes,
                 report, f"fold {k + 1} of {folds}: training {name}")  # fmt: skip
            for i, boxes in zip(test, detector.predict([images[i] for i in test]), strict=True):
                predicted[int(i)] = boxes
        extra: list[list[dict[str, Any]]] = []
        if others:
            detector = make_detector(name, seed=spec.seed, params=spec.params)
            _fit(detector, images, truth, classes, report,
                 f"training {name} on every labeled image")  # fmt: skip
            extra = detector.predict(other_images)
        scores = box_scores(predicted, truth)
        metrics = {
            "n_items": len(ids),
            "n_unlabeled": len(others),
            "n_boxes": sum(len(b) for b in truth),
            "n_predicted_boxes": sum(len(b) for b in predicted) + sum(len(b) for b in extra),
            "oof_precision": scores["precision"],
            "oof_recall": scores["recall"],
            "oof_f1": scores["f1"],
            "metric": f"matched at IoU >= {METRIC_IOU} and score >= {METRIC_SCORE}, same class",
            "fit_seconds": time.perf_counter() - started,
            "model": name,
            "value_kind": "boxes",
        }
        report(0, None, "writing predictions")
        runs.finish_run(
            ds, run_id, metrics=metrics, layer=run_name, item_ids=np.asarray(ids + others),
            boxes=predicted + extra, params=dict(spec.params or {}),
        )  # fmt: skip
    return run(ds, run_name)


def train(
    ds: Dataset, spec: TrainSpec, *, progress: ProgressCallback | None = None
) -> dict[str, Any]:
    """Fit one detector on every labeled image of the slice and save it as a run (predict
    new images with :func:`predict`)."""
    from assay.models.pipeline import _artifact_files, _relative, recorded_run, run

    report = progress or no_progress
    name = _detector_name(spec)
    with recorded_run(
        ds, name=spec.name, kind="train", model=name, params=dict(spec.params or {}),
        featurizer=None, layer=spec.layer, filter=spec.filter, folds=None, seed=spec.seed,
        makes_layer=False,
    ) as (run_id, run_name):  # fmt: skip
        snapshot_id = runs.pin_labels(ds, run_id, run_name, spec.layer)
        with ds.store.read() as conn:
            ids, truth = snapshot_boxes(conn, ds.id, snapshot_id, spec.layer, spec.filter)
            classes = [c.name for c in queries.list_classes(conn, ds.id)]
            images = load_images(conn, ds.id, ids)
        if not ids:
            raise InvalidParameter(f"No image of the slice has boxes in {spec.layer!r}.")
        started = time.perf_counter()
        detector = make_detector(name, seed=spec.seed, params=spec.params)
        _fit(detector, images, truth, classes, report, f"training {name}")
        scores = box_scores(detector.predict(images), truth)
        path = _artifact_files(ds, run_id)[0]
        artifacts.save({"detector": detector, "classes": classes, "kind": "boxes"}, path)
        metrics = {
            "n_train": len(ids),
            "n_boxes": sum(len(b) for b in truth),
            "train_f1": scores["f1"],
            "fit_seconds": time.perf_counter() - started,
            "model": name,
            "value_kind": "boxes",
        }
        runs.finish_run(ds, run_id, metrics=metrics, artifact_path=_relative(ds, path))
    return run(ds, run_name)


def is_detector_run(row: Any) -> bool:
    """True for a run of a built-in detector."""
    return str(row.model) in DETECTORS


def predict(
    ds: Dataset,
    run_name: str,
    filter: str | None = None,
    *,
    item_ids: Sequence[int] | np.ndarray | None = None,
    into_layer: str | None = None,
    write: bool = True,
) -> BoxPredictions:
    """Box the images of a slice with a trained detector run; write them into the box model
    layer ``into_layer`` (default: the run's name) unless ``write`` is False."""
    from assay.models.pipeline import load_model

    with ds.store.read() as conn:
        row = runs.get_run(conn, ds.id, run_name)
    payload = load_model(ds, row)
    with ds.store.read() as conn:
        ids = (
            [int(i) for i in item_ids]
            if item_ids is not None
            else _slice_images(conn, ds.id, filter)
        )
        images = load_images(conn, ds.id, ids)
    boxes = payload["detector"].predict(images) if ids else []
    layer = None
    if write and ids:
        layer = into_layer or run_name
        with ds.store.write() as conn:
            exists = conn.execute(
                sa.select(t.layers.c.id).where(
                    t.layers.c.dataset_id == ds.id, t.layers.c.name == layer
                )
            ).first()
            runs.write_box_predictions(conn, ds.id, layer, ids, boxes, run_name,
                                       create=exists is None)  # fmt: skip
    return BoxPredictions(run_name, np.asarray(ids, dtype=np.int64), boxes, layer)
