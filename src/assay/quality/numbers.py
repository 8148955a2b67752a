"""Likely mislabeled numbers: the ``number`` family of label-quality checks.

A number layer is checked against out-of-fold predicted values (a number model layer: from
``assay predict --cv K --layer L``, or made here by :func:`assay.models.number_models.
cross_validate` with the built-in regressor when none is named). Per item:

* the **label quality** is cleanlab's ``cleanlab.regression.rank.get_label_quality_scores``
  of the given value against the prediction (low = likely wrong; it orders the ranking);
* a **conformal interval** around the prediction (crepes; cross-conformal: each fold's
  intervals are calibrated on the other folds' residuals), the evidence a reviewer sees with
  the given and predicted values. Not normalized by neighbours' residuals here (as the
  model runs' intervals are): the wrong labels being looked for inflate their neighbours'
  residuals, which widened exactly the intervals that should catch them (2 of 10 injected
  errors missed in the tests).

The methods (``assay issues --method``), compared on ``benchmarks/bench_numbers.py``:

* ``assay`` (the default): flag a value more than 1.5 times as far from the prediction as its
  90 % conformal interval reaches (for normal errors about 2.5 standard deviations: about one
  clean label in 70). Not simply "outside a 99 % interval": the intervals are calibrated on
  the labels being checked, and a few percent of wrong labels widen a 99 % interval until it
  covers them, while the 90 % one barely moves. On the benchmark (diabetes, 5 % injected
  errors) 1.5 kept the precision of 2.0 (0.65) at 2.4x its recall; 1.25 lost a third of the
  precision;
* ``cleanlab``: cleanlab's ranking, flagging as many of the lowest-scored items as there are
  values more than 2.5 robust standard deviations (1.4826 x the median absolute deviation
  of the residuals) from the prediction: the default's reach for normal errors, from a scale
  the wrong labels cannot inflate. cleanlab has no threshold for given predictions (its
  ``CleanLearning.find_label_issues`` picks its count by retraining its model on many
  subsets; the benchmarks also run it end to end). The count used to be the share of values
  outside the 90 % interval beyond the expected 10 %: an interval calibrated on the labels
  being checked leaves out about 10 % by construction, wrong labels included, so that excess
  was about 0 whatever the noise (0.3 items flagged of 22 errors on bench_numbers.py).

``benchmarks/bench_kind_issues.py`` measures both against cleanlab called directly under five
noise models (digit typos, typos and offsets, one annotator's bias, x10 unit slips,
heavy-tailed noise) and on real outliers (stackloss); the default stays ``assay``: with
cleanlab's ranking at the same count it ties on four noise models and wins on unit slips.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from assay.errors import InvalidParameter

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

    from assay.handle import DatasetHandle as Dataset
    from assay.progress import ProgressCallback

__all__ = [
    "DEFAULT_NUMBER_METHOD",
    "NUMBER_METHODS",
    "NumberIssues",
    "find_number_issues",
    "find_run",
    "open_cases_for_run",
]


@dataclass(frozen=True)
class NumberParams:
    """How a method flags: ``interval`` (further from the prediction than ``factor`` times
    the reach of the ``confidence`` conformal interval) or ``cleanlab_count`` (cleanlab's
    lowest scores, as many as the values further than ``robust_z`` robust standard
    deviations from the prediction). The interval at ``confidence`` is the evidence either
    way."""

    rule: str
    confidence: float = 0.9
    factor: float = 1.5
    robust_z: float = 2.5


NUMBER_METHODS: dict[str, NumberParams] = {
    "assay": NumberParams("interval", 0.9, 1.5),
    "cleanlab": NumberParams("cleanlab_count", 0.9),
}
DEFAULT_NUMBER_METHOD = "assay"
FOLDS = 5


@dataclass(frozen=True)
class NumberIssues:
    """What the check says of every item (rows as given)."""

    quality: np.ndarray
    is_issue: np.ndarray
    low: np.ndarray  # the conformal interval at the method's confidence
    high: np.ndarray
    confidence: float


def cross_conformal(
    y: np.ndarray,
    pred: np.ndarray,
    X: np.ndarray | None,
    confidence: float,
    *,
    folds: int = FOLDS,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Intervals for every item, each fold's calibrated on the other folds (crepes)."""
    from sklearn.model_selection import KFold

    from assay.models.number_models import conformal_intervals

    low, high = np.zeros(len(y)), np.zeros(len(y))
    k = min(folds, len(y))
    if k < 2:
        return pred - np.inf, pred + np.inf
    for cal, test in KFold(n_splits=k, shuffle=True, random_state=seed).split(y):
        iv = conformal_intervals(
            y[cal], pred[cal], pred[test],
            X_cal=None if X is None else X[cal], X=None if X is None else X[test],
            confidence=confidence,
        )  # fmt: skip
        low[test], high[test] = iv.low, iv.high
    return low, high


