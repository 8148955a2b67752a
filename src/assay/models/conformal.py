"""Conformal prediction sets with a stated coverage (crepes' ConformalClassifier).

The non-conformity score of an item is ``1 - p(label)`` (the hinge score). Given calibration
scores from labeled items the model did not train on, the set of an item holds every class
whose score is within the calibrated quantile, so that, for exchangeable data, the true class
is in the set with probability at least ``coverage``.

Where the calibration comes from:

* ``cross_conformal_sets`` (what ``evaluate`` reports): the evaluated items are split into K
  seeded folds; each item's set is calibrated on the scores of the other K-1 folds. The
  probabilities must be out-of-sample for every item: out-of-fold probabilities of a
  cross-validation run, or a trained model's predictions on items it did not train on. The
  empirical coverage printed beside the target is then an honest estimate.
* ``split_conformal_sets``: calibrate on one labeled slice and predict sets for another
  (unlabeled items included), e.g. the OOF probabilities of a cv run as calibration.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.model_selection import KFold

from assay.errors import InvalidParameter


def check_coverage(coverage: float) -> float:
    """``coverage`` as a float in (0, 1), or InvalidParameter in the house format."""
    if not isinstance(coverage, (int, float)) or not 0.0 < float(coverage) < 1.0:
        raise InvalidParameter(
            f"The 'coverage' parameter must be a float in the range (0, 1). Got {coverage!r} "
            "instead (e.g. 0.9 for 90% prediction sets)."
        )
    return float(coverage)


def hinge_scores(probs: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """``1 - p``: of the given labels (1-D), or of every class (2-D) when labels is None."""
    if labels is None:
        return 1.0 - probs
    return 1.0 - probs[np.arange(len(labels)), labels]


def split_conformal_sets(
    cal_probs: np.ndarray,
    cal_labels: np.ndarray,
    probs: np.ndarray,
    *,
    coverage: float = 0.9,
    seed: int = 0,
) -> np.ndarray:
    """Boolean prediction sets (n_items, n_classes) for ``probs``, calibrated on the others."""
    coverage = check_coverage(coverage)
    if len(cal_labels) == 0:
        raise InvalidParameter("Conformal sets need labeled calibration items; there are none.")
    return predict_sets(_fit(cal_probs, cal_labels, seed), probs, coverage=coverage, seed=seed)


def _fit(cal_probs: np.ndarray, cal_labels: np.ndarray, seed: int) -> Any:
    from crepes import ConformalClassifier

    classifier = ConformalClassifier()
    classifier.fit(hinge_scores(cal_probs, cal_labels), seed=seed)
    return classifier


def fit_calibrator(cal_probs: np.ndarray, cal_labels: np.ndarray, *, seed: int = 0) -> Any:
    """A crepes ``ConformalClassifier`` on the hinge scores of labeled items, for sets of
    items seen one at a time (:func:`predict_sets`); None with too few items to calibrate
    (:func:`too_few_to_calibrate`)."""
    if too_few_to_calibrate(len(cal_labels)):
        return None
    return _fit(cal_probs, cal_labels, seed)


def predict_sets(
    classifier: Any, probs: np.ndarray, *, coverage: float = 0.9, seed: int = 0
) -> np.ndarray:
    """Boolean prediction sets (n_items, n_classes) of ``probs`` from a fitted calibrator."""
    p_values = smoothed_p_values(np.asarray(classifier.alphas), hinge_scores(probs), seed)
    return np.asarray(p_values >= 1 - coverage, dtype=bool)


def smoothed_p_values(alphas_cal: np.ndarray, alphas: np.ndarray, seed: int) -> np.ndarray:
    """crepes' smoothed p-values (``p_values_batch``, the same numbers for the same seed),
    with sorted calibration scores and binary search instead of a Python loop per item and
    class: ``(#{cal > a} + theta * (#{cal == a} + 1)) / (q + 1)``, theta uniform in [0, 1)."""
    ordered = np.sort(alphas_cal)
    q = len(ordered)
    thetas = np.random.RandomState(seed).rand(*alphas.shape)
    left = np.searchsorted(ordered, alphas, side="left")
    right = np.searchsorted(ordered, alphas, side="right")
    return ((q - right) + thetas * ((right - left) + 1)) / (q + 1)


def too_few_to_calibrate(n: int, folds: int = 5) -> str | None:
    """Why ``n`` labeled items cannot calibrate cross-conformal sets over ``folds``, or None."""
    if n < 2 * folds:
        return f"Conformal sets need at least {2 * folds} labeled items to calibrate on; got {n}."
    return None


def cross_conformal_sets(
    probs: np.ndarray,
    labels: np.ndarray,
    *,
    coverage: float = 0.9,
    folds: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """Each item's set calibrated on the other folds' items (out-of-sample ``probs``)."""
    coverage = check_coverage(coverage)
    too_few = too_few_to_calibrate(len(labels), folds)
    if too_few:
        raise InvalidParameter(too_few)
    sets = np.zeros(probs.shape, dtype=bool)
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (cal, test) in enumerate(splitter.split(probs)):
        sets[test] = split_conformal_sets(
            probs[cal], labels[cal], probs[test], coverage=coverage, seed=seed + k
        )
    return sets


def summarize_sets(sets: np.ndarray, labels: np.ndarray, coverage: float) -> dict[str, Any]:
    """Empirical coverage and set sizes beside the target coverage."""
    sizes = sets.sum(axis=1)
    covered = sets[np.arange(len(labels)), labels]
    return {
        "target_coverage": coverage,
        "empirical_coverage": float(covered.mean()) if len(labels) else float("nan"),
        "mean_set_size": float(sizes.mean()) if len(labels) else float("nan"),
        "singleton_rate": float((sizes == 1).mean()) if len(labels) else float("nan"),
        "empty_rate": float((sizes == 0).mean()) if len(labels) else float("nan"),
        "n_items": len(labels),
        "method": "cross-conformal (5 folds), hinge score 1 - p(label), crepes' smoothed p-values",
    }
