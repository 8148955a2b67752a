"""What a run does: gather pinned labels and features, fit or cross-validate, save, predict.

Each function here takes a Dataset and returns plain results; ``api.DatasetModels`` is the
public face over them. Runs are recorded with :mod:`assay.models.runs`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import sqlalchemy as sa

from assay.errors import InvalidParameter
from assay.models import artifacts, runs
from assay.models.estimators import make_estimator, resolve_model
from assay.models.evaluation import evaluate_probs, log_loss
from assay.models.features import Features, featurize, resolve_featurizer
from assay.models.specs import CrossValidateSpec, TrainSpec
from assay.models.training import (
    check_training_data,
    fit_with_threads,
    oof_probs,
    plan_threads,
    probs_in_columns,
)
from assay.progress import ProgressCallback, no_progress
from assay.store import queries
from assay.store import schema as t

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset


@dataclass(frozen=True)
class TrainingData:
    """Pinned labels and their features: row ``i`` of ``features.X`` has label ``y[i]``."""

    features: Features
    y: np.ndarray
    classes: list[str]
    snapshot_id: int


@dataclass(frozen=True)
class Predictions:
    """A run's class probabilities for a set of items (columns in ``classes`` order)."""

    run: str
    item_ids: np.ndarray
    probs: np.ndarray
    classes: list[str]
    layer: str | None = None

    @property
    def labels(self) -> list[str]:
        """The predicted class (argmax) of each item."""
        return [self.classes[int(k)] for k in self.probs.argmax(axis=1)]


@contextmanager
def recorded_run(ds: Dataset, **start: Any) -> Iterator[tuple[int, str]]:
    """Start a run row; on any error mark it failed (keeping nothing half-done) and re-raise."""
    run_id, name = runs.start_run(ds, **start)
    try:
        yield run_id, name
    except BaseException as exc:
        for path in _artifact_files(ds, run_id):
            path.unlink(missing_ok=True)
        runs.fail_run(ds, run_id, exc)
        raise


def training_data(
    ds: Dataset,
    run_id: int,
    run_name: str,
    spec: TrainSpec,
    progress: ProgressCallback,
) -> TrainingData:
    """Snapshot the labels, read them back from the snapshot, and featurize those items.

    Labeled items the featurizer cannot describe (another item kind) are left out.
    """
    snapshot_id = runs.pin_labels(ds, run_id, run_name, spec.layer)
    with ds.store.read() as conn:
        ids, y = runs.snapshot_labels(conn, ds.id, snapshot_id, spec.layer, spec.filter)
        classes = [c.name for c in queries.list_classes(conn, ds.id)]
    features = featurize(ds, featurizer=spec.featurizer, item_ids=ids, progress=progress)
    keep = np.isin(ids, features.item_ids)
    return TrainingData(features.take(ids[keep]), y[keep], classes, snapshot_id)


def _artifact_files(ds: Dataset, run_id: int) -> list[Path]:
    folder = artifacts.artifact_dir(ds.project.root, "models")
    return [folder / f"{run_id}.joblib", folder / f"{run_id}.pt"]


def _relative(ds: Dataset, path: Path) -> str:
    return str(path.relative_to(ds.project.root))


def train(
    ds: Dataset, spec: TrainSpec, *, progress: ProgressCallback | None = None
) -> dict[str, Any]:
    """Fit one model on the labels of ``spec.layer`` in ``spec.filter``; save it; return the
    run."""
    report = progress or no_progress
    chosen = _check_model(ds, spec)
    with recorded_run(
        ds, name=spec.name, kind="train", model=_label(chosen), params=dict(spec.params or {}),
        featurizer=spec.featurizer, layer=spec.layer, filter=spec.filter, folds=None,
        seed=spec.seed, makes_layer=False,
    ) as (run_id, run_name):  # fmt: skip
        data = training_data(ds, run_id, run_name, spec, report)
        X, y, feats = data.features.X, data.y, data.features
        n_classes = check_training_data(X, y, n_classes=len(data.classes), class_names=data.classes)
        fit_params, search = _maybe_search(chosen, data, spec, report)
        started = time.perf_counter()
        report(0, 1, f"training {_label(chosen)}")
        estimator = make_estimator(
            chosen, params=fit_params, seed=spec.seed, kind=feats.kind,
            image_shape=feats.image_shape,
        )  # fmt: skip
        fit_with_threads(estimator, X, y, plan_threads(X)[1])
        report(1, 1, f"training {_label(chosen)}")
        path = _save_model(ds, run_id, estimator, feats, data.classes)
        train_probs = probs_in_columns(estimator, X, n_classes)
        metrics = {
            "n_train": len(y),
            "train_accuracy": float((train_probs.argmax(axis=1) == y).mean()),
            "fit_seconds": time.perf_counter() - started,
            "model": _label(chosen),
            "featurizer": feats.name,
            "n_features": feats.dim,
            **({"search": search} if search else {}),
        }
        runs.finish_run(ds, run_id, metrics=metrics, artifact_path=_relative(ds, path),
                        params=_params_of(estimator, fit_params))  # fmt: skip
    return run(ds, run_name)


