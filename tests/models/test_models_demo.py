"""End to end on the built-in demo (scikit-learn's 1,797 digits), seeded: cross-validate,
evaluate with conformal sets, train on the train split and predict the test split."""

from __future__ import annotations

from pathlib import Path

import pytest

import assay
from helpers import demo_copy


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, _demo_template: Path) -> assay.Dataset:
    project = demo_copy(_demo_template, tmp_path_factory)
    return project.dataset("digits")


def test_cross_validate_and_evaluate_the_demo(demo: assay.Dataset) -> None:
    run = demo.models.cross_validate(name="cv", folds=5, model="logreg", seed=0)
    assert run["metrics"]["oof_accuracy"] > 0.95
    result = demo.models.evaluate("cv", coverage=0.95)
    assert result["n_items"] == 1797 and result["accuracy"] > 0.95
    assert abs(result["conformal"]["empirical_coverage"] - 0.95) < 0.02
    assert result["calibration"]["ece"] < 0.1
    assert result["errors"][0]["key"] is not None
    again = demo.models.evaluate("cv", coverage=0.95)  # seeded: the same sets
    assert again["conformal"] == result["conformal"]


def test_train_on_train_split_predict_the_test_split(demo: assay.Dataset, tmp_path: Path) -> None:
    run = demo.models.train(name="train", model="logreg", filter="split=train")
    assert run["metrics"]["n_train"] == 1438
    preds = demo.models.predict("train", "split=test")
    assert len(preds.item_ids) == 359 and preds.layer == "train"
    result = demo.models.evaluate("train", "split=test")
    assert result["warning"] is None and result["accuracy"] > 0.94
