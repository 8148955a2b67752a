"""Suggestion lists in the store (SQLite and PostgreSQL): recorded with strategy, model and
scores; done as labels arrive; refresh re-ranks; every bad input gives its message."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from activekit import CLASSES, make_points, points
from sklearn.linear_model import LogisticRegression

import assay
from assay.active import EmptyPool, ListNotFound, Suggestions, SuggestionsBusy, lists
from assay.errors import InvalidParameter, LayerNotFound
from assay.store import queries
from assay.store import schema as t

X, Y = points(40)


def label(ds: assay.Dataset, keys: list[int], layer: str = "alice") -> None:
    ds.set_labels([(f"p{i}", CLASSES[int(Y[i])]) for i in keys], layer=layer)


def test_suggest_records_strategy_model_scores_and_why(ds: assay.Dataset) -> None:
    label(ds, [0, 1, 2, 3, 4, 5])
    assert len(set(Y[:6])) == 2
    s = Suggestions(ds)
    made = s.suggest("alice", strategy="margin", batch=5)
    assert (made.state, made.requested, made.strategy) == ("ready", "margin", "margin")
    assert (made.model, made.featurizer) == ("logreg", "tabular")
    assert (made.n_pool, made.n_labeled, made.n_suggestions, made.n_done) == (34, 6, 5, 0)
    assert made.notes == []
    rows = s.items("alice")
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert all(r["reason"].startswith("margin ") for r in rows)
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True) and 0 <= scores[-1] <= 1
    labeled = {f"p{i}" for i in range(6)}
    assert not labeled & {r["key"] for r in rows}
    # the picks sit nearest the boundary x0 + 0.2 x1 = 0.3 among the pool
    distance = {f"p{i}": abs(X[i, 0] + 0.2 * X[i, 1] - 0.3) for i in range(6, 40)}
    assert np.median([distance[r["key"]] for r in rows]) < np.median(list(distance.values()))


def test_labels_arriving_mark_suggestions_done_and_next_skips_them(ds: assay.Dataset) -> None:
    label(ds, [0, 1, 2, 3, 4, 5])
    s = Suggestions(ds)
    s.suggest("alice", strategy="entropy", batch=6)
    first = s.items("alice")
    ds.set_labels([(first[0]["key"], "pos"), (first[2]["key"], "neg")], layer="alice")
    current = s.current("alice")
    assert current is not None and (current.n_suggestions, current.n_done) == (6, 2)
    rows = s.items("alice")
    assert [r["done"] for r in rows] == [True, False, True, False, False, False]
    assert (rows[0]["label"], rows[2]["label"]) == ("pos", "neg")
    assert [r["rank"] for r in s.next("alice")] == [2, 4, 5, 6]
    assert [r["rank"] for r in s.next("alice", limit=2)] == [2, 4]
    # after an item: the ones ranked below it; an item the list does not hold: from the top
    assert [r["rank"] for r in s.next("alice", after=rows[3]["item_id"])] == [5, 6]
    assert [r["rank"] for r in s.next("alice", after=10_000)] == [2, 4, 5, 6]
    # a cleared label puts the item back in the queue
    ds.set_label(first[0]["key"], None, layer="alice")
    assert [r["rank"] for r in s.next("alice")] == [1, 2, 4, 5, 6]
    assert [r["rank"] for r in s.items("alice", pending_only=True)] == [1, 2, 4, 5, 6]


def test_refresh_retrains_on_new_labels_and_reranks(ds: assay.Dataset) -> None:
    s = Suggestions(ds)
    first = s.suggest("alice", batch=8)  # auto, nothing labeled: cold start
    assert first.strategy == "cold-start" and first.model is None
    assert "no model can be trained yet" in first.notes[0]
    keys = [int(r["key"][1:]) for r in s.items("alice")]
    label(ds, keys)
    assert len(set(Y[keys])) == 2
    again = s.refresh("alice")
    assert again.list_id != first.list_id
    assert (again.requested, again.strategy, again.model) == ("auto", "diverse", "logreg")
    assert (again.n_labeled, again.n_pool, again.batch) == (8, 32, 8)
    assert s.get(first.list_id).state == "superseded"
    assert s.current("alice") == s.get(again.list_id)
    new_keys = {r["key"] for r in s.items("alice")}
    assert not new_keys & {f"p{i}" for i in keys}
    assert all("cluster centres" in r["reason"] for r in s.items("alice"))
    assert s.refresh("alice", batch=3).n_suggestions == 3
    assert [x.state for x in s.lists("alice")] == ["ready", "superseded", "superseded"]


def test_refresh_while_another_runs_is_refused(ds: assay.Dataset) -> None:
    s = Suggestions(ds)
    s.suggest("alice", strategy="random", batch=3)
    with ds.store.write() as conn:
        layer = queries.get_layer(conn, ds.id, "alice")
        running = lists.claim(
            conn,
            ds.id,
            layer,
            requested="margin",
            batch=5,
            seed=0,
            filter=None,
            params={},
            author="bob",
        )
    with pytest.raises(SuggestionsBusy, match=r"already being computed .* by bob"):
        s.refresh("alice")
    with pytest.raises(SuggestionsBusy, match="Wait for that run to finish"):
        s.suggest("alice")
    assert [x.state for x in s.lists("alice")] == ["running", "ready"]
    assert s.get(running).n_suggestions == 0
    # once that run ends, refreshing works again
    with ds.store.write() as conn:
        lists.fail(conn, running, "stopped")
    assert s.refresh("alice").strategy == "random"


def test_two_claims_racing_for_a_layer_one_gets_a_clear_refusal(
    ds: assay.Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The partial unique index, not the check before it, decides a race: the loser's insert
    fails inside a savepoint and becomes SuggestionsBusy; its transaction stays usable."""
    with ds.store.write() as conn:
        layer = queries.get_layer(conn, ds.id, "alice")
        lists.claim(
            conn,
            ds.id,
            layer,
            requested="random",
            batch=1,
            seed=0,
            filter=None,
            params={},
            author="first",
        )
    real = lists._running
    calls = iter([None, None])  # the racer's checks (abandoned? running?) see nothing yet
    monkeypatch.setattr(
        lists, "_running", lambda conn, layer_id: next(calls, None) or real(conn, layer_id)
    )
    with ds.store.write() as conn:
        with pytest.raises(SuggestionsBusy, match="by first"):
            lists.claim(
                conn,
                ds.id,
                layer,
                requested="random",
                batch=1,
                seed=0,
                filter=None,
                params={},
                author="second",
            )
        assert next(calls, "used up") == "used up"  # both checks passed: the index refused
        assert lists.latest(conn, ds.id, layer.id, ("running",)).created_by == "first"