def cross_validate(
    ds: Dataset,
    spec: CrossValidateSpec,
    *,
    progress: ProgressCallback | None = None,
    dask: Any = None,
) -> dict[str, Any]:
    """Out-of-fold probabilities for every labeled item, written to a model layer (the folds
    trained on a Dask cluster when ``dask`` is an address or a Client)."""
    report = progress or no_progress
    chosen = _check_model(ds, spec)
    folds = spec.folds
    with recorded_run(
        ds, name=spec.name, kind="cv", model=_label(chosen), params=dict(spec.params or {}),
        featurizer=spec.featurizer, layer=spec.layer, filter=spec.filter, folds=folds,
        seed=spec.seed, makes_layer=True,
    ) as (run_id, run_name):  # fmt: skip
        data = training_data(ds, run_id, run_name, spec, report)
        feats, y = data.features, data.y
        check_training_data(feats.X, y, folds=folds, n_classes=len(data.classes),
                            class_names=data.classes)  # fmt: skip
        fit_params, search = _maybe_search(chosen, data, spec, report)
        started = time.perf_counter()
        probs = oof_probs(
            feats.X, y, model=chosen, folds=folds, seed=spec.seed, n_classes=len(data.classes),
            progress=report, params=fit_params, kind=feats.kind, image_shape=feats.image_shape,
            class_names=data.classes, dask=dask,
        )  # fmt: skip
        pred = probs.argmax(axis=1)
        metrics = {
            "n_items": len(y),
            "oof_accuracy": float((pred == y).mean()),
            "oof_log_loss": log_loss(probs, y),
            "fit_seconds": time.perf_counter() - started,
            "model": _label(chosen),
            "featurizer": feats.name,
            "n_features": feats.dim,
            **({"search": search} if search else {}),
        }
        report(0, None, "writing predictions")
        runs.finish_run(
            ds, run_id, metrics=metrics, layer=run_name, item_ids=feats.item_ids, probs=probs,
            classes=data.classes, params=dict(fit_params or {}),
        )  # fmt: skip
    report(0, None, "evaluating")
    with suppress(InvalidParameter):  # e.g. the training layer is not classification's
        evaluate(ds, run_name, reference_layer=spec.layer)  # stored: pages open at once
    return run(ds, run_name)


def _check_model(ds: Dataset, spec: TrainSpec) -> Any:
    """The model to train (``auto`` resolved by the featurizer's item kind), checked before a
    run starts: an unknown featurizer or bad model parameters fail here."""
    with ds.store.read() as conn:
        chosen = resolve_featurizer(conn, ds.id, spec.featurizer)
    model = resolve_model(spec.model, getattr(chosen, "kind", None))
    if isinstance(model, str):
        make_estimator(model, params=spec.params)
    return model