def find_number_issues(
    y: np.ndarray,
    pred: np.ndarray,
    X: np.ndarray | None = None,
    method: str = DEFAULT_NUMBER_METHOD,
    *,
    seed: int = 0,
) -> NumberIssues:
    """Score and flag the given values ``y`` against out-of-fold predictions ``pred``
    (``X``: the items' features, for intervals normalized by a difficulty estimate; the
    label-issue search passes none, see the module doc)."""
    from cleanlab.regression.rank import get_label_quality_scores

    params = NUMBER_METHODS[check_number_method(method)]
    quality = np.asarray(get_label_quality_scores(y, pred), dtype=np.float64)
    low, high = cross_conformal(y, pred, X, params.confidence, seed=seed)
    if params.rule == "interval":
        half = (high - low) / 2
        flags = np.abs(y - pred) > params.factor * half
    else:
        count = robust_outlier_count(y - pred, params.robust_z)
        flags = np.zeros(len(y), dtype=bool)
        flags[np.lexsort((np.arange(len(y)), quality))[:count]] = True
    return NumberIssues(quality, flags, low, high, params.confidence)


def robust_outlier_count(residuals: np.ndarray, z: float) -> int:
    """How many ``residuals`` lie more than ``z`` robust standard deviations (1.4826 x the
    median absolute deviation, scipy's ``median_abs_deviation(scale="normal")``) from their
    median. The median and MAD ignore up to half the values, so wrong labels do not widen
    the yardstick that counts them (a conformal interval calibrated on the same labels does).
    All residuals equal (MAD 0): any residual off the median counts."""
    from scipy.stats import median_abs_deviation

    r = np.asarray(residuals, dtype=np.float64)
    if len(r) == 0:
        return 0
    off = np.abs(r - np.median(r))
    scale = float(median_abs_deviation(r, scale="normal"))
    return int((off > z * scale).sum()) if scale > 0 else int((off > 0).sum())


def check_number_method(name: str) -> str:
    if name not in NUMBER_METHODS:
        raise InvalidParameter(
            f"Unknown label-issue method {name!r} for number layers; use one of "
            f"{', '.join(NUMBER_METHODS)} (default {DEFAULT_NUMBER_METHOD})."
        )
    return name