def test_a_list_left_running_by_a_dead_process_is_taken_over(ds: assay.Dataset) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    with ds.store.write() as conn:
        layer = queries.get_layer(conn, ds.id, "alice")
        stale = lists.claim(
            conn,
            ds.id,
            layer,
            requested="margin",
            batch=5,
            seed=0,
            filter=None,
            params={},
            author="bob",
        )
        conn.execute(
            t.suggestion_lists.update()
            .where(t.suggestion_lists.c.id == stale)
            .values(pid=int(gone.stdout))
        )
    made = Suggestions(ds).suggest("alice", strategy="random", batch=2)
    assert made.state == "ready"
    old = Suggestions(ds).get(stale)
    assert old.state == "failed" and old.error == "abandoned: its process is gone"


def test_probability_strategy_without_a_model_falls_back_to_cold_start(
    ds: assay.Dataset,
) -> None:
    label(ds, [i for i in range(40) if Y[i] == 1][:3])  # one class only
    with pytest.warns(UserWarning, match="labels of only one class .* cold start"):
        made = Suggestions(ds).suggest("alice", strategy="margin", batch=4)
    assert (made.requested, made.strategy, made.model) == ("margin", "cold-start", None)
    assert "ranked by cold start (representative items) instead" in made.notes[0]
    reasons = [r["reason"] for r in Suggestions(ds).items("alice")]
    assert all(r.startswith("nearest to the centre of a cluster") for r in reasons)


