"""Regressors for number layers: out-of-fold predictions, conformal intervals, model runs.

A number layer is learnt by a built-in regressor on the items' features (the featurizers of
:mod:`assay.models.features`): ``hgb`` (scikit-learn's HistGradientBoostingRegressor),
``logreg`` (for numbers: the linear model, a standardized Ridge) or ``auto`` (Ridge under
:data:`AUTO_HGB_ITEMS` labeled items, where boosting overfits and costs seconds, else
HistGradientBoosting). Fits run with one OpenMP thread (threadpoolctl): on a shared machine
boosting's threads otherwise spin against each other (100x slower measured on 2 busy cores).
``assay predict --cv K --layer L`` / ``ds.models.cross_validate(layer=L)`` on a number layer
gives every labeled item an out-of-fold prediction (and the slice's unlabeled items one from a
model fit on all of them) in a number model layer named after the run.

Intervals are conformal, from crepes (:func:`conformal_intervals`): normalized by a difficulty
estimate (crepes' ``DifficultyEstimator``: the mean absolute out-of-fold residual of the k
nearest labeled neighbours) so an item where the model errs more gets a wider interval,
calibrated on out-of-fold residuals (each residual is of a model that never saw the item:
the intervals are cross-conformal in spirit and valid on exchangeable data).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from assay.errors import InvalidParameter
from assay.store import filters, queries
from assay.store import schema as t

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from assay.handle import DatasetHandle as Dataset
    from assay.models.specs import CrossValidateSpec
    from assay.progress import ProgressCallback

__all__ = [
    "AUTO_HGB_ITEMS",
    "Intervals",
    "conformal_intervals",
    "cross_validate",
    "is_number_layer",
    "make_regressor",
    "oof_predict",
    "read_numbers",
    "write_number_predictions",
]

AUTO_HGB_ITEMS = 5_000
CONFIDENCE = 0.9
WRITE_CHUNK = 5_000


def is_number_layer(ds: Dataset, layer: str) -> bool:
    with ds.store.read() as conn:
        row = conn.execute(
            sa.select(t.layers.c.value_kind).where(
                t.layers.c.dataset_id == ds.id, t.layers.c.name == layer
            )
        ).scalar()
    return row == "number"


def read_numbers(
    conn: Connection, dataset_id: int, layer: str, filter: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(item ids ascending, float values) of number layer ``layer``'s current labels in the
    slice ``filter`` selects."""
    row = queries.get_layer(conn, dataset_id, layer)
    h, lab = t.label_heads.c, t.labels.c
    query = (
        sa.select(h.item_id, lab.value)
        .select_from(t.label_heads.join(t.labels, lab.id == h.label_id))
        .where(h.layer_id == row.id, lab.value.is_not(None))
        .order_by(h.item_id)
    )
    where = filters.compile_filter(conn, dataset_id, filter)
    if where is not None:
        query = query.join(t.items, t.items.c.id == h.item_id).where(where)
    ids: list[int] = []
    values: list[float] = []
    for item_id, value in conn.execute(query):
        if value is None:
            continue
        ids.append(int(item_id))
        values.append(float(value))
    return np.asarray(ids, dtype=np.int64), np.asarray(values, dtype=np.float64)


def make_regressor(
    model: Any, n_items: int, seed: int, params: dict[str, Any] | None = None
) -> Any:
    """An unfitted regressor for ``model`` (see the module doc), or ``model`` itself when it
    is an estimator already."""
    from sklearn.base import clone

    if not isinstance(model, str):
        return clone(model)
    if model == "auto":
        model = "hgb" if n_items >= AUTO_HGB_ITEMS else "logreg"
    if model == "hgb":
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(random_state=seed, **(params or {}))
    if model == "logreg":
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), Ridge(**(params or {"alpha": 1.0})))
    raise InvalidParameter(
        f"--model {model} does not learn numbers; use auto, hgb or logreg (Ridge) for a number "
        "layer."
    )


