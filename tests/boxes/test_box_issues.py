"""Likely mislabeled boxes (assay.quality.boxes): cleanlab's object-detection check on predicted
boxes, its runs in the store, review cases with box evidence and their accept decision."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from assay.errors import Conflict, InvalidParameter
from assay.labels.kinds.boxes import box_array, iou_matrix
from assay.labels.scenes import (
    BoxNoise,
    make_scenes,
    simulate_box_annotators,
    simulate_predictions,
)
from assay.labels.writes import LabelWrite
from assay.quality.boxes import (
    DEFAULT_BOX_METHOD,
    cleanlab_od,
    find_box_issues,
    summary_text,
    to_cleanlab,
)
from assay.review.rules import apply_box_fixes
from boxkit import BoxScenes, box_scenes  # noqa: F401
from labelkit import project  # noqa: F401

NOISE = BoxNoise(miss=0.06, shift=0.08, shift_by=0.35, swap=0.06, spurious=0.0)


def _noisy(n: int, seed: int) -> tuple[Any, list[list[dict[str, Any]]], set[Any], list[Any]]:
    """Scenes, an annotator's boxes (with ids), the injected errors (image, kind, true index)
    and the true index of each labeled box."""
    scenes = make_scenes(n, seed=seed)
    sim = simulate_box_annotators(scenes, {"a": NOISE}, seed=seed)
    errors = {(i, kind, j) for _, i, kind, j in sim.errors}
    labels, truth_of = [], []
    for i, drawn in enumerate(sim.labels["a"]):
        truth_of.append([j for j in range(len(scenes.boxes[i])) if (i, "missed", j) not in errors])
        labels.append([{**b, "id": k + 1} for k, b in enumerate(drawn)])
    return scenes, labels, errors, truth_of


def test_the_cleanlab_method_is_cleanlabs_check() -> None:
    """Same image flags as find_label_issues, same scores as get_label_quality_scores."""
    from cleanlab.object_detection.filter import find_label_issues
    from cleanlab.object_detection.rank import get_label_quality_scores

    cleanlab_od()  # cleanlab's pools, which it leaves running, made serial

    scenes, labels, _, _ = _noisy(120, seed=3)
    preds = simulate_predictions(scenes.boxes, seed=4)
    found = find_box_issues(labels, preds, scenes.classes, "cleanlab")
    lab, pred, _ = to_cleanlab(labels, preds, scenes.classes)
    assert (found.is_issue == find_label_issues(lab, pred)).all()
    assert np.allclose(found.quality, get_label_quality_scores(lab, pred, verbose=False))
    assert found.is_issue.any()
    assert all(bool(s) == f for s, f in zip(found.suspects, found.is_issue, strict=True))


def test_default_method_finds_injected_errors() -> None:
    """Recall floors per kind and few false alarms, on seeded scenes and predictions."""
    scenes, labels, errors, truth_of = _noisy(300, seed=5)
    preds = simulate_predictions(scenes.boxes, seed=6)
    found = find_box_issues(labels, preds, scenes.classes)
    assert found.method == DEFAULT_BOX_METHOD
    hit: dict[str, set[Any]] = {"swapped": set(), "shifted": set(), "missed": set()}
    wrong = total = 0
    for i, suspects in enumerate(found.suspects):
        for s in suspects:
            total += 1
            if s["kind"] == "overlooked":
                missed = [j for (ii, k, j) in errors if ii == i and k == "missed"]
                true = box_array([scenes.boxes[i][j] for j in missed])
                iou = iou_matrix(box_array([s["pred"]]), true)
                if missed and iou.max() >= 0.5:
                    hit["missed"].add((i, missed[int(iou.argmax())]))
                else:
                    wrong += 1
                continue
            j = truth_of[i][s["box"] - 1] if s["box"] - 1 < len(truth_of[i]) else None
            kind = {"swapped": "swapped", "badly_located": "shifted"}[s["kind"]]
            if j is not None and (i, kind, j) in errors:
                hit[kind].add((i, j))
            elif not any((i, k, j) in errors for k in hit):
                wrong += 1
    n = {k: sum(1 for _, kk, _ in errors if kk == k) for k in hit}
    assert min(n.values()) >= 20  # enough of each kind to measure
    assert len(hit["swapped"]) >= 0.8 * n["swapped"]
    assert len(hit["missed"]) >= 0.8 * n["missed"]
    assert len(hit["shifted"]) >= 0.5 * n["shifted"]  # small shifts are within drawing error
    assert wrong <= 0.1 * total


def test_summary_and_fixes() -> None:
    suspects = [
        {"kind": "swapped", "box": 3, "class": "7", "suggested": "1", "p": 0.94,
         "pred": {"x": 1.0, "y": 1.0, "w": 5.0, "h": 5.0, "class": "1", "score": 0.94}},
        {"kind": "badly_located", "box": 2, "class": "4", "suggested": "4", "p": 0.9,
         "pred": {"x": 30.0, "y": 30.0, "w": 10.0, "h": 12.0, "class": "4", "score": 0.9}},
        {"kind": "overlooked", "box": None, "class": None, "suggested": "4", "p": 0.97,
         "pred": {"x": 10.0, "y": 20.0, "w": 8.0, "h": 8.0, "class": "4", "score": 0.97}},
    ]  # fmt: skip
    text = summary_text(suspects)
    assert "box 3: 7 looks like 1 (p=0.94)" in text
    assert "box 2 (4) badly located" in text and "an unlabeled 4 at (10, 20)" in text
    boxes = [{"id": 2, "class": "4", "x": 20.0, "y": 20.0, "w": 10.0, "h": 12.0},
             {"id": 3, "class": "7", "x": 1.0, "y": 1.0, "w": 5.0, "h": 5.0}]  # fmt: skip
    fixed = apply_box_fixes(boxes, suspects)
    assert fixed[1]["class"] == "1" and fixed[0]["x"] == 30.0 and fixed[0]["class"] == "4"
    assert fixed[2] == {"class": "4", "x": 10.0, "y": 20.0, "w": 8.0, "h": 8.0}
    assert boxes[1]["class"] == "7"  # the input is not changed


def _with_predictions(bs: BoxScenes) -> None:
    preds = simulate_predictions(bs.scenes.boxes, seed=11)
    bs.ds.create_layer("pred", value_kind="boxes", kind="model")
    bs.ds.set_labels([LabelWrite(i, b) for i, b in zip(bs.item_ids, preds, strict=True)],
                     layer="pred", author="detector")  # fmt: skip


def test_search_cases_and_accept(box_scenes: BoxScenes) -> None:  # noqa: F811
    bs = box_scenes
    _with_predictions(bs)
    ds = bs.ds
    run = ds.quality.find(layer="bob", model_layer="pred")
    assert run.family == "boxes" and run.n_items == len(bs.item_ids) and run.n_issues > 0
    assert run.model_layer == "pred" and run.method == DEFAULT_BOX_METHOD
    rows = ds.quality.issues()
    assert len(rows) == run.n_issues and all(r["suspects"] for r in rows)
    assert [r["quality"] for r in rows] == sorted(r["quality"] for r in rows)
    whole = ds.quality.issues(only_issues=False, limit=100)
    assert len(whole) == len(bs.item_ids)

    # The flagged images hold injected errors (bob misses, shifts and swaps boxes).
    errors = {i for name, i, _, _ in bs.simulated.errors if name == "bob"}
    flagged = {bs.item_ids.index(r["item_id"]) for r in rows}
    assert len(flagged & errors) >= 0.8 * len(flagged)

    opened = ds.quality.to_review()
    assert opened["mislabel"] == {"found": run.n_issues, "opened": run.n_issues}
    assert ds.quality.to_review()["mislabel"]["opened"] == 0  # once per image
    cases, _ = ds.review.list(reason="mislabel")
    by_item = {r["item_id"]: r for r in rows}
    for case in cases:
        ev, row = case["evidence"], by_item[case["item_id"]]
        assert ev["box_layers"] == ["bob", "pred"] and ev["layer"] == "bob"
        ids = {s["box"] for s in row["suspects"] if s["box"] is not None}
        assert set(ev["highlight"]["bob"]) == ids
        overlooked = [s for s in row["suspects"] if s["kind"] == "overlooked"]
        assert [(r["x"], r["class"], r["note"]) for r in ev["regions"]] == [
            (s["pred"]["x"], s["suggested"], "overlooked") for s in overlooked
        ]
        assert ev["summary"] == summary_text(row["suspects"])
    case = cases[0]
    shown = ds.review.evidence(case["id"])
    assert [f["layer"] for f in shown["figures"]] == ["bob", "pred"]
    assert shown["figures"][0]["highlight"] == case["evidence"]["highlight"]["bob"]
    assert shown["decision_layer"] == "bob"

    # A class name is not a box set (a box set written as JSON would be: the kind checks it);
    # accept applies the fixes as a new version of bob's boxes.
    with pytest.raises(InvalidParameter, match="about boxes: resolve it with 'accept'"):
        ds.review.resolve(case["id"], "7", "a class")
    with pytest.raises(InvalidParameter, match="about boxes: resolve it with 'accept'"):
        ds.review.resolve(case["id"], "seven", "a class")
    before = ds.item(case["item_id"])["labels"]["bob"]["value"]
    ds.review.resolve(case["id"], "accept", "as suggested", actor="rita")
    after = ds.item(case["item_id"])["labels"]["bob"]["value"]

    def strip(boxes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in b.items() if k != "id"} for b in boxes]

    assert strip(after) == strip(apply_box_fixes(before, case["evidence"]["fixes"]))
    assert after != before and [b["id"] for b in after[: len(before)]] == [b["id"] for b in before]
    assert ds.review.get(case["id"])["state"] == "resolved"
    # A decided image is not reopened from the same search.
    assert ds.quality.to_review()["mislabel"]["opened"] == 0

    # Another case whose boxes someone edited no longer holds.
    other = cases[1]
    boxes = ds.item(other["item_id"])["labels"]["bob"]["value"]
    ds.set_label(other["item_id"], boxes[:-1] if len(boxes) > 1 else [], layer="bob",
                 author="alice")  # fmt: skip
    with pytest.raises(Conflict, match="No longer holds"):
        ds.review.resolve(other["id"], "accept", "late")
    ds.review.refresh()
    assert ds.review.get(other["id"])["state"] == "obsolete"


def test_bad_input(box_scenes: BoxScenes) -> None:  # noqa: F811
    ds = box_scenes.ds
    with pytest.raises(InvalidParameter, match="--predictions"):
        ds.quality.find(layer="bob")
    with pytest.raises(InvalidParameter, match="Unknown label-issue method"):
        ds.quality.find(layer="bob", model_layer="alice", method="prune_by_class")
    ds.create_layer("empty", value_kind="boxes", kind="model")
    with pytest.raises(InvalidParameter, match="nothing to check"):
        ds.quality.find(layer="bob", model_layer="empty")
    with pytest.raises(InvalidParameter, match="has no score"):
        ds.quality.find(layer="bob", model_layer="alice")


def test_chunks(box_scenes: BoxScenes, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Images are read and scored a chunk at a time; every image both layers cover is kept."""
    from assay.quality import boxes

    _with_predictions(box_scenes)
    ds = box_scenes.ds
    ds.set_label(box_scenes.item_ids[3], None, layer="pred", author="detector")  # cleared
    monkeypatch.setattr(boxes, "CHUNK_IMAGES", 5)
    run = ds.quality.find(layer="bob", model_layer="pred")
    whole = ds.quality.issues(only_issues=False, limit=100)
    expected = len(box_scenes.item_ids) - 1
    assert run.n_items == len(whole) == expected
    assert sorted(r["item_id"] for r in whole) == sorted(
        i for k, i in enumerate(box_scenes.item_ids) if k != 3
    )


def test_cleanlabs_object_detection_leaves_no_threads_running() -> None:
    """cleanlab opens a multiprocessing Pool per call and leaves it running; made serial, no
    thread outlives the call (later imports here must be able to fork their writer)."""
    clf, _ = cleanlab_od()
    box = np.array([[10.0, 10.0, 30.0, 30.0]])
    labels = [{"bboxes": box, "labels": np.array([0])} for _ in range(3)]
    predictions = [[np.array([[10.0, 10.0, 30.0, 30.0, 0.9]]), np.zeros((0, 5))] for _ in range(3)]
    before = threading.active_count()
    ap = clf._get_per_class_ap(labels, predictions)
    assert len(ap) == 2 and threading.active_count() == before