def test_batch_larger_than_the_pool_is_clamped_with_a_warning(ds: assay.Dataset) -> None:
    label(ds, list(range(37)))
    with pytest.warns(UserWarning, match=r"The batch \(10\) is larger than the pool .* \(3\)"):
        made = Suggestions(ds).suggest("alice", strategy="least-confidence", batch=10)
    assert made.n_suggestions == 3 and made.batch == 10
    assert "suggesting all 3" in made.notes[0]
    assert {r["key"] for r in Suggestions(ds).items("alice")} == {"p37", "p38", "p39"}


def test_empty_pool_is_refused_and_keeps_the_current_list(ds: assay.Dataset) -> None:
    s = Suggestions(ds)
    label(ds, list(range(6)))
    before = s.suggest("alice", strategy="margin", batch=2)
    label(ds, list(range(40)))
    with pytest.raises(EmptyPool, match="Nothing left to suggest: all 40 items are labeled in"):
        s.refresh("alice")
    assert s.current("alice") == s.get(before.list_id)
    failed = s.lists("alice")[0]
    assert failed.state == "failed" and "EmptyPool" in (failed.error or "")


def test_bad_strategy_batch_layer_and_refresh_without_a_list(ds: assay.Dataset) -> None:
    s = Suggestions(ds)
    with pytest.raises(InvalidParameter, match=r"Unknown strategy .smartest.\. Use auto or one of"):
        s.suggest("alice", strategy="smartest")
    with pytest.raises(InvalidParameter, match=r"'batch': Input should be greater than or equal"):
        s.suggest("alice", batch=0)
    with pytest.raises(LayerNotFound, match="No layer 'bob'"):
        s.suggest("bob")
    with pytest.raises(ListNotFound, match="no suggestions to refresh yet; make a list first"):
        s.refresh("alice")
    with pytest.raises(InvalidParameter, match="a name or an unfitted scikit-learn estimator"):
        s.suggest("alice", model=object())
    with pytest.raises(InvalidParameter, match="store the model by name"):
        s.suggest("alice", model=LogisticRegression())
    assert s.lists() == [] and s.current("alice") is None and s.next("alice") == []


def test_a_dataset_without_classes_has_nothing_to_suggest(project: assay.Project) -> None:
    bare = make_points(project, "bare", labels=False)
    bare.create_layer("alice")
    with pytest.raises(InvalidParameter, match="'bare' has no classes, so there is nothing"):
        Suggestions(bare).suggest("alice")


def test_activelab_suggests_the_items_annotators_disagree_on(ds: assay.Dataset) -> None:
    for name in ("ann1", "ann2"):
        ds.create_layer(name)
    label(ds, list(range(30)), "ann1")
    label(ds, list(range(30)), "ann2")
    flipped = [3, 7]  # ann2 disagrees with ann1 on these
    ds.set_labels([(f"p{i}", CLASSES[1 - int(Y[i])]) for i in flipped], layer="ann2")
    made = Suggestions(ds).suggest(
        "alice", strategy="activelab", batch=5, annotators=["ann1", "ann2"]
    )
    assert (made.strategy, made.model) == ("activelab", "logreg")
    rows = Suggestions(ds).items("alice")
    top = {r["key"] for r in rows[:4]}
    assert {"p3", "p7"} <= top
    assert any("that disagree" in r["reason"] for r in rows)
    with pytest.raises(InvalidParameter, match="ActiveLab needs items labeled by annotator"):
        Suggestions(ds).suggest("alice", strategy="activelab", annotators=["alice"])
