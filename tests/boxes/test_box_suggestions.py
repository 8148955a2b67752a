"""Suggestions for box layers: images ranked by the uncertainty of predicted boxes, the list
in the store, the labeling queue's order, the CLI, and strategies refused for the wrong kind
(SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

import assay
from assay.active import EmptyPool, queue
from assay.active.boxes import box_uncertainty, rank_box_pool
from assay.cli import app
from assay.errors import InvalidParameter
from assay.ingest.arrays import import_arrays
from assay.labels.writes import LabelWrite
from boxkit import BoxScenes, box_scenes  # noqa: F401
from labelkit import project  # noqa: F401

runner = CliRunner()
# Notes (batch clamped, images without predictions) are also warnings; checked where it matters.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _pred(*scores: float) -> list[dict[str, object]]:
    return [
        {"class": "a", "x": 2 + 10 * k, "y": 2, "w": 8, "h": 8, "score": s}
        for k, s in enumerate(scores)
    ]


@pytest.fixture
def hand(project: assay.Project) -> tuple[assay.Dataset, list[int]]:  # noqa: F811
    """Seven 64 x 32 images: 0 annotated in ``gt``; predictions in ``pred`` near 0.5 (1),
    sure (2), one borderline box among sure ones (3), none at all (4), an empty prediction (5),
    the same scores as 2 (6)."""
    images = np.zeros((7, 32, 64), dtype=np.uint8)
    import_arrays(
        project.store, [(images, [None] * 7)], dataset="hand", source="t", format="t",
        classes=["a", "b"],
    )  # fmt: skip
    ds = project.dataset("hand")
    ids = [int(r["id"]) for r in ds.items(limit=7)[0]]
    ds.create_layer("gt", value_kind="boxes")
    ds.set_labels([LabelWrite(ids[0], [])], layer="gt", author="ann")
    ds.create_layer("pred", kind="model", value_kind="boxes")
    ds.set_labels(
        [
            LabelWrite(ids[0], _pred(0.5)),
            LabelWrite(ids[1], _pred(0.5, 0.45)),
            LabelWrite(ids[2], _pred(0.99, 0.98)),
            LabelWrite(ids[3], _pred(0.97, 0.35)),
            LabelWrite(ids[5], []),
            LabelWrite(ids[6], _pred(0.98, 0.99)),
        ],
        layer="pred",
        author="model",
    )
    return ds, ids


def test_uncertainty_of_scores() -> None:
    near, why = box_uncertainty([0.5, 0.45])
    sure, _ = box_uncertainty([0.99, 0.99, 0.98])
    assert near > 0.9 > 0.05 > sure
    assert "unsure anything is there" in why
    # One borderline box among many sure ones still counts (the middle band weighs 3x).
    mixed, why = box_uncertainty([0.99] * 5 + [0.4])
    assert mixed == pytest.approx((5 * 0.02 + 3 * 0.8) / 8)
    assert why.startswith("1 of 6 predicted boxes with scores in 0.3-0.7")
    assert box_uncertainty([]) == (0.0, "the model found nothing here")
    faint, why = box_uncertainty([0.4])
    assert faint == pytest.approx(0.8) and "best score 0.40" in why


def test_hand_ranking(hand: tuple[assay.Dataset, list[int]]) -> None:
    ds, ids = hand
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ranked = rank_box_pool(ds, "gt", predictions="pred", batch=10)
    # near 0.5, one borderline box, sure (tie: smaller id first), empty, no predictions
    assert ranked.item_ids.tolist() == [ids[1], ids[3], ids[2], ids[6], ids[5], ids[4]]
    assert ranked.strategy == "box-uncertainty" and ranked.model == "pred"
    assert (ranked.n_pool, ranked.n_labeled) == (6, 1)
    scores = ranked.selection.scores
    assert scores[0] > 0.9 > scores[1] > 0.5 > scores[2] == scores[3] > scores[4] == 0.0
    assert ranked.selection.reasons[-1] == "no predictions in layer 'pred'"
    assert any("have no predictions" in n for n in ranked.notes)
    assert any("larger than the pool" in str(w.message) for w in caught)


def test_stored_list_and_the_queue_serve_that_order(hand: tuple[assay.Dataset, list[int]]) -> None:
    ds, ids = hand
    made = ds.suggestions.suggest("gt", predictions="pred", batch=3)
    assert (made.strategy, made.model, made.n_suggestions, made.n_done) == (
        "box-uncertainty",
        "pred",
        3,
        0,
    )
    rows = ds.suggestions.items("gt")
    assert [r["item_id"] for r in rows] == [ids[1], ids[3], ids[2]]
    assert "unsure anything is there" in rows[0]["reason"]
    with ds.store.read() as conn:
        layer_id = int(conn.exec_driver_sql("SELECT id FROM layers WHERE name = 'gt'").scalar())
    page, labeled = queue.serve(ds.store, ds.id, layer_id, filter=None, after=None, limit=10)
    # The list first, then the rest of the unannotated images by id; ids[0] is annotated ([]).
    assert page.ids == [ids[1], ids[3], ids[2], ids[4], ids[5], ids[6]]
    assert page.reasons[ids[1]]["rank"] == 1 and labeled == 1
    # Boxing the first image (an empty set counts) moves the queue on and marks it done.
    ds.set_label(ids[1], [], layer="gt", author="ann")
    page, labeled = queue.serve(ds.store, ds.id, layer_id, filter=None, after=None, limit=2)
    assert page.ids == [ids[3], ids[2]] and labeled == 2
    page2, _ = queue.serve(ds.store, ds.id, layer_id, filter=None, after=page.cursor, limit=10)
    assert page2.ids == [ids[4], ids[5], ids[6]]
    assert ds.suggestions.current("gt").n_done == 1  # type: ignore[union-attr]
    done = ds.suggestions.items("gt")[0]
    assert done["done"] and done["label"] == "no boxes"
    assert [r["item_id"] for r in ds.suggestions.next("gt")] == [ids[3], ids[2]]
    # A refresh keeps the predictions layer.
    again = ds.suggestions.refresh("gt")
    assert again.model == "pred" and ds.suggestions.items("gt")[0]["item_id"] == ids[3]


def test_kinds_and_strategies_that_do_not_fit(hand: tuple[assay.Dataset, list[int]]) -> None:
    ds, ids = hand
    fits = "layer 'gt' holds boxes labels: use auto, random, box-uncertainty"
    with pytest.raises(InvalidParameter, match=fits):
        ds.suggestions.suggest("gt", strategy="margin")
    ds.create_layer("cls")
    with pytest.raises(InvalidParameter, match="'box-uncertainty' ranks boxes layers; layer 'cls'"):
        ds.suggestions.suggest("cls", strategy="box-uncertainty")
    with pytest.raises(InvalidParameter, match="holds classification labels, not boxes"):
        ds.suggestions.suggest("gt", predictions="cls")
    # A strategy that does not fit is refused before a list is claimed; a bad predictions
    # layer is found while ranking, and the list says why it failed.
    (failed,) = ds.suggestions.lists("gt")
    assert failed.state == "failed" and "not boxes" in (failed.error or "")
    # Without --predictions: the only model box layer, said in a note; two: name one.
    made = ds.suggestions.suggest("gt", batch=2)
    assert made.model == "pred" and "the only model box layer" in made.notes[0]
    ds.create_layer("pred2", kind="model", value_kind="boxes")
    with pytest.raises(InvalidParameter, match=r"--predictions \(model box layers here: pred, "):
        ds.suggestions.suggest("gt")
    rnd = ds.suggestions.suggest("gt", strategy="random", batch=6, seed=1)
    assert rnd.strategy == "random" and rnd.model is None
    assert sorted(r["item_id"] for r in ds.suggestions.items("gt")) == ids[1:]
    ds.set_labels([LabelWrite(i, []) for i in ids[1:]], layer="gt", author="ann")
    with pytest.raises(EmptyPool, match="all 7 images are annotated"):
        rank_box_pool(ds, "gt", predictions="pred")


def test_scenes_rank_by_predictions(box_scenes: BoxScenes) -> None:  # noqa: F811
    """On the digit scenes: an image whose predicted scores are borderline comes first."""
    ds, ids = box_scenes.ds, box_scenes.item_ids
    ds.create_layer("todo", value_kind="boxes")
    ds.create_layer("det", kind="model", value_kind="boxes")
    rng = np.random.default_rng(0)
    writes = []
    for k, (item, boxes) in enumerate(zip(ids, box_scenes.scenes.boxes, strict=True)):
        low = k in (5, 17)
        scored = [
            {**b, "score": float(rng.uniform(0.4, 0.6) if low else rng.uniform(0.95, 1.0))}
            for b in boxes
        ]
        writes.append(LabelWrite(item, scored))
    ds.set_labels(writes, layer="det", author="detector")
    ranked = rank_box_pool(ds, "todo", predictions="det", batch=4)
    assert sorted(ranked.item_ids[:2].tolist()) == [ids[5], ids[17]]
    assert ranked.n_pool == len(ids)


def test_cli_suggest_box_layer(hand: tuple[assay.Dataset, list[int]]) -> None:
    ds, ids = hand
    base = ["-p", str(ds.project.root), "--db", ds.store.url]
    args = [*base, "suggest", "--layer", "gt", "--predictions", "pred", "--batch", "2"]
    result = runner.invoke(app, [*args, "--json"], env={"ASSAY_USER": "cli-user"})
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["list"]["strategy"] == "box-uncertainty" and out["list"]["model"] == "pred"
    assert [r["item_id"] for r in out["suggestions"]] == [ids[1], ids[3]]
    result = runner.invoke(app, [*base, "suggest", "--layer", "gt", "--strategy", "diverse"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "holds boxes labels: use auto, random, box-uncertainty" in result.output
    result = runner.invoke(app, [*base, "suggest", "--layer", "gt", "--show"])
    assert result.exit_code == 0 and "box-uncertainty on pred" in result.output
