"""COCO evaluation of predicted boxes: the numbers equal pycocotools' COCOeval on the same
input, hand cases give the AP they must, and the false positives and negatives are the ones
planted (SQLite and PostgreSQL through the ``project`` fixture's ``store_url``)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

import assay
from assay.errors import InvalidParameter
from assay.labels.writes import LabelWrite
from assay.models.box_evaluation import evaluate_boxes
from boxkit import BoxScenes, make_box_dataset
from boxpredkit import predicted_boxes, write_predictions
from labelkit import project  # noqa: F401


@pytest.fixture
def scenes(project: assay.Project) -> BoxScenes:  # noqa: F811
    return make_box_dataset(project, n=30, seed=3)


def _box(name: str, x: float, y: float, w: float = 20, h: float = 20, **extra: Any) -> dict:
    return {"class": name, "x": x, "y": y, "w": w, "h": h, **extra}


def _pycocotools(
    ids: list[int], truth: list[list[dict]], preds: list[list[dict]], classes: list[str]
) -> Any:
    """pycocotools' COCOeval on the same boxes, built here independently of ours."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    cat = {c: k + 1 for k, c in enumerate(classes)}
    gt = COCO()
    gt.dataset = {
        "images": [{"id": i, "width": 96, "height": 96} for i in ids],
        "categories": [{"id": k, "name": c} for c, k in cat.items()],
        "annotations": [
            {"id": n, "image_id": i, "category_id": cat[b["class"]], "iscrowd": 0,
             "bbox": [b["x"], b["y"], b["w"], b["h"]], "area": b["w"] * b["h"]}
            for n, (i, b) in enumerate(
                ((i, b) for i, bs in zip(ids, truth, strict=True) for b in bs), start=1
            )
        ],
    }  # fmt: skip
    gt.createIndex()
    results = [
        {"image_id": i, "category_id": cat[b["class"]], "score": b["score"],
         "bbox": [b["x"], b["y"], b["w"], b["h"]]}
        for i, bs in zip(ids, preds, strict=True) for b in bs
    ]  # fmt: skip
    ev = COCOeval(gt, gt.loadRes(copy.deepcopy(results)), "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return ev


def test_numbers_equal_pycocotools(scenes: BoxScenes) -> None:
    preds = predicted_boxes(scenes.scenes.boxes, seed=5)
    write_predictions(scenes.ds, scenes.item_ids, preds)
    ours = evaluate_boxes(scenes.ds, "pred", reference_layer="boxes")
    ref = _pycocotools(scenes.item_ids, scenes.scenes.boxes, preds, scenes.scenes.classes)
    assert 0.2 < ours["map"] < 0.95  # a middling detector: the comparison means something
    assert ours["map"] == pytest.approx(ref.stats[0], abs=1e-9)
    assert ours["ap50"] == pytest.approx(ref.stats[1], abs=1e-9)
    assert ours["ap75"] == pytest.approx(ref.stats[2], abs=1e-9)
    assert ours["ar100"] == pytest.approx(ref.stats[8], abs=1e-9)
    precision = ref.eval["precision"]
    for k, row in enumerate(ours["per_class"]):
        ap = precision[:, :, k, 0, 2]
        expected = ap[ap > -1].mean() if (ap > -1).any() else None
        assert row["ap"] == pytest.approx(expected, abs=1e-9)
        ap50 = precision[0, :, k, 0, 2]
        assert row["ap50"] == (pytest.approx(ap50[ap50 > -1].mean(), abs=1e-9)
                               if (ap50 > -1).any() else None)  # fmt: skip
    overall = precision[0, :, :, 0, 2]
    curve = np.where(overall > -1, overall, np.nan)
    assert ours["pr_curves"]["overall"] == pytest.approx(
        list(np.round(np.nanmean(np.clip(curve, 0, None), axis=1), 4)), abs=1e-4
    )
    assert np.mean(ours["pr_curves"]["overall"]) == pytest.approx(ours["ap50"], abs=1e-3)
    assert ours["n_images"] == 30
    assert ours["n_truth_boxes"] == sum(len(b) for b in scenes.scenes.boxes)
    assert ours["n_predicted_boxes"] == sum(len(b) for b in preds)


def _write(
    ds: assay.Dataset, layer: str, ids: list[int], boxes: list[list[dict]], **kw: Any
) -> None:
    ds.create_layer(layer, value_kind="boxes", **kw)
    ds.set_labels([LabelWrite(i, b) for i, b in zip(ids, boxes, strict=True)], layer=layer)


def test_perfect_predictions_score_one(scenes: BoxScenes) -> None:
    perfect = [[{**b, "score": 0.9} for b in bs] for bs in scenes.scenes.boxes]
    write_predictions(scenes.ds, scenes.item_ids, perfect)
    r = evaluate_boxes(scenes.ds, "pred", reference_layer="boxes")
    assert r["map"] == pytest.approx(1.0)
    assert r["ap50"] == r["ap75"] == r["ar100"] == pytest.approx(1.0)
    assert r["false_positives"] == r["false_negatives"] == []
    assert r["at_threshold"] == {"tp": r["n_truth_boxes"], "fp": 0, "fn": 0, "precision": 1.0,
                                 "recall": 1.0, "f1": 1.0}  # fmt: skip
    matrix = np.array(r["confusion"]["matrix"])
    assert matrix.trace() == r["n_truth_boxes"] and matrix.sum() == matrix.trace()


def test_hand_cases(project: assay.Project) -> None:  # noqa: F811
    """Two images, class "1" twice and "2" once in the first, nothing in the second."""
    bs = make_box_dataset(project, n=2, seed=0)
    ds, ids = bs.ds, bs.item_ids
    truth = [[_box("1", 5, 5), _box("1", 50, 50), _box("2", 5, 60)], []]
    _write(ds, "truth", ids, truth)
    # One of the two "1"s missed, the "2" found: AP50 of "1" is 51/101 (COCO interpolates
    # precision at 101 recall points: 1 up to recall 0.5, 0 after), of "2" it is 1.
    preds = [[_box("1", 5, 5, score=0.9), _box("2", 5, 60, score=0.8)], []]
    write_predictions(ds, ids, preds, layer="half")
    r = evaluate_boxes(ds, "half", reference_layer="truth")
    ap50 = {c["class"]: c["ap50"] for c in r["per_class"]}
    assert ap50["1"] == pytest.approx(51 / 101) and ap50["2"] == pytest.approx(1.0)
    assert ap50["0"] is None  # no truth box of class 0: undefined, left out of the mean
    assert r["ap50"] == pytest.approx((51 / 101 + 1) / 2)
    assert r["n_images"] == 2 and r["n_truth_boxes"] == 3 and r["n_predicted_boxes"] == 2
    [fn] = r["false_negatives"]
    assert (fn["item_id"], fn["class"], fn["kind"], fn["prediction"]) == (
        ids[0],
        "1",
        "missed",
        None,
    )
    assert fn["box"]["x"] == 50 and fn["key"]

    # Confident mistakes: a background box (0.95) on the empty image, a "3" over the "2"
    # (wrong class), a duplicate "1"; plus a low-score box that only counts below 0.5.
    preds = [
        [_box("1", 5, 5, score=0.9), _box("1", 6, 5, score=0.7), _box("3", 5, 60, score=0.6),
         _box("1", 50, 50, score=0.3)],
        [_box("7", 40, 40, score=0.95)],
    ]  # fmt: skip
    write_predictions(ds, ids, preds, layer="noisy")
    r = evaluate_boxes(ds, "noisy", reference_layer="truth")
    fps = [(e["class"], e["score"], e["kind"]) for e in r["false_positives"]]
    assert fps == [("7", 0.95, "background"), ("1", 0.7, "duplicate"), ("3", 0.6, "wrong class")]
    assert r["false_positives"][0]["item_id"] == ids[1]
    assert r["false_positives"][2]["truth"]["class"] == "2"
    fns = {(e["class"], e["kind"]) for e in r["false_negatives"]}
    assert fns == {("2", "wrong class"), ("1", "missed")}  # the 0.3 box is under the threshold
    wrong = next(e for e in r["false_negatives"] if e["kind"] == "wrong class")
    assert wrong["prediction"]["class"] == "3" and wrong["prediction"]["score"] == 0.6
    assert r["at_threshold"]["tp"] == 1 and r["at_threshold"]["fp"] == 3
    cells = {(c["true"], c["pred"]): c["count"] for c in r["confusion"]["cells"]}
    assert cells == {("1", "1"): 1, ("1", "(none)"): 1, ("2", "3"): 1, ("(none)", "1"): 1,
                     ("(none)", "7"): 1}  # fmt: skip

    low = evaluate_boxes(ds, "noisy", reference_layer="truth", score_threshold=0.2)
    assert low["at_threshold"]["tp"] == 2 and low["at_threshold"]["fn"] == 1
    assert low["map"] == r["map"]  # AP does not depend on the threshold
    assert (
        evaluate_boxes(ds, "noisy", reference_layer="truth", top_errors=1)["false_positives"]
        == r["false_positives"][:1]
    )


def test_slices_and_refusals(scenes: BoxScenes) -> None:
    ds, ids = scenes.ds, scenes.item_ids
    preds = predicted_boxes(scenes.scenes.boxes, seed=1)
    write_predictions(ds, ids[:20], preds[:20])
    whole = evaluate_boxes(ds, "pred", reference_layer="boxes")
    assert whole["n_images"] == 20  # only images both layers label
    keys = {int(r["id"]): r["external_key"] for r in ds.items(limit=30)[0]}
    first = keys[ids[0]]
    one = evaluate_boxes(ds, "pred", f"key={first}", reference_layer="boxes")
    assert one["n_images"] == 1
    assert one["n_truth_boxes"] == len(scenes.scenes.boxes[0])
    assert {e["key"] for e in one["false_negatives"] + one["false_positives"]} <= {first}
    rest = evaluate_boxes(ds, "pred", f"key!={first}", reference_layer="boxes")
    assert rest["n_images"] == 19
    assert rest["n_truth_boxes"] + one["n_truth_boxes"] == whole["n_truth_boxes"]
    # The slice API (ds.models.evaluate) dispatches on the layer's kind.
    assert ds.models.evaluate("pred", reference_layer="boxes")["map"] == whole["map"]
    assert ds.models.evaluate("pred")["reference_layer"] == "boxes"  # the unowned human layer

    ds.create_layer("unscored", kind="model", value_kind="boxes")
    ds.set_label(ids[3], [_box("1", 5, 5)], layer="unscored")
    with pytest.raises(InvalidParameter, match=r"without a score \(item .*, box 1\)"):
        evaluate_boxes(ds, "unscored", reference_layer="boxes")
    with pytest.raises(InvalidParameter, match="nothing to evaluate"):
        evaluate_boxes(ds, "pred", f"key={first}", reference_layer="unscored")
    ds.create_layer("classes")
    with pytest.raises(InvalidParameter, match="not boxes"):
        evaluate_boxes(ds, "pred", reference_layer="classes")
    with pytest.raises(InvalidParameter, match="against itself"):
        evaluate_boxes(ds, "pred", reference_layer="pred")
    with pytest.raises(InvalidParameter, match="score_threshold"):
        evaluate_boxes(ds, "pred", reference_layer="boxes", score_threshold=1.5)
    with pytest.raises(InvalidParameter, match="predicted boxes"):
        ds.models.evaluate("classes", score_threshold=0.5)
