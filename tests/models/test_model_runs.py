"""Model runs through the store (SQLite and PostgreSQL): cross-validation, training,
predictions on any slice, evaluation, and failures that leave nothing half-done."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

import assay
from assay.errors import Conflict, InvalidParameter
from assay.models.runs import RunNotFound


class Exploding(ClassifierMixin, BaseEstimator):
    """A classifier whose fit fails, to check that a failed run stores nothing half-done."""

    def fit(self, X: Any, y: Any) -> Exploding:
        raise RuntimeError("boom")

    def predict_proba(self, X: Any) -> Any:
        raise AssertionError("never fitted")


def layer_names(ds: assay.Dataset) -> list[str]:
    return [layer["name"] for layer in ds.layers()]


def test_cross_validation_writes_a_model_layer_and_pins_its_labels(images: assay.Dataset) -> None:
    run = images.models.cross_validate(name="cv", folds=3, model="logreg")
    assert (run["state"], run["kind"], run["layer"], run["folds"]) == ("done", "cv", "cv", 3)
    assert run["metrics"]["n_items"] == 36 and run["metrics"]["oof_accuracy"] > 0.8
    assert images.layer("cv")["kind"] == "model"
    item = images.item("0")["labels"]["cv"]
    assert item["probs"] is not None and sum(item["probs"]) == pytest.approx(1.0, abs=1e-3)
    assert item["label"] == ["0", "1", "2"][int(np.argmax(item["probs"]))]
    assert run["snapshot_id"] is not None
    snapshot = next(s for s in images.snapshots() if s["name"] == run["snapshot"])
    assert snapshot["layers"] == ["ground_truth"] and snapshot["n_labels"] == 36
    images.set_label("0", "2", layer="ground_truth")  # later relabels do not touch the record
    assert images.diff(run["snapshot"]).n_changes == 1


def test_train_then_predict_on_any_slice(images: assay.Dataset) -> None:
    run = images.models.train(name="m", model="logreg", filter="split=train")
    assert run["state"] == "done" and run["metrics"]["n_train"] == 18
    assert run["artifact_path"] == ".assay/models/1.joblib"
    assert (images.project.root / run["artifact_path"]).is_file()
    preds = images.models.predict("m", "split=test")
    assert preds.layer == "m" and preds.probs.shape == (18, 3)
    assert images.layer("m")["kind"] == "model"
    some = images.models.predict("m", [1, 2], into_layer="m-few")
    assert list(some.item_ids) == [1, 2] and "m-few" in layer_names(images)
    held_out = images.models.evaluate("m", "split=test", coverage=0.8)
    assert held_out["warning"] is None and held_out["accuracy"] > 0.8
    seen = images.models.evaluate("m")
    assert "18 of the 36 evaluated items were used to train 'm'" in seen["warning"]


def test_evaluate_reports_every_part(images: assay.Dataset) -> None:
    images.models.cross_validate(name="cv", folds=3, model="logreg")
    images.set_label("1", "0", layer="ground_truth")  # one deliberate error against the model
    result = images.models.evaluate("cv", top_errors=5, max_cell_items=2)
    assert result["n_items"] == 36
    assert {row["class"] for row in result["per_class"]} == {"0", "1", "2"}
    matrix = np.array(result["confusion"]["matrix"])
    assert matrix.sum() == 36
    for cell in result["confusion"]["cells"]:
        assert len(cell["item_ids"]) == min(cell["count"], 2)
    assert any(e["key"] == "1" and e["label"] == "0" for e in result["errors"])
    losses = [e["loss"] for e in result["errors"]]
    assert losses == sorted(losses, reverse=True)
    assert 0.0 <= result["calibration"]["ece"] <= 1.0
    assert result["conformal"]["target_coverage"] == 0.9
    assert 0.0 <= result["conformal"]["empirical_coverage"] <= 1.0


def test_a_failed_run_keeps_its_error_and_nothing_half_done(images: assay.Dataset) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        images.models.cross_validate(name="broken", folds=3, model=Exploding())
    run = images.models.run("broken")
    assert run["state"] == "failed" and "RuntimeError: boom" in run["error"]
    assert run["layer"] is None and "broken" not in layer_names(images)
    assert run["artifact_path"] is None
    assert not list((images.project.root / ".assay" / "models").glob("*"))


def test_too_few_items_per_class_for_k_folds(images: assay.Dataset) -> None:
    with pytest.raises(InvalidParameter, match="20 labeled items per class: '0' has 12"):
        images.models.cross_validate(name="cv20", folds=20, model="logreg")
    assert images.models.run("cv20")["state"] == "failed"
    with pytest.raises(InvalidParameter, match="Parameter 'folds': Input should be greater"):
        images.models.cross_validate(folds=1)


def test_fewer_than_two_classes(images: assay.Dataset) -> None:
    with pytest.raises(InvalidParameter, match="at least two classes; found 1"):
        images.models.train(name="one", model="logreg", filter="label=0")


def test_names_and_lookups(images: assay.Dataset) -> None:
    first = images.models.cross_validate(folds=3, model="logreg")
    assert first["name"] == "cv-logreg-1"
    with pytest.raises(Conflict, match="exists already"):
        images.models.cross_validate(name="cv-logreg-1", folds=3, model="logreg")
    with pytest.raises(Conflict, match="layer named 'ground_truth'"):
        images.models.cross_validate(name="ground_truth", folds=3, model="logreg")
    with pytest.raises(RunNotFound, match="Known runs: cv-logreg-1"):
        images.models.run("nope")
    with pytest.raises(InvalidParameter, match="without a fitted model"):
        images.models.predict("cv-logreg-1", "split=test")
    images.models.train(name="t", model="logreg")
    assert [r["name"] for r in images.models.runs()] == ["t", "cv-logreg-1"]


def test_predicting_with_features_of_the_wrong_shape(images: assay.Dataset, tmp_path: Path) -> None:
    ids = images.models.features().item_ids
    np.save(tmp_path / "a.npy", np.eye(36, 3, dtype=np.float32) + ids[:, None] % 3)
    images.models.import_features(tmp_path / "a.npy", name="mine", ids=ids.tolist())
    images.models.train(name="on-mine", model="logreg", featurizer="mine")
    np.save(tmp_path / "b.npy", np.ones((36, 5), dtype=np.float32))
    images.models.import_features(tmp_path / "b.npy", name="mine", ids=ids.tolist())
    with pytest.raises(InvalidParameter, match=r"wrong shape: 5 per item.*trained on 3"):
        images.models.predict("on-mine")


def test_hyper_parameter_search_within_a_budget(images: assay.Dataset) -> None:
    run = images.models.train(name="searched", model="logreg", search_seconds=0.5, seed=3)
    search = run["metrics"]["search"]
    assert search["n_trials"] >= 1 and set(search["best_params"]) == {"C"}
    assert run["params"]["C"] == search["best_params"]["C"]
    with pytest.raises(InvalidParameter, match="search_seconds"):
        images.models.train(model="logreg", search_seconds=0)
