"""``ds.quality`` on a real store (SQLite and PostgreSQL): find, list, review, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from qualitykit import flip_labels, import_digits, noisy_labels, oof_knn_probs, write_probs_layer

import assay
from assay.errors import DataFormatError, InvalidParameter, LayerNotFound
from assay.quality.runs import RunNotFound
from assay.store import schema as t

N = 400


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> assay.Project:
    return assay.init(tmp_path, db=store_url)


@pytest.fixture
def noisy(project: assay.Project) -> tuple[assay.Dataset, np.ndarray]:
    """400 digits, 5% of them relabeled wrongly, and a k-NN out-of-fold probability layer."""
    ds = import_digits(project, N)
    flipped = flip_labels(ds, 0.05, seed=3)
    write_probs_layer(ds, "knn-cv", oof_knn_probs(noisy_labels(ds), seed=3))
    return ds, flipped


def test_find_list_and_review(noisy: tuple[assay.Dataset, np.ndarray]) -> None:
    ds, flipped = noisy
    run = ds.quality.find(model_layer="knn-cv")
    assert (run.layer, run.model_layer, run.n_items, run.features) == (
        "ground_truth", "knn-cv", N, "pixels",
    )  # fmt: skip
    assert ds.quality.run().run_id == run.run_id

    rows = ds.quality.issues(limit=1000)
    assert len(rows) == run.n_issues
    keys = {int(r["key"]) for r in rows}
    hits = len(keys & set(flipped.tolist()))
    assert hits >= 0.8 * len(flipped) and hits >= 0.8 * len(keys)
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)  # most likely first
    top = rows[0]
    assert top["given"] != top["suggested"] and top["is_issue"]
    assert len(top["neighbours"]) == 5 and all(n["key"] and n["label"] for n in top["neighbours"])
    assert 0 < top["confidence"] <= 1

    # keyset pages add up to the whole list
    first = ds.quality.issues(limit=3)
    second = ds.quality.issues(limit=3, after=first[-1]["cursor"])
    assert [r["key"] for r in first + second] == [r["key"] for r in rows[:6]]
    assert len(ds.quality.issues(limit=1000, only_issues=False)) == N

    result = ds.quality.to_review(actor="tester")
    assert result["mislabel"] == {"found": run.n_issues, "opened": run.n_issues}
    cases, _ = ds.review.list(reason="mislabel", limit=1000)
    assert {c["item_key"] for c in cases} == {r["key"] for r in rows}
    case = ds.review.get(cases[0]["id"])
    ev = case["evidence"]
    assert set(ev) >= {"given", "suggested", "quality", "confidence", "neighbours"}
    assert ev["given"] != ev["suggested"] and case["created_by"] == "tester"

    # a rerun opens nothing new; a dismissed case stays closed while the label is unchanged
    again = ds.quality.to_review(actor="tester")
    assert again["mislabel"]["opened"] == 0
    ds.review.dismiss(cases[0]["id"], "the label is right", actor="reviewer")
    ds.quality.find(model_layer="knn-cv")
    assert ds.quality.to_review(actor="tester")["mislabel"]["opened"] == 0


def test_search_again_replaces_the_rows(noisy: tuple[assay.Dataset, np.ndarray]) -> None:
    ds, _ = noisy
    first = ds.quality.find(model_layer="knn-cv", features=False)
    assert first.features is None and first.n_outliers == first.n_duplicates == 0
    assert ds.quality.issues(limit=1)[0]["neighbours"] == []
    tests = len(ds.items("split=test", limit=1000)[0])
    second = ds.quality.find(model_layer="knn-cv", filter="split=test")
    assert second.run_id == first.run_id and second.n_items == tests < N
    assert len(ds.quality.issues(limit=1000, only_issues=False)) == tests
    with pytest.raises(InvalidParameter, match="at least two classes"):
        ds.quality.find(model_layer="knn-cv", filter="label=3")
    with pytest.raises(InvalidParameter, match="of this slice"):
        ds.quality.find(model_layer="knn-cv", filter="split=nowhere")


def test_limit_caps_cases_per_reason(noisy: tuple[assay.Dataset, np.ndarray]) -> None:
    ds, _ = noisy
    ds.quality.find(model_layer="knn-cv")
    result = ds.quality.to_review(limit=2)
    assert result["mislabel"]["opened"] == 2
    assert result["outlier"]["opened"] <= 2


def _overwrite_probs(ds: assay.Dataset, layer: str, row: list[float]) -> None:
    layer_id = sa.select(t.layers.c.id).where(
        t.layers.c.dataset_id == ds.id, t.layers.c.name == layer
    )
    with ds.store.write() as conn:
        conn.execute(t.labels.update().where(t.labels.c.layer_id == layer_id.scalar_subquery())
                     .values(probs=row))  # fmt: skip


def test_bad_input(project: assay.Project) -> None:
    ds = import_digits(project, 60)
    with pytest.raises(RunNotFound, match="assay issues scan"):
        ds.quality.issues()
    with pytest.raises(LayerNotFound):
        ds.quality.find(model_layer="nope")
    with pytest.raises(LayerNotFound):
        ds.quality.find(layer="nope", model_layer="ground_truth")

    ds.create_layer("empty")
    write_probs_layer(ds, "model", np.full((60, 10), 0.1))
    with pytest.raises(InvalidParameter, match="No labels to check"):
        ds.quality.find(layer="empty", model_layer="model")
    with pytest.raises(InvalidParameter, match="has no class probabilities"):
        ds.quality.find(model_layer="ground_truth")  # labels, but no probabilities

    # The label writer refuses such probabilities; stored ones can still be stale (written for
    # another class list) or damaged, so write them behind its back.
    _overwrite_probs(ds, "model", [1 / 3] * 3)
    with pytest.raises(DataFormatError, match="wrong width"):
        ds.quality.find(model_layer="model")
    _overwrite_probs(ds, "model", [0.5] * 10)
    with pytest.raises(DataFormatError, match="sum to 1"):
        ds.quality.find(model_layer="model")
    _overwrite_probs(ds, "model", [0.1] * 10)
    ds.quality.find(model_layer="model", features=False)
    with pytest.raises(InvalidParameter, match="Unknown issue kind"):
        ds.quality.issues(kind="typo")
    with pytest.raises(InvalidParameter, match="Bad cursor"):
        ds.quality.issues(after="nonsense")