def oof_predict(X: np.ndarray, y: np.ndarray, model: Any, folds: int, seed: int) -> np.ndarray:
    """Out-of-fold predictions of ``model`` (unfitted) for every row, ``folds``-fold."""
    from sklearn.base import clone
    from sklearn.model_selection import KFold

    if len(y) < max(folds, 2):
        raise InvalidParameter(
            f"{len(y)} labeled item(s): too few for {folds} folds. Label more, or use fewer folds."
        )
    from threadpoolctl import threadpool_limits

    out = np.zeros(len(y), dtype=np.float64)
    with threadpool_limits(limits=1):
        for train, test in KFold(n_splits=folds, shuffle=True, random_state=seed).split(X):
            fitted = clone(model).fit(X[train], y[train])
            out[test] = fitted.predict(X[test])
    return out


@dataclass(frozen=True)
class Intervals:
    """Conformal intervals: ``low``/``high`` per item at ``confidence``."""

    low: np.ndarray
    high: np.ndarray
    confidence: float

    @property
    def width(self) -> np.ndarray:
        return self.high - self.low


def conformal_intervals(
    y_cal: np.ndarray,
    pred_cal: np.ndarray,
    pred: np.ndarray,
    *,
    X_cal: np.ndarray | None = None,
    X: np.ndarray | None = None,
    confidence: float = CONFIDENCE,
    k: int = 25,
) -> Intervals:
    """Intervals for predictions ``pred`` from calibration residuals ``y_cal - pred_cal``
    (crepes' ConformalRegressor); with features, normalized by crepes' DifficultyEstimator
    fit on the calibration items (the mean absolute residual of the k nearest of them)."""
    from crepes import ConformalRegressor
    from crepes.extras import DifficultyEstimator

    residuals = y_cal - pred_cal
    sigmas_cal = sigmas = None
    if X_cal is not None and X is not None and len(y_cal) > k + 1:
        de = DifficultyEstimator().fit(X=X_cal, residuals=residuals, k=k, scaler=True)
        sigmas_cal, sigmas = de.apply(X_cal), de.apply(X)
    cr = ConformalRegressor().fit(residuals, sigmas=sigmas_cal)
    bounds = np.asarray(cr.predict_int(pred, sigmas=sigmas, confidence=confidence))
    return Intervals(bounds[:, 0].astype(np.float64), bounds[:, 1].astype(np.float64), confidence)


def write_number_predictions(
    conn: Connection,
    dataset_id: int,
    layer: str,
    item_ids: Sequence[int] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    run_name: str,
    *,
    create: bool,
    options: dict[str, Any] | None = None,
) -> int:
    """Write predicted numbers into number model layer ``layer`` (created with ``create``,
    with the truth layer's unit), in the caller's transaction; returns the layer id."""
    from assay.labels.layers import create_layer
    from assay.labels.writes import LabelWrite, write_labels

    if create:
        unit = (options or {}).get("unit")
        create_layer(conn, dataset_id, layer, kind="model", value_kind="number",
                     description=f"Model run {run_name}", origin={"run": run_name},
                     options={"unit": unit} if unit else None)  # fmt: skip
    row = queries.get_layer(conn, dataset_id, layer)
    if row.kind != "model" or row.value_kind != "number":
        raise InvalidParameter(
            f"Layer {layer!r} is a {row.kind} layer of {row.value_kind}; predicted numbers go "
            "to number model layers only."
        )
    ids = [int(i) for i in item_ids]
    vals = [float(v) for v in values]
    for start in range(0, len(ids), WRITE_CHUNK):
        writes = [
            LabelWrite(i, v)
            for i, v in zip(ids[start : start + WRITE_CHUNK], vals[start : start + WRITE_CHUNK],
                            strict=True)
        ]  # fmt: skip
        write_labels(conn, dataset_id, layer, writes, author=f"model:{run_name}")
    return int(row.id)