def find_run(
    dataset: Dataset,
    *,
    layer: str,
    predictions: str | None,
    filter: str | None,
    method: str | None,
    actor: str,
    progress: ProgressCallback,
    model: Any = "auto",
    folds: int = FOLDS,
    seed: int = 0,
) -> int:
    """Check number layer ``layer`` against the predicted values of layer ``predictions``
    (cross-validating the built-in regressor first when None), store the results on the
    predictions' model run (:mod:`assay.quality.runs`) and return the run's id; each
    flagged item's given value, predicted value and interval go to the summary's
    ``evidence``."""
    from assay.models.number_models import read_numbers
    from assay.quality import runs
    from assay.store import queries

    method = check_number_method(method or DEFAULT_NUMBER_METHOD)
    if predictions is None:
        from assay.models.api import DatasetModels

        run = DatasetModels(dataset).cross_validate(layer=layer, filter=filter, model=model,
                                            folds=folds, seed=seed, progress=progress)  # fmt: skip
        predictions = str(run["layer"])
    with dataset.store.read() as conn:
        pred_row = queries.get_layer(conn, dataset.id, predictions)
        if pred_row.value_kind != "number":
            raise InvalidParameter(
                f"Layer {predictions!r} holds {pred_row.value_kind} labels, not predicted "
                f"numbers; name a number model layer to check {layer!r} against."
            )
        g_ids, given = read_numbers(conn, dataset.id, layer, filter)
        p_ids, pred = read_numbers(conn, dataset.id, predictions, filter)
        label_ids = _label_ids(conn, dataset.id, layer)
    ids, gi, pi = np.intersect1d(g_ids, p_ids, assume_unique=True, return_indices=True)
    if len(ids) < 2:
        raise InvalidParameter(
            f"Fewer than 2 items have values in both {layer!r} and {predictions!r}"
            f"{' in this slice' if filter else ''}: nothing to check."
        )
    y, p = given[gi], pred[pi]
    progress(0, None, "scoring label quality (cleanlab regression)")
    found = find_number_issues(y, p, None, method, seed=seed)
    evidence = {
        str(int(ids[k])): {
            "label_id": label_ids.get(int(ids[k])),
            "number": {
                "given": float(y[k]), "predicted": float(p[k]), "low": float(found.low[k]),
                "high": float(found.high[k]), "confidence": found.confidence,
            },
        }
        for k in np.flatnonzero(found.is_issue).tolist()
    }  # fmt: skip
    summary = {
        "family": "number",
        "layer": layer,
        "model_layer": predictions,
        "annotator_layers": None,
        "filter": filter,
        "method": method,
        "n_items": len(ids),
        "n_issues": int(found.is_issue.sum()),
        "n_estimated": int(found.is_issue.sum()),
        "n_outliers": 0,
        "n_duplicates": 0,
        "n_without_probs": int(len(g_ids) - len(ids)),
        "outlier_threshold": None,
        "computed_at": datetime.now(UTC).isoformat(),
        "interval_confidence": found.confidence,
        "interval_coverage": float(((y >= found.low) & (y <= found.high)).mean()),
        "evidence": evidence,
    }
    progress(0, None, "saving")
    with dataset.store.write() as conn:
        return runs.save_for_layer(
            conn, dataset.id, predictions, actor, ids, found.quality, found.is_issue, summary
        )


def _label_ids(conn: Connection, dataset_id: int, layer: str) -> dict[int, int]:
    import sqlalchemy as sa

    from assay.store import queries
    from assay.store import schema as t

    row = queries.get_layer(conn, dataset_id, layer)
    h = t.label_heads.c
    return {
        int(i): int(lab)
        for i, lab in conn.execute(sa.select(h.item_id, h.label_id).where(h.layer_id == row.id))
    }


def number_case_evidence(
    row: Mapping[str, Any], run: Any, info: Mapping[str, Any]
) -> dict[str, Any]:
    """A flagged value's evidence: the layers, the label checked (its id: the case stops
    holding when it changes), the given and predicted values and the interval."""
    n = row.get("number") or {}
    return {
        "value_kind": "number",
        "run_id": int(run.id),
        "run": run.name,
        "layer": info["layer"],
        "predictions": info["model_layer"],
        "label_id": row.get("label_id"),
        "quality": row["quality"],
        "flagged": row["is_issue"],
        **n,
        "summary": (
            f"given {n.get('given', float('nan')):g}, predicted {n.get('predicted', 0):.4g} "
            f"({100 * n.get('confidence', 0):.0f}% interval {n.get('low', 0):.4g} .. "
            f"{n.get('high', 0):.4g})"
            if n
            else None
        ),
    }


def open_cases_for_run(
    conn: Connection,
    dataset_id: int,
    run: Row[Any],
    *,
    limit: int | None,
    actor: str,
    top: int | None = None,
) -> dict[str, Any]:
    """``mislabel`` cases for a number run's flagged items, most suspect first; an item whose
    case was decided at the label the run checked is skipped."""
    from assay.quality import runs

    return runs.open_mislabel_cases(
        conn, dataset_id, run, number_case_evidence, limit=limit, actor=actor, top=top
    )
