"""Conformal prediction sets and the evaluation metrics, on in-memory probabilities."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from assay.errors import InvalidParameter
from assay.models.conformal import cross_conformal_sets, split_conformal_sets, summarize_sets
from assay.models.evaluation import confusion, evaluate_probs, reliability
from assay.models.training import oof_probs


@pytest.fixture(scope="module")
def digits_oof() -> tuple[np.ndarray, np.ndarray]:
    """5-fold out-of-fold probabilities of logistic regression on scikit-learn's digits."""
    X, y = load_digits(return_X_y=True)
    return oof_probs(X / 16.0, y, model="logreg", folds=5, seed=0), y


@pytest.mark.parametrize("coverage", [0.9, 0.95])
def test_cross_conformal_coverage_is_near_the_target(
    digits_oof: tuple[np.ndarray, np.ndarray], coverage: float
) -> None:
    probs, y = digits_oof
    sets = cross_conformal_sets(probs, y, coverage=coverage, seed=0)
    summary = summarize_sets(sets, y, coverage)
    assert abs(summary["empirical_coverage"] - coverage) < 0.02
    assert 0.5 < summary["mean_set_size"] < 2.0


def test_higher_coverage_gives_larger_sets(digits_oof: tuple[np.ndarray, np.ndarray]) -> None:
    probs, y = digits_oof
    small = split_conformal_sets(probs[:900], y[:900], probs[900:], coverage=0.8)
    large = split_conformal_sets(probs[:900], y[:900], probs[900:], coverage=0.99)
    assert small.sum() < large.sum()
    assert (large | small == large).all()  # nested sets


@pytest.mark.parametrize("coverage", [0, 1, 1.5, -0.1, "0.9"])
def test_coverage_must_be_a_fraction(coverage: object) -> None:
    with pytest.raises(InvalidParameter, match="'coverage' parameter must be a float in the range"):
        cross_conformal_sets(np.full((20, 2), 0.5), np.zeros(20, int), coverage=coverage)  # type: ignore[arg-type]


def test_too_few_items_to_calibrate() -> None:
    with pytest.raises(InvalidParameter, match="at least 10 labeled items"):
        cross_conformal_sets(np.full((4, 2), 0.5), np.zeros(4, int), coverage=0.9)


def test_reliability_of_calibrated_and_overconfident_models() -> None:
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1.0, 20_000)
    labels = (rng.uniform(size=20_000) > confidence).astype(int)  # right with p = confidence
    probs = np.column_stack([confidence, 1 - confidence])
    assert reliability(probs, labels)["ece"] < 0.02
    sure = np.column_stack([np.full(20_000, 0.99), np.full(20_000, 0.01)])
    assert reliability(sure, labels)["ece"] > 0.15


def test_confusion_cells_keep_their_items() -> None:
    labels = np.array([0, 0, 1, 1, 1])
    pred = np.array([0, 1, 1, 1, 0])
    result = confusion(labels, pred, np.array([10, 11, 12, 13, 14]), ["a", "b"], max_cell_items=1)
    assert result["matrix"] == [[1, 1], [1, 2]]
    cells = {(c["true"], c["pred"]): (c["count"], c["item_ids"]) for c in result["cells"]}
    assert cells == {
        ("a", "a"): (1, [10]), ("a", "b"): (1, [11]), ("b", "a"): (1, [14]), ("b", "b"): (2, [12])
    }  # fmt: skip


def test_evaluate_probs_on_digits(digits_oof: tuple[np.ndarray, np.ndarray]) -> None:
    probs, y = digits_oof
    ids = np.arange(len(y)) + 1
    result = evaluate_probs(probs, y, ids, [str(c) for c in range(10)], top_errors=5)
    assert result["accuracy"] == pytest.approx((probs.argmax(axis=1) == y).mean())
    assert 0.9 < result["macro_f1"] <= 1.0 and result["log_loss"] > 0
    losses = [e["loss"] for e in result["errors"]]
    assert len(losses) == 5 and losses == sorted(losses, reverse=True)
    assert sum(row["support"] for row in result["per_class"]) == len(y)


def test_a_small_reference_gets_metrics_without_conformal_sets(
    digits_oof: tuple[np.ndarray, np.ndarray],
) -> None:
    probs, y = digits_oof
    ids = np.arange(len(y)) + 1
    few = evaluate_probs(probs[:6], y[:6], ids[:6], [str(c) for c in range(10)])
    assert few["n_items"] == 6 and few["accuracy"] == pytest.approx(
        (probs[:6].argmax(1) == y[:6]).mean()
    )
    assert few["conformal"] is None
    assert few["conformal_unavailable"] == (
        "Conformal sets need at least 10 labeled items to calibrate on; got 6."
    )
    enough = evaluate_probs(probs[:10], y[:10], ids[:10], [str(c) for c in range(10)])
    assert enough["conformal"]["n_items"] == 10 and enough["conformal_unavailable"] is None
