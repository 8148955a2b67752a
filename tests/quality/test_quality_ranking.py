"""``ds.quality`` on a real store (SQLite and PostgreSQL): the method of each search, the full
ranking past the cut, review cases for its top, and probabilities that went stale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from qualitykit import noisy_digits, noisy_labels, oof_knn_probs

import assay
from assay.errors import InvalidParameter
from assay.quality.issues import find_label_issues
from assay.quality.methods import DEFAULT_METHOD
from assay.quality.runs import KEY, OLD_METHOD
from assay.store import schema as t

N = 300
METHOD = "predicted_neq_given"  # flags every misclassified item: many, whatever the default


@pytest.fixture
def ds(tmp_path: Path, store_url: str) -> assay.Dataset:
    """300 digits, 5% relabeled wrongly, with a k-NN out-of-fold probability layer."""
    return noisy_digits(assay.init(tmp_path, db=store_url), N, seed=2)[0]


def count(ds: assay.Dataset, table: sa.Table) -> int:
    with ds.store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_each_search_records_its_method(ds: assay.Dataset) -> None:
    first = ds.quality.find(model_layer="knn-cv", features=False)
    assert first.method == DEFAULT_METHOD and first.to_dict()["method"] == DEFAULT_METHOD
    assert first.stale is False and first.stale_message is None
    second = ds.quality.find(model_layer="knn-cv", features=False, method=METHOD)
    assert second.method == METHOD and ds.quality.run().method == METHOD
    labels = noisy_labels(ds)
    expected = find_label_issues(labels, oof_knn_probs(labels, seed=2), METHOD)
    assert second.n_issues == int(expected.is_issue.sum())


def test_an_unknown_method_stores_nothing_and_does_not_cross_validate(ds: assay.Dataset) -> None:
    with pytest.raises(InvalidParameter, match=r"Unknown label-issue method 'nope'.*cleanlab"):
        ds.quality.find(method="nope")  # no model layer: it would cross-validate first
    assert count(ds, t.model_runs) == count(ds, t.label_quality) == 0
    assert [layer["name"] for layer in ds.layers()] == ["ground_truth", "knn-cv"]


def test_a_search_stored_before_methods_reads_as_self_confidence(ds: assay.Dataset) -> None:
    run = ds.quality.find(model_layer="knn-cv", features=False)
    with ds.store.write() as conn:
        metrics = conn.execute(
            sa.select(t.model_runs.c.metrics).where(t.model_runs.c.id == run.run_id)
        ).scalar_one()
        metrics = orjson.loads(metrics) if isinstance(metrics, (str, bytes)) else dict(metrics)
        for key in ("method", "stale", "stale_message"):
            del metrics[KEY][key]
        conn.execute(
            t.model_runs.update().where(t.model_runs.c.id == run.run_id).values(metrics=metrics)
        )
    old = ds.quality.run()
    assert (old.method, old.stale, old.stale_message) == (OLD_METHOD, False, None)
    assert OLD_METHOD == "self_confidence"


def _whole(ds: assay.Dataset, limit: int) -> list[dict[str, Any]]:
    """The full ranking, page by page."""
    rows: list[dict[str, Any]] = []
    after = None
    while True:
        page = ds.quality.issues(limit=limit, after=after, only_issues=False)
        rows += page
        if len(page) < limit:
            return rows
        after = page[-1]["cursor"]


def test_the_full_ranking_pages_past_the_cut(ds: assay.Dataset) -> None:
    run = ds.quality.find(model_layer="knn-cv", features=False, method=METHOD)
    assert 0 < run.n_issues < N
    rows = _whole(ds, 7)
    assert sorted(r["item_id"] for r in rows) == sorted(ds.label_matrix(["ground_truth"]).item_ids)
    assert [r["rank"] for r in rows] == list(range(1, N + 1))
    flags = [r["is_issue"] for r in rows]
    assert flags == [True] * run.n_issues + [False] * (N - run.n_issues)
    flagged, rest = rows[: run.n_issues], rows[run.n_issues :]
    for part in (flagged, rest):
        keys = [(r["quality"], r["item_id"]) for r in part]
        assert keys == sorted(keys)
    # The flagged phase is the flagged list, in its order; one page gives the same.
    only = ds.quality.issues(limit=1000)
    assert [r["item_id"] for r in only] == [r["item_id"] for r in flagged]
    assert all(r["rank"] is None for r in only)
    assert [r["item_id"] for r in _whole(ds, 1000)] == [r["item_id"] for r in rows]
    # A page that ends on the last flagged item goes on with the rest.
    edge = ds.quality.issues(limit=run.n_issues, only_issues=False)
    after = ds.quality.issues(limit=2, after=edge[-1]["cursor"], only_issues=False)
    assert [r["item_id"] for r in after] == [r["item_id"] for r in rest[:2]]
    with pytest.raises(InvalidParameter, match="Bad cursor"):
        ds.quality.issues(after="x:1:0.5:3", only_issues=False)
    with pytest.raises(InvalidParameter, match="Bad cursor"):
        ds.quality.issues(after="0.5:3", only_issues=False)


def test_review_cases_for_the_top_of_the_ranking(ds: assay.Dataset) -> None:
    run = ds.quality.find(model_layer="knn-cv", features=False, method=METHOD)
    for bad in (0, -3):
        with pytest.raises(InvalidParameter, match="top must be at least 1"):
            ds.quality.to_review(top=bad)
    assert count(ds, t.review_cases) == 0
    top = run.n_issues + 5
    result = ds.quality.to_review(top=top, actor="qa")
    assert result["mislabel"] == {"found": top, "opened": top}
    cases, _ = ds.review.list(reason="mislabel", limit=1000)
    ranking = ds.quality.issues(limit=top, only_issues=False)
    assert {c["item_key"] for c in cases} == {r["key"] for r in ranking}
    flagged = [c["evidence"]["flagged"] for c in cases]
    assert flagged.count(True) == run.n_issues and flagged.count(False) == 5
    # The same top again opens nothing; a dismissed case stays closed; a larger top goes on.
    assert ds.quality.to_review(top=top)["mislabel"]["opened"] == 0
    ds.review.dismiss(cases[0]["id"], "the label is right", actor="reviewer")
    again = ds.quality.to_review(top=top + 3)
    assert again["mislabel"] == {"found": top + 2, "opened": 3}


def test_probabilities_of_a_cross_validation_whose_labels_changed_are_stale(
    ds: assay.Dataset,
) -> None:
    ds.models.cross_validate(name="cv", folds=3, model="logreg")
    fresh = ds.quality.find(model_layer="cv", features=False, method=METHOD)
    assert fresh.stale is False and fresh.stale_message is None
    ds.set_label("0", "9" if noisy_labels(ds)[0] != 9 else "8", layer="ground_truth")
    stale = ds.quality.find(model_layer="cv", features=False, method=METHOD)
    assert stale.stale is True and stale.to_dict()["stale"] is True
    assert "'ground_truth' changed after cross-validation run 'cv'" in str(stale.stale_message)
    assert ds.quality.run().stale is True  # stored with the search
    # Outside probabilities (no cross-validation behind them) are never stale.
    assert ds.quality.find(model_layer="knn-cv", features=False).stale is False
    # A new cross-validation is up to date again.
    redone = ds.quality.find(model="logreg", folds=3, features=False, reuse=False)
    assert redone.stale is False and redone.model_layer != "cv"
