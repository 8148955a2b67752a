"""The review scan's low-confidence source on a box consensus layer: one case per image whose
fused boxes include some below the threshold (review.rules.unsure_boxes), a box case between
the consensus and the layers it fused, the unsure boxes highlighted; decided as a box set.
Pure scanning over a small store: SQLite only."""

from __future__ import annotations

from pathlib import Path

import assay
from assay.review.rules import unsure_boxes
from boxkit import make_box_dataset


def test_unsure_boxes_rule() -> None:
    boxes = [
        {"id": 1, "class": "a", "score": 0.9},
        {"id": 2, "class": "b", "score": 0.2},
        {"id": 3, "class": "c"},  # a person's box: no score, sure
        {"id": 4, "class": "d", "score": 0.4},
    ]
    assert [b["id"] for b in unsure_boxes(boxes, 0.5)] == [2, 4]
    assert unsure_boxes(boxes, 0.1) == []


def test_scan_opens_cases_for_unsure_fused_boxes(tmp_path: Path) -> None:
    project = assay.init(tmp_path / "p")
    made = make_box_dataset(project, "scenes", n=16)
    ds = made.ds
    annotators = ["alice", "bob", "carol"]
    ds.consensus(method="wbf", layers=annotators, into="fused")
    threshold = 0.8
    expected = {}
    for item in made.item_ids:
        boxes = ds.item(item)["labels"]["fused"]["value"]
        low = [b["id"] for b in boxes if b["score"] < threshold]
        if low:
            expected[item] = (low, min(b["score"] for b in boxes))
    assert 0 < len(expected) < len(made.item_ids)  # the scenes have both kinds of image
    result = ds.review_scan(layers=annotators, consensus_layer="fused", threshold=threshold)
    assert (result.low_confidence_found, result.low_confidence_opened) == (
        len(expected), len(expected),
    )  # fmt: skip
    cases, _ = ds.review.list(reason="low_confidence", state=["open"])
    by_item = {int(c["item_id"]): c for c in cases}
    assert set(by_item) == set(expected)
    item, (low, lowest) = next(iter(expected.items()))
    case = by_item[item]
    ev = case["evidence"]
    assert ev["box_layers"] == ["fused", *annotators] and ev["layer"] == "fused"
    assert sorted(ev["highlight"]["fused"]) == sorted(low)
    assert case["score"] == round(1 - lowest, 6)
    assert ev["summary"].startswith(f"{len(low)} of ")
    # Drawn on the case: the consensus and the annotators' boxes, the unsure ones highlighted.
    figures = ds.review.evidence(case["id"])["figures"]
    assert [f["layer"] for f in figures] == ["fused", *annotators]
    assert sorted(figures[0]["highlight"]) == sorted(low)
    # Scanning again opens nothing new; deciding writes a box set into reviewed.
    again = ds.review_scan(layers=annotators, consensus_layer="fused", threshold=threshold)
    assert again.low_confidence_opened == 0
    ds.review.resolve(case["id"], "alice", "alice boxed it right", actor="rev")
    assert ds.item(item)["labels"]["reviewed"]["value"] == ds.item(item)["labels"]["alice"]["value"]
    # A classification consensus keeps its own rule (no box case from a class layer).
    assert all(c["evidence"].get("box_layers") for c in cases)
