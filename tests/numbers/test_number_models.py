"""Numbers and models (SQLite only: computations): a regressor's out-of-fold values, their
evaluation, label issues into the review queue, suggestions by interval width."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numkit import make_number_dataset

import assay
from assay.models.number_evaluation import evaluate_numbers
from assay.quality.numbers import find_number_issues, robust_outlier_count


def test_evaluation_measures_and_interval_coverage() -> None:
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 100, 400)
    pred = y + rng.normal(0, 5, 400)
    r = evaluate_numbers(np.arange(400), y, pred, confidence=0.9)
    assert r["mae"] == pytest.approx(np.abs(y - pred).mean())
    assert r["rmse"] == pytest.approx(np.sqrt(((y - pred) ** 2).mean()))
    assert r["r2"] > 0.9
    assert 0.83 <= r["conformal"]["coverage"] <= 0.97
    assert r["conformal"]["mean_width"] == pytest.approx(2 * 1.645 * 5, rel=0.25)
    worst = r["largest_errors"][0]
    assert abs(worst["error"]) == pytest.approx(np.abs(y - pred).max())


def test_issue_check_finds_injected_errors() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 2))
    y = 10 * X[:, 0] + rng.normal(0, 1, 300)
    pred = 10 * X[:, 0]
    wrong = np.arange(0, 300, 30)
    given = y.copy()
    given[wrong] += 25
    found = find_number_issues(given, pred)
    flagged = set(np.flatnonzero(found.is_issue).tolist())
    assert set(wrong.tolist()) <= flagged and len(flagged) <= len(wrong) + 6
    assert np.argsort(found.quality)[: len(wrong)].tolist() == sorted(
        wrong.tolist(), key=lambda k: found.quality[k]
    )


def test_cleanlab_method_counts_errors_the_interval_cannot_hide() -> None:
    """The ``cleanlab`` method flags about as many values as are wrong (it used to flag none:
    its count was the excess over 10 % outside a 90 % interval calibrated on the same
    labels, which by construction leaves about 10 % out, wrong labels included)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=400)
    y = 10 * x + rng.normal(0, 1, 400)
    pred = 10 * x
    wrong = np.arange(0, 400, 20)  # 5 %
    given = y.copy()
    given[wrong] += rng.choice([-1, 1], len(wrong)) * rng.uniform(8, 30, len(wrong))
    found = find_number_issues(given, pred, method="cleanlab")
    flagged = set(np.flatnonzero(found.is_issue).tolist())
    assert len(set(wrong.tolist()) & flagged) >= len(wrong) - 2
    assert len(flagged) <= len(wrong) + 8


def test_robust_outlier_count() -> None:
    r = np.r_[np.linspace(-1, 1, 99), 50.0]
    # MAD-based: the one far value counts, and 20 more far values do not widen the yardstick.
    assert robust_outlier_count(r, 2.5) == 1
    assert robust_outlier_count(np.r_[r, np.full(20, 50.0)], 2.5) == 21
    assert robust_outlier_count(np.zeros(10), 2.5) == 0
    assert robust_outlier_count(np.r_[np.zeros(10), 3.0], 2.5) == 1  # MAD 0
    assert robust_outlier_count(np.array([]), 2.5) == 0


def test_cross_validate_evaluate_issues_and_suggestions(tmp_path: Path) -> None:
    project = assay.init(tmp_path / "p")
    ds = make_number_dataset(project, tmp_path)
    # Three wrong values and eight unlabeled items.
    for key in ("r2", "r7", "r11"):
        ds.set_label(key, 100.0 if ds.item(key)["labels"]["y"]["value"] < 60 else 0.0, layer="y")
    for k in range(52, 60):
        ds.set_label(f"r{k}", None, layer="y")
    run = ds.models.cross_validate(layer="y", folds=5, name="reg")
    m = run["metrics"]
    assert m["value_kind"] == "number" and m["n_items"] == 52 and m["n_unlabeled"] == 8
    assert ds.layer("reg")["value_kind"] == "number"
    assert isinstance(ds.item("r55")["labels"]["reg"]["value"], float)

    report = ds.models.evaluate("reg")
    assert report["kind"] == "number" and report["reference_layer"] == "y"
    assert report["n_items"] == 52 and report["mae"] > 0

    issues = ds.quality.find(layer="y", model_layer="reg", actor="t")
    assert issues.family == "number"
    opened = ds.quality.to_review(issues.run_id, actor="t")
    cases = ds.review.list()[0]
    keys = {c["item_key"] for c in cases}
    assert {"r2", "r7", "r11"} <= keys, opened
    case = next(c for c in cases if c["item_key"] == "r7")
    ev = case["evidence"]
    assert ev["value_kind"] == "number" and ev["low"] < ev["predicted"] < ev["high"]
    ds.review.resolve(case["id"], "42", "checked the record", actor="t")
    assert ds.item("r7")["labels"]["y"]["value"] == 42.0  # the layer itself, a new version

    picks = ds.suggestions.suggest("y", strategy="interval-width", batch=3)
    assert picks.strategy == "interval-width" and picks.n_suggestions == 3
    keys = [i["key"] for i in ds.suggestions.items(list_id=picks.list_id)]
    assert len(keys) == 3 and set(keys) <= {f"r{k}" for k in range(52, 60)}
