"""Stored probabilities are lossless, so every face reports the same log loss (issue 16, bug 6),
and a run's evaluation is stored with it until its labels change (bug 8)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from modelkit import make_images
from typer.testing import CliRunner

import assay
from assay.labels.load import load_probs
from assay.models import runs
from assay.models.evaluation import EPS, log_loss


def test_a_tiny_probability_survives_the_round_trip(images: assay.Dataset) -> None:
    rows, _ = images.items(limit=2)
    ids = np.array([r["id"] for r in rows], dtype=np.int64)
    probs = np.array([[1e-9, 0.25, 0.75 - 1e-9], [0.5, 0.5 - 3e-12, 3e-12]])
    with images.store.write() as conn:
        runs.write_predictions(conn, images.id, "m", ids, probs, ["0", "1", "2"], "r", create=True)
    with images.store.read() as conn:
        got_ids, got = runs.layer_probs(conn, images.id, "m", None)
        loaded, found = load_probs(conn, images.id, "m", ids, 3)
        one = runs.item_probs(conn, images.id, "m", int(ids[0]))
    assert got_ids.tolist() == ids.tolist() and found.all()
    np.testing.assert_allclose(got, probs, rtol=1e-12, atol=0)
    np.testing.assert_allclose(loaded, probs, rtol=1e-12, atol=0)
    assert one is not None and one[0] == pytest.approx(1e-9, rel=1e-12)


def test_the_log_loss_is_the_same_in_predict_evaluate_and_the_cli(
    model_project: assay.Project,
) -> None:
    """A confident model (C=1000) gives some items probabilities below 1e-6: rounded, they
    read back as 0 and their losses as the clip."""
    ds = make_images(model_project)
    cv = ds.models.cross_validate(name="cv", folds=3, model="logreg", params={"C": 1000.0})
    with ds.store.read() as conn:
        _, probs = runs.layer_probs(conn, ds.id, "cv", None)
    assert 0 < probs.min() < 1e-6  # what rounding to 6 digits turned into 0
    ev = ds.models.evaluate("cv")
    oof = cv["metrics"]["oof_log_loss"]
    assert f"{ev['log_loss']:.4f}" == f"{oof:.4f}"
    assert ev["log_loss"] == pytest.approx(oof, rel=1e-9)
    from assay.cli import app

    result = CliRunner().invoke(
        app, ["--project", str(model_project.root), "evaluate", "cv", "-d", "tiny", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert f"{json.loads(result.output)['log_loss']:.4f}" == f"{oof:.4f}"
    # Losses are clipped only at float32's eps, not at a rounding step of 1e-6.
    assert log_loss(np.array([[1e-9, 1 - 1e-9]]), np.array([0])) == pytest.approx(-np.log(EPS))
    assert log_loss(np.array([[1e-6, 1 - 1e-6]]), np.array([0])) == pytest.approx(-np.log(1e-6))


def test_the_evaluation_is_stored_until_a_label_changes(images: assay.Dataset) -> None:
    images.models.cross_validate(name="cv", folds=3, model="logreg")
    with images.store.read() as conn:
        row = runs.get_run(conn, images.id, "cv")
        version = runs.layers_version(conn, images.id, ["cv", "ground_truth"])
    key = json.dumps(["ground_truth", 0.9, 50, 20, 0], separators=(",", ":"))
    with images.store.read() as conn:
        stored = runs.saved_evaluation(conn, row.id, key, version)
    assert stored is not None  # computed when the cross-validation finished
    assert stored == images.models.evaluate("cv")
    assert "evaluations" not in images.models.run("cv")["metrics"]  # a cache, not shown
    first = images.items(limit=1)[0][0]
    images.set_label(first["id"], "2", layer="ground_truth")
    with images.store.read() as conn:
        newer = runs.layers_version(conn, images.id, ["cv", "ground_truth"])
        assert newer != version
        assert runs.saved_evaluation(conn, row.id, key, newer) is None
    fresh = images.models.evaluate("cv")
    with images.store.read() as conn:
        assert runs.saved_evaluation(conn, row.id, key, newer) == fresh