def _maybe_search(
    model: Any, data: TrainingData, spec: TrainSpec, report: ProgressCallback
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    if spec.search_seconds is None:
        return dict(spec.params or {}), None
    from assay.models.search import search_params

    if not isinstance(model, str):
        raise InvalidParameter("A search needs a model given by name (logreg, hgb or cnn).")
    feats = data.features
    return search_params(
        model, feats.X, data.y, seconds=spec.search_seconds, n_classes=len(data.classes),
        seed=spec.seed, params=spec.params, kind=feats.kind, image_shape=feats.image_shape,
        progress=report,
    )  # fmt: skip


def _label(model: Any) -> str:
    return model if isinstance(model, str) else type(model).__name__


def _params_of(estimator: Any, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The parameters given (or found by search), JSON-able."""
    return {k: v for k, v in dict(given or {}).items() if isinstance(v, (int, float, str, bool))}


def _save_model(
    ds: Dataset, run_id: int, estimator: Any, feats: Features, classes: list[str]
) -> Path:
    """Save the fitted model (CNN weights with torch.save, others with joblib) and its
    featurizer; returns the joblib path the run records."""
    joblib_path, torch_path = _artifact_files(ds, run_id)
    payload: dict[str, Any] = {
        "classes": classes,
        "featurizer": feats.featurizer if feats.featurizer is not None else feats.name,
        "kind": feats.kind,
        "n_features": feats.dim,
    }
    if hasattr(estimator, "save") and type(estimator).__name__ == "CNNClassifier":
        estimator.save(torch_path)
        payload["model"] = None
        payload["torch_weights"] = torch_path.name
    else:
        payload["model"] = estimator
    artifacts.save(payload, joblib_path)
    return joblib_path


def load_model(ds: Dataset, row: Any) -> dict[str, Any]:
    """A done train run's saved payload: model, featurizer, classes."""
    if row.kind != "train" or row.state != "done" or not row.artifact_path:
        what = "a cross-validation" if row.kind == "cv" else f"a {row.state} {row.kind}"
        raise InvalidParameter(
            f"Run {row.name!r} is {what} run without a fitted model; train one with "
            "`assay train` (or DatasetModels.train) to predict on new items."
        )
    path = ds.project.root / row.artifact_path
    if not path.exists():
        raise InvalidParameter(
            f"The model file {row.artifact_path} of run {row.name!r} is missing from "
            f"{ds.project.root}: models are saved in the project folder of the machine that "
            "trained them. Copy .assay/models/ over, or train again here."
        )
    payload = dict(artifacts.load(path))
    if payload.get("torch_weights"):
        from assay.models.cnn import CNNClassifier

        payload["model"] = CNNClassifier.load(path.with_name(payload["torch_weights"]))
    return payload


def predict(
    ds: Dataset,
    run_name: str,
    filter: str | None = None,
    *,
    item_ids: Sequence[int] | np.ndarray | None = None,
    into_layer: str | None = None,
    write: bool = True,
    progress: ProgressCallback | None = None,
) -> Predictions:
    """Predict with a trained run on a slice; write the layer (default: the run's name)."""
    with ds.store.read() as conn:
        row = runs.get_run(conn, ds.id, run_name)
    payload = load_model(ds, row)
    feats = featurize(ds, filter, featurizer=payload["featurizer"], item_ids=item_ids,
                      progress=progress)  # fmt: skip
    estimator, classes = payload["model"], list(payload["classes"])
    expected = int(getattr(estimator, "n_features_in_", payload["n_features"]))
    if feats.dim != expected:
        raise InvalidParameter(
            f"Features of the wrong shape: {feats.dim} per item, but run {run_name!r} was "
            f"trained on {expected}. Predict with the run's featurizer ({feats.name})."
        )
    probs = (
        probs_in_columns(estimator, feats.X, len(classes))
        if len(feats.item_ids)
        else (np.zeros((0, len(classes))))
    )
    layer = None
    if write and len(feats.item_ids):
        layer = into_layer or run_name
        with ds.store.write() as conn:
            exists = conn.execute(
                sa.select(t.layers.c.id).where(
                    t.layers.c.dataset_id == ds.id, t.layers.c.name == layer
                )
            ).first()
            runs.write_predictions(conn, ds.id, layer, feats.item_ids, probs, classes, run_name,
                                   create=exists is None)  # fmt: skip
    return Predictions(run_name, feats.item_ids, probs, classes, layer)


def evaluate(
    ds: Dataset,
    source: str,
    filter: str | None = None,
    *,
    reference_layer: str = "ground_truth",
    coverage: float = 0.9,
    top_errors: int = 50,
    max_cell_items: int = 20,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics of a run or a model layer against ``reference_layer`` on the slice.

    The evaluation of a run's whole layer is stored with the run the first time it is asked
    for (or when a cross-validation finishes), and read back until a label of the model or
    the reference layer changes: a page or a command asking again costs milliseconds. Slices
    are computed each time (a filter can read anything).
    """
    from assay.models.conformal import check_coverage

    check_coverage(coverage)
    with ds.store.read() as conn:
        row = _find_run(conn, ds.id, source)
    layer = None if row is not None and row.kind == "train" else source
    if layer is not None and row is not None:
        layer = _layer_of(ds, row)
    stored: tuple[str, list[Any]] | None = None
    with ds.store.read() as conn:
        if layer is not None and row is not None and filter is None:
            key = orjson.dumps([reference_layer, coverage, top_errors, max_cell_items, seed])
            stored = key.decode(), runs.layers_version(conn, ds.id, [layer, reference_layer])
            saved = runs.saved_evaluation(conn, row.id, *stored)
            if saved is not None:
                return saved
        ref_ids, ref_codes = _reference(conn, ds.id, reference_layer, filter)
        classes = [c.name for c in queries.list_classes(conn, ds.id)]
    warning = None
    if layer is None:  # a trained run predicts afresh
        preds = predict(ds, source, filter, item_ids=ref_ids, write=False)
        ids, probs = preds.item_ids, _to_dataset_columns(preds.probs, preds.classes, classes)
        warning = _overlap_warning(ds, row, ids)
    else:
        with ds.store.read() as conn:
            ids, probs = runs.layer_probs(conn, ds.id, layer, filter)
    common, i_pred, i_ref = np.intersect1d(ids, ref_ids, return_indices=True)
    if len(common) == 0:
        raise InvalidParameter(
            f"No item of the slice has both a prediction from {source!r} and a label in "
            f"{reference_layer!r}; nothing to evaluate."
        )
    result = evaluate_probs(
        probs[i_pred], ref_codes[i_ref], common, classes, coverage=coverage,
        top_errors=top_errors, max_cell_items=max_cell_items, seed=seed,
    )  # fmt: skip
    _add_keys(ds, result["errors"])
    result.update(
        source=source, reference_layer=reference_layer, filter=filter,
        n_without_reference=int(len(ids) - len(common)), warning=warning,
    )  # fmt: skip
    if stored is not None:
        runs.save_evaluation(ds, row.id, *stored, result)
    return result


def _reference(
    conn: Any, dataset_id: int, layer: str, filter: str | None
) -> tuple[np.ndarray, np.ndarray]:
    from assay.labels.load import load_matrix

    matrix = load_matrix(conn, dataset_id, [layer], filter)
    return matrix.item_ids, matrix.codes[:, 0].astype(np.int64)


def _find_run(conn: Any, dataset_id: int, name: str) -> Any:
    r = t.model_runs.c
    return conn.execute(
        sa.select(t.model_runs).where(r.dataset_id == dataset_id, r.name == name)
    ).first()


def _layer_of(ds: Dataset, row: Any) -> str:
    if row.state != "done" or row.layer_id is None:
        raise InvalidParameter(f"Run {row.name!r} is {row.state} and has no predictions layer.")
    with ds.store.read() as conn:
        return str(
            conn.execute(
                sa.select(t.layers.c.name).where(t.layers.c.id == row.layer_id)
            ).scalar_one()
        )


def _to_dataset_columns(
    probs: np.ndarray, run_classes: list[str], classes: list[str]
) -> np.ndarray:
    out = np.zeros((len(probs), len(classes)))
    index = {c: k for k, c in enumerate(classes)}
    out[:, [index[c] for c in run_classes]] = probs
    return out


def _overlap_warning(ds: Dataset, row: Any, ids: np.ndarray) -> str | None:
    """Say so when evaluated items were in the run's training data (optimistic metrics)."""
    if row.snapshot_id is None:
        return None
    with ds.store.read() as conn:
        train_ids, _ = runs.snapshot_labels(
            conn, ds.id, row.snapshot_id, row.train_layer, row.train_filter
        )
    overlap = int(np.isin(ids, train_ids).sum())
    if overlap == 0:
        return None
    return (
        f"{overlap} of the {len(ids)} evaluated items were used to train {row.name!r}: its "
        "metrics and conformal coverage are optimistic there. Evaluate on held-out items "
        "(e.g. --filter split=test) or use a cross-validation run."
    )


def _add_keys(ds: Dataset, errors: list[dict[str, Any]]) -> None:
    ids = [e["item_id"] for e in errors]
    if not ids:
        return
    with ds.store.read() as conn:
        rows = conn.execute(
            sa.select(t.items.c.id, t.items.c.external_key).where(t.items.c.id.in_(ids))
        ).all()
    key_of = {r.id: r.external_key for r in rows}
    for e in errors:
        e["key"] = key_of.get(e["item_id"])


def run(ds: Dataset, name: str) -> dict[str, Any]:
    """One run as a dict (with its layer and snapshot names)."""
    with ds.store.read() as conn:
        return runs.get_run_info(conn, ds.id, name)
