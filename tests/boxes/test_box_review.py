"""The review scan on box layers: one case per image where layers differ (a box one drew and
another did not, a class conflict, a poor overlap), every box at issue highlighted and drawn
side by side; a decision writes a box set into the reviewed layer; a case whose layers
changed closes as obsolete."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import assay
from assay.cli import app
from assay.errors import Conflict, InvalidParameter
from boxkit import BoxScenes, box_scenes  # noqa: F401
from labelkit import project  # noqa: F401


def box(cls: str, x: float, y: float, w: float, h: float) -> dict[str, object]:
    return {"class": cls, "x": x, "y": y, "w": w, "h": h}


HAND = {  # image -> (p's boxes, q's boxes)
    0: (  # p's box 3 and q's box 3 are each drawn by one layer only
        [box("1", 0, 0, 10, 10), box("2", 20, 20, 10, 10), box("3", 50, 50, 10, 10)],
        [box("1", 0, 0, 10, 10), box("2", 22, 20, 10, 10), box("4", 70, 70, 10, 10)],
    ),
    1: ([box("5", 0, 0, 20, 20)], [box("6", 0, 0, 20, 20)]),  # class conflict
    2: ([box("7", 0, 0, 10, 10)], [box("7", 0, 0, 10, 10)]),  # agree
    3: ([box("7", 10, 10, 20, 20)], [box("7", 18, 10, 20, 20)]),  # IoU 0.43: poor overlap
}


@pytest.fixture
def hand(box_scenes: BoxScenes) -> BoxScenes:  # noqa: F811
    ds = box_scenes.ds
    for n, layer in enumerate(("p", "q")):
        ds.create_layer(layer, value_kind="boxes", owner=layer)
        for k, pair in HAND.items():
            ds.set_label(box_scenes.item_ids[k], pair[n], layer=layer, author=layer)
    return box_scenes


def cases_by_item(ds: assay.Dataset) -> dict[int, dict[str, object]]:
    cases, _ = ds.review.list(reason="disagreement", state=["open"])
    return {int(c["item_id"]): c for c in cases}


def test_the_scan_opens_one_case_per_image_for_each_reason(hand: BoxScenes) -> None:
    ds, ids = hand.ds, hand.item_ids
    result = ds.review_scan(layers=["p", "q"], consensus_layer=None)
    assert (result.disagreement_found, result.disagreement_opened) == (3, 3)
    cases = cases_by_item(ds)
    assert set(cases) == {ids[0], ids[1], ids[3]}
    missing, conflict, poor = (cases[ids[k]]["evidence"] for k in (0, 1, 3))
    assert missing["counts"] == {"missing": 2, "class": 0, "overlap": 0}  # type: ignore[index]
    assert missing["highlight"] == {"p": [3], "q": [3]}  # type: ignore[index]
    assert missing["box_layers"] == ["p", "q"]  # type: ignore[index]
    assert {(i["layer"], i["class"]) for i in missing["issues"]} == {("p", "3"), ("q", "4")}  # type: ignore[index]
    assert conflict["counts"]["class"] == 1  # type: ignore[index]
    (issue,) = conflict["issues"]  # type: ignore[index]
    assert issue["classes"] == ["5", "6"] and issue["iou"] == 1.0
    assert poor["counts"]["overlap"] == 2  # type: ignore[index]  # each box against the other
    assert poor["issues"][0]["iou"] == pytest.approx(240 / 560, abs=1e-4)  # type: ignore[index]
    assert poor["highlight"] == {"p": [1], "q": [1]}  # type: ignore[index]
    # Most contested first: the score is 1 - the image's mean class-aware F1.
    assert cases[ids[1]]["score"] == pytest.approx(1.0, abs=1e-5)
    assert cases[ids[0]]["score"] == pytest.approx(1 - 4 / 6, abs=1e-5)
    assert cases[ids[1]]["label"] is None  # no class at issue: a box set is
    # The figures: each layer on the image, as it is now, with the boxes at issue.
    ev = ds.review.evidence(int(cases[ids[0]]["id"]))  # type: ignore[call-overload]
    assert [f["layer"] for f in ev["figures"]] == ["p", "q"]
    assert [b["class"] for b in ev["figures"][0]["boxes"]] == ["1", "2", "3"]
    assert ev["figures"][1]["highlight"] == [3]
    assert ev["decision_layer"] == "reviewed"
    # A second scan opens nothing new.
    again = ds.review_scan(layers=["p", "q"], consensus_layer=None)
    assert (again.disagreement_found, again.disagreement_opened) == (3, 0)


def test_a_decision_writes_a_box_set_into_the_reviewed_box_layer(hand: BoxScenes) -> None:
    ds, ids = hand.ds, hand.item_ids
    ds.create_layer("r", value_kind="boxes", owner="r")
    ds.set_label(ids[0], HAND[0][0], layer="r", author="r")  # as p: 3 is drawn by two of three
    ds.review_scan(layers=["p", "q", "r"], consensus_layer=None)
    cases = cases_by_item(ds)
    with pytest.raises(InvalidParameter, match=r"accept .* keep .* not '3'"):
        ds.review.resolve(int(cases[ids[0]]["id"]), "3", "a class", actor="rev")  # type: ignore[call-overload]
    done = ds.review.resolve(int(cases[ids[0]]["id"]), "accept", "two of three", actor="rev")  # type: ignore[call-overload]
    assert done["state"] == "resolved" and done["events"][-1]["data"]["layer"] == "reviewed"
    reviewed = ds.item(ids[0])["labels"]["reviewed"]
    assert sorted(b["class"] for b in reviewed["value"]) == ["1", "2", "3"]  # 4: q's only
    assert all("score" not in b for b in reviewed["value"])
    assert reviewed["author"] == "rev" and "fused boxes of p, q, r" in reviewed["note"]
    layer = ds.layer("reviewed")
    assert (layer["kind"], layer["value_kind"]) == ("reviewed", "boxes")
    ds.review.resolve(int(cases[ids[1]]["id"]), "q", "q is right", actor="rev")  # type: ignore[call-overload]
    assert [b["class"] for b in ds.item(ids[1])["labels"]["reviewed"]["value"]] == ["6"]
    ds.review.resolve(int(cases[ids[3]]["id"]), "keep", "p is right", actor="rev")  # type: ignore[call-overload]
    assert ds.item(ids[3])["labels"]["reviewed"]["value"][0]["x"] == 10.0
    # Decided while the layers say what they say now: not reopened.
    assert ds.review_scan(layers=["p", "q", "r"], consensus_layer=None).disagreement_opened == 0


def test_box_decisions_never_land_in_a_class_layer(hand: BoxScenes) -> None:
    ds, ids = hand.ds, hand.item_ids
    ds.create_layer("cls")
    ds.create_layer("cls2")
    ds.set_label(ids[5], "1", layer="cls", author="a")
    ds.set_label(ids[5], "2", layer="cls2", author="b")
    ds.review_scan(layers=["cls", "cls2"], consensus_layer=None)
    (case,) = cases_by_item(ds).values()
    ds.review.resolve(int(case["id"]), "1", "one", actor="rev")  # type: ignore[call-overload]
    assert ds.layer("reviewed")["value_kind"] == "classification"
    ds.review_scan(layers=["p", "q"], consensus_layer=None)
    box_case = cases_by_item(ds)[ids[1]]
    done = ds.review.resolve(int(box_case["id"]), "p", "p", actor="rev")  # type: ignore[call-overload]
    assert done["events"][-1]["data"]["layer"] == "reviewed_boxes"
    assert ds.layer("reviewed_boxes")["value_kind"] == "boxes"
    assert ds.item(ids[1])["labels"]["reviewed_boxes"]["value"][0]["class"] == "5"


def test_a_box_case_whose_layers_changed_closes_as_obsolete(hand: BoxScenes) -> None:
    ds, ids = hand.ds, hand.item_ids
    ds.review_scan(layers=["p", "q"], consensus_layer=None)
    cases = cases_by_item(ds)
    # Same classes, boxes still apart: shown text alike is no agreement for boxes.
    ds.set_label(ids[3], [box("7", 12, 10, 20, 20)], layer="q", author="q")
    ds.set_label(ids[1], HAND[1][1], layer="q", author="q")  # the same set: no change
    closed, _ = ds.review.list(state="obsolete")
    assert [c["item_id"] for c in closed] == [ids[3]]
    assert "q changed the boxes of this image" in closed[0]["resolution"]
    with pytest.raises(Conflict):
        ds.review.resolve(int(cases[ids[3]]["id"]), "accept", "late", actor="rev")  # type: ignore[call-overload]
    # The next scan looks again: 12 vs 10 overlaps by 0.82, so nothing to open there.
    ds.review_scan(layers=["p", "q"], consensus_layer=None)
    assert ids[3] not in cases_by_item(ds)


def test_the_cli_scans_and_resolves_box_cases(
    project: assay.Project,  # noqa: F811
    hand: BoxScenes,
) -> None:
    argv = ["-p", str(project.root), "--db", project.store.url]
    out = CliRunner().invoke(
        app, [*argv, "review", "scan", "--layers", "p,q", "--json"], catch_exceptions=False
    )
    assert json.loads(out.output)["disagreement_opened"] == 3
    case = cases_by_item(hand.ds)[hand.item_ids[1]]
    done = CliRunner().invoke(
        app, [*argv, "review", "resolve", str(case["id"]), "accept", "--reason", "fused"]
    )
    assert done.exit_code == 0, done.output
    assert "resolved as 'accept' in layer 'reviewed'" in done.output
    assert len(hand.ds.item(hand.item_ids[1])["labels"]["reviewed"]["value"]) == 1