def check_fits(ds: Dataset, spec: Any) -> bool:
    """Whether ``spec`` learns a number layer (refusing a detector for one)."""
    if not is_number_layer(ds, spec.layer):
        return False
    if spec.search_seconds is not None:
        raise InvalidParameter(
            f"Layer {spec.layer!r} holds numbers: --search-seconds is for classifiers."
        )
    return True


def cross_validate(
    ds: Dataset, spec: CrossValidateSpec, *, progress: ProgressCallback | None = None
) -> dict[str, Any]:
    """Out-of-fold predicted numbers for every labeled item of the slice (and predictions of
    a regressor fit on all of them for the slice's unlabeled items), into a number model
    layer named after the run; the run's metrics hold the out-of-fold MAE, RMSE, R² and the
    conformal interval's coverage and mean width. Returns the run."""
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    from assay.models import runs
    from assay.models.features import featurize
    from assay.models.pipeline import recorded_run, run
    from assay.progress import no_progress

    report = progress or no_progress
    model_name = spec.model if isinstance(spec.model, str) else type(spec.model).__name__
    with recorded_run(
        ds, name=spec.name, kind="cv", model=model_name, params=dict(spec.params or {}),
        featurizer=spec.featurizer, layer=spec.layer, filter=spec.filter, folds=spec.folds,
        seed=spec.seed, makes_layer=True,
    ) as (run_id, run_name):  # fmt: skip
        runs.pin_labels(ds, run_id, run_name, spec.layer)
        with ds.store.read() as conn:
            ids, y = read_numbers(conn, ds.id, spec.layer, spec.filter)
            options = dict(queries.get_layer(conn, ds.id, spec.layer).options or {})
        report(0, None, "featurizing")
        feats = featurize(ds, spec.filter, featurizer=spec.featurizer, progress=report)
        pos = {int(i): k for k, i in enumerate(feats.item_ids.tolist())}
        keep = np.asarray([int(i) in pos for i in ids], dtype=bool)
        ids, y = ids[keep], y[keep]
        X = feats.X[[pos[int(i)] for i in ids]].astype(np.float64)
        labeled = set(ids.tolist())
        other_ids = np.asarray([i for i in feats.item_ids.tolist() if i not in labeled], np.int64)
        model = make_regressor(spec.model, len(y), spec.seed, spec.params)
        started = time.perf_counter()
        report(0, None, f"{spec.folds}-fold cross-validation")
        pred = oof_predict(X, y, model, spec.folds, spec.seed)
        extra = np.zeros(0)
        if len(other_ids):
            X_other = feats.X[[pos[int(i)] for i in other_ids]].astype(np.float64)
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=1):
                fitted = make_regressor(spec.model, len(y), spec.seed, spec.params).fit(X, y)
                extra = fitted.predict(X_other)
        lo, hi = options.get("min"), options.get("max")
        if lo is not None or hi is not None:  # predictions within the layer's range
            pred = np.clip(pred, lo, hi)
            extra = np.clip(extra, lo, hi) if len(extra) else extra
        intervals = conformal_intervals(y, pred, pred, X_cal=X, X=X)
        metrics = {
            "n_items": len(ids),
            "n_unlabeled": len(other_ids),
            "oof_mae": float(mean_absolute_error(y, pred)),
            "oof_rmse": float(root_mean_squared_error(y, pred)),
            "oof_r2": float(r2_score(y, pred)) if len(y) > 1 else None,
            "interval_confidence": intervals.confidence,
            "interval_coverage": float(((y >= intervals.low) & (y <= intervals.high)).mean()),
            "interval_mean_width": float(intervals.width.mean()),
            "fit_seconds": time.perf_counter() - started,
            "model": model_name,
            "featurizer": feats.name,
            "value_kind": "number",
        }
        report(0, None, "writing predictions")
        runs.finish_run(
            ds, run_id, metrics=metrics, layer=run_name,
            item_ids=np.concatenate([ids, other_ids]),
            numbers=np.concatenate([pred, extra]), params=dict(spec.params or {}),
            layer_options={"unit": options.get("unit")},
        )  # fmt: skip
    return run(ds, run_name)
