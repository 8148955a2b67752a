"""Agreement and consensus of box layers: exact numbers on hand-built boxes, and on the digit
scenes (bob, who misses and swaps more, agrees less; the fused boxes beat the worst
annotator against the truth), through the library and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from typer.testing import CliRunner

import assay
from assay.cli import app
from assay.errors import InvalidParameter
from assay.labels.kinds.boxes import match_boxes
from boxkit import BoxScenes, box_scenes, make_box_dataset  # noqa: F401
from labelkit import project  # noqa: F401


def box(cls: str, x: float, y: float, w: float, h: float) -> dict[str, object]:
    return {"class": cls, "x": x, "y": y, "w": w, "h": h}


# Image -> (p's boxes, q's boxes); None: the layer does not label the image.
HAND = {
    0: (  # two matched (IoU 1 and 2/3), one each unmatched
        [box("1", 0, 0, 10, 10), box("2", 20, 20, 10, 10), box("3", 50, 50, 10, 10)],
        [box("1", 0, 0, 10, 10), box("2", 22, 20, 10, 10), box("4", 70, 70, 10, 10)],
    ),
    1: ([box("5", 0, 0, 20, 20)], [box("6", 0, 0, 20, 20)]),  # matched, classes differ
    2: ([box("7", 0, 0, 10, 10)], None),  # only p labels it: not compared
    3: ([], []),  # both looked, nothing to box
    4: ([box("7", 10, 10, 20, 20)], [box("7", 18, 10, 20, 20)]),  # IoU 240/560: poor
}


@pytest.fixture
def hand(box_scenes: BoxScenes) -> BoxScenes:  # noqa: F811
    """Layers p and q of HAND on the first scenes."""
    ds = box_scenes.ds
    for n, layer in enumerate(("p", "q")):
        ds.create_layer(layer, value_kind="boxes", owner=layer)
        for k, pair in HAND.items():
            if pair[n] is not None:
                ds.set_label(box_scenes.item_ids[k], pair[n], layer=layer, author=layer)
    return box_scenes


def test_match_boxes_never_lets_weak_pairs_displace_a_match() -> None:
    a = [box("1", 0, 0, 10, 10), box("1", 9, 0, 10, 10)]
    b = [box("1", 1, 0, 10, 10), box("1", 12, 0, 10, 10)]
    # a0-b0 0.82; a0-b1 0; a1-b0 0.. ; a1-b1 0.54: both matched, by index in a
    got = match_boxes(a, b)
    assert [(i, j) for i, j, _ in got] == [(0, 0), (1, 1)]
    c = [box("1", 0, 0, 10, 10), box("1", 4, 0, 10, 10)]
    d = [box("1", 2, 0, 10, 10)]  # 0.667 with c0, 0.667 with c1: one match only
    assert len(match_boxes(c, d)) == 1


def test_pair_agreement_on_hand_built_boxes_is_exact(hand: BoxScenes) -> None:
    report = hand.ds.agreement(["p", "q"], reference="wbf")
    d = report.to_dict()
    assert d["kind"] == "boxes" and d["layers"] == ["p", "q"]
    (pair,) = d["pairwise"]
    assert (pair["n_images"], pair["n_boxes_a"], pair["n_boxes_b"]) == (4, 5, 5)
    assert pair["n_matched"] == 3  # the poor overlap (0.43) is no match
    assert pair["f1"] == pytest.approx(6 / 10)
    assert pair["precision"] == pytest.approx(3 / 5) and pair["recall"] == pytest.approx(3 / 5)
    assert pair["mean_iou"] == pytest.approx((1 + 2 / 3 + 1) / 3)
    assert pair["class_agreement"] == pytest.approx(2 / 3)
    assert pair["cohen_kappa"] == pytest.approx(cohen_kappa_score(["1", "2", "5"], ["1", "2", "6"]))
    per_class = {c["name"]: (c["n_boxes"], c["f1"]) for c in d["per_class"]}
    assert per_class["1"] == (2, 1.0) and per_class["2"] == (2, 1.0)
    assert per_class["5"] == (1, 0.0) and per_class["7"] == (2, 0.0)  # image 2 is not shared
    assert d["n_images"] == 5 and d["n_images_compared"] == 4
    assert d["n_boxes"] == {"p": 6, "q": 5}
    # With two layers, each is rated against the other (leave-one-out).
    (qp, qq) = d["layer_quality"]
    assert qp["layer"] == "p" and qp["f1"] == pytest.approx(6 / 10)
    assert qq["recall"] == pytest.approx(3 / 5) and "leave-one-out" in d["reference_rule"]
    # By default each layer against every other layer, pooled (no fusion): here the other.
    d = hand.ds.agreement(["p", "q"]).to_dict()
    assert d["reference"] == "others" and "every other layer" in d["reference_rule"]
    qp, qq = d["layer_quality"]
    assert (qp["n_images"], qp["n_boxes"], qp["n_reference_boxes"]) == (4, 5, 5)
    assert qp["f1"] == pytest.approx(6 / 10) and qp["class_agreement"] == pytest.approx(2 / 3)


def test_against_a_layer_and_refusals(hand: BoxScenes) -> None:
    d = hand.ds.agreement(["p", "q"], reference="boxes").to_dict()
    assert d["reference"] == "boxes" and [q["layer"] for q in d["layer_quality"]] == ["p", "q"]
    with pytest.raises(InvalidParameter, match="different kinds"):
        hand.ds.create_layer("cls")
        hand.ds.agreement(["p", "cls"])


def test_bob_who_misses_and_swaps_more_agrees_less(project: assay.Project) -> None:  # noqa: F811
    scenes = make_box_dataset(project, "many", n=120)
    d = scenes.ds.agreement(["alice", "bob", "carol"], reference="wbf").to_dict()
    pairs = {(p["a"], p["b"]): p["f1"] for p in d["pairwise"]}
    with_bob = (pairs[("alice", "bob")] + pairs[("bob", "carol")]) / 2
    assert with_bob < pairs[("alice", "carol")]
    assert d["n_boxes"]["bob"] < min(d["n_boxes"]["alice"], d["n_boxes"]["carol"])
    for reference in ("wbf", "others"):
        d = scenes.ds.agreement(["alice", "bob", "carol"], reference=reference).to_dict()
        quality = {q["layer"]: q for q in d["layer_quality"]}
        for measure in ("f1", "recall"):  # of the others' boxes, bob drew the fewest
            assert quality["bob"][measure] == min(q[measure] for q in quality.values())
    for p in d["pairwise"]:
        assert 0.7 < p["f1"] < 1.0 and p["mean_iou"] > 0.9 and p["class_agreement"] > 0.8


@pytest.mark.parametrize("method", ["wbf", "majority"])
def test_consensus_recovers_the_truth_better_than_the_worst_annotator(
    box_scenes: BoxScenes,  # noqa: F811
    method: str,
) -> None:
    ds = box_scenes.ds
    result = ds.consensus(method=method, layers=["alice", "bob", "carol"], into="fused")
    summary = result.summary()
    assert summary["method"] == method and summary["n_items"] == len(box_scenes.item_ids)
    assert 0.3 < summary["mean_confidence"] <= 1.0
    assert set(summary["annotator_quality"]) == {"alice", "bob", "carol"}
    layer = ds.layer("fused")
    assert (layer["kind"], layer["value_kind"]) == ("consensus", "boxes")
    fused = ds.item(box_scenes.item_ids[0])["labels"]["fused"]
    assert fused["author"] == f"consensus:{method}"
    assert all(0 < b["score"] <= 1 for b in fused["value"])
    if method == "majority":
        assert all(b["score"] >= 0.5 for b in fused["value"])
    d = ds.agreement(["alice", "bob", "carol", "fused"], reference="boxes").to_dict()
    f1 = {q["layer"]: q["f1"] for q in d["layer_quality"]}
    assert f1["fused"] > min(f1["alice"], f1["bob"], f1["carol"])
    if method == "majority":
        assert f1["fused"] > max(f1["alice"], f1["bob"], f1["carol"])
    # Unchanged items get no new row when run again.
    ds.consensus(method=method, layers=["alice", "bob", "carol"], into="fused")
    assert len(ds.history(box_scenes.item_ids[0], layer="fused")) == 1


def test_consensus_confidence_is_the_share_of_layers_that_drew_a_box(
    hand: BoxScenes,
) -> None:
    ds = hand.ds
    ds.create_layer("r", value_kind="boxes", owner="r")
    ds.set_label(hand.item_ids[0], HAND[0][0], layer="r", author="r")  # as p
    fused = ds.consensus(method="wbf", layers=["p", "q", "r"], into=None).boxes  # type: ignore[attr-defined]
    got = sorted((b["class"], round(b["score"], 3)) for b in fused[hand.item_ids[0]])
    # "1" all three, "2" all three (fused), "3" p and r, "4" q only.
    assert got == [("1", 1.0), ("2", 1.0), ("3", 0.667), ("4", 0.333)]
    majority = ds.consensus(method="majority", layers=["p", "q", "r"], into=None).boxes  # type: ignore[attr-defined]
    assert sorted(b["class"] for b in majority[hand.item_ids[0]]) == ["1", "2", "3"]
    # An object boxed with two classes is one box, of the better-supported class.
    assert [b["class"] for b in fused[hand.item_ids[1]]] in (["5"], ["6"])
    with pytest.raises(InvalidParameter, match="no consensus method 'dawid-skene'"):
        ds.consensus(method="dawid-skene", layers=["p", "q"], into=None)


def test_the_cli_prints_box_agreement_and_consensus(
    project: assay.Project,  # noqa: F811
    box_scenes: BoxScenes,  # noqa: F811
) -> None:
    argv = ["-p", str(project.root), "--db", project.store.url]
    wide = CliRunner(env={"COLUMNS": "220"})
    out = wide.invoke(app, [*argv, "agreement", "--layers", "alice,bob,carol"])
    assert out.exit_code == 0, out.output
    assert "F1@0.5" in out.output and "mean IoU" in out.output and "same class" in out.output
    assert "Layers against others" in out.output and "leave-one-out" in out.output
    js = wide.invoke(app, [*argv, "agreement", "--layers", "alice,bob", "--json"])
    d = json.loads(js.output)
    ab = box_scenes.ds.agreement(["alice", "bob"]).to_dict()["pairwise"][0]
    assert d["kind"] == "boxes" and d["pairwise"][0]["f1"] == pytest.approx(ab["f1"])
    assert f"{ab['f1']:.3f}" in wide.invoke(app, [*argv, "agreement", "--layers",
                                                  "alice,bob"]).output  # fmt: skip
    made = wide.invoke(
        app, [*argv, "consensus", "--method", "wbf", "--layers", "alice,bob,carol",
              "--into", "fused"],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "wbf consensus for 24 items" in made.output and "boxes)" in made.output
    assert box_scenes.ds.layer("fused")["value_kind"] == "boxes"
    bad = wide.invoke(app, [*argv, "consensus", "--method", "dawid-skene", "--layers", "alice,bob"])
    assert bad.exit_code != 0 and "wbf, majority" in bad.output


def test_flat_matching_equals_match_boxes_per_image(box_scenes: BoxScenes) -> None:  # noqa: F811
    """The vectorized matching agrees with the per-image Hungarian helper, image by image."""
    from assay.labels.box_agreement import flatten, match_flat, table_classes
    from assay.labels.load import load_values

    ds = box_scenes.ds
    with ds.store.read() as conn:
        _, table = load_values(conn, ds.id, ["alice", "bob"])
    classes = table_classes(table)
    fa, fb = flatten(table, "alice", classes), flatten(table, "bob", classes)
    m = match_flat(fa, fb, fa.labeled & fb.labeled)
    for k, item_id in enumerate(table.item_ids):
        a, b = table.values["alice"][item_id], table.values["bob"][item_id]
        want = {(a[i]["id"], b[j]["id"]) for i, j, _ in match_boxes(a, b)}
        on = fa.img[m.ia] == k
        got = set(zip(fa.ids[m.ia[on]].tolist(), fb.ids[m.ib[on]].tolist(), strict=True))
        assert got == want
    assert np.all(m.iou >= 0.5)
