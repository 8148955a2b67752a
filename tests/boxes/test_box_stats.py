"""Statistics of box layers: exact figures on a hand-built layer, on the digit scenes, merging
of partitions, the inventory's box section and ``assay stats`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import assay
from assay.cli import app
from assay.errors import InvalidParameter
from assay.ingest.arrays import import_arrays
from assay.labels.writes import LabelWrite
from assay.stats.boxes import BoxLayerStats, box_statistics
from assay.stats.inventory import aggregate
from assay.stats.layer_scan import iter_layer_values
from boxkit import BoxScenes, box_scenes  # noqa: F401
from labelkit import project  # noqa: F401

runner = CliRunner()


def _box(cls: str, x: float, y: float, w: float, h: float, **extra: float) -> dict[str, object]:
    return {"class": cls, "x": x, "y": y, "w": w, "h": h, **extra}


@pytest.fixture
def hand(project: assay.Project) -> assay.Dataset:  # noqa: F811
    """Five 100 x 50 images: two boxes; none ([]); one box on the edge; not annotated;
    annotated then cleared. A classification layer ``ground_truth`` beside it."""
    images = np.zeros((5, 50, 100), dtype=np.uint8)
    import_arrays(
        project.store, [(images, ["a", "b", "a", "b", "a"])], dataset="hand", source="t",
        format="t", classes=["a", "b"],
    )  # fmt: skip
    ds = project.dataset("hand")
    ids = [int(r["id"]) for r in ds.items(limit=5)[0]]
    ds.create_layer("gt", value_kind="boxes")
    ds.set_labels(
        [
            LabelWrite(ids[0], [_box("a", 10, 10, 20, 10), _box("b", 40, 5, 10, 40)]),
            LabelWrite(ids[1], []),
            LabelWrite(ids[2], [_box("a", 0, 20, 50, 25)]),
            LabelWrite(ids[4], [_box("b", 5, 5, 5, 5)]),
        ],
        layer="gt",
        author="ann",
    )
    ds.set_label(ids[4], None, layer="gt", author="ann")
    return ds


def test_hand_built_layer_figures(hand: assay.Dataset) -> None:
    s = box_statistics(hand, "gt")
    assert (s["name"], s["kind"], s["value_kind"]) == ("gt", "human", "boxes")
    assert s["n_items"] == 5
    assert (s["n_annotated"], s["n_with_boxes"], s["n_empty"], s["n_not_annotated"]) == (3, 2, 1, 2)
    assert s["coverage"] == pytest.approx(3 / 5)
    assert s["n_boxes"] == 3
    per = s["boxes_per_image"]
    assert per["mean"] == pytest.approx(1.0) and per["max"] == 2
    assert per["counts"] == {"0": 1, "1": 1, "2": 1}
    assert per["histogram"] == {"edges": [0, 1, 2, 3], "counts": [1, 1, 1]}
    assert s["classes"] == {"a": 2, "b": 1}
    assert s["class_shares"] == pytest.approx({"a": 2 / 3, "b": 1 / 3})
    assert s["images_per_class"] == {"a": 2, "b": 1}
    # widths 20, 10, 50; heights 10, 40, 25; areas 200, 400, 1250
    assert (s["width"]["min"], s["width"]["max"]) == (10.0, 50.0)
    assert s["width"]["mean"] == pytest.approx(80 / 3)
    assert s["area"]["mean"] == pytest.approx(1850 / 3)
    assert sum(s["width"]["histogram"]["counts"]) == 3
    rel = s["relative"]
    assert rel["width"]["max"] == pytest.approx(0.5) and rel["height"]["max"] == pytest.approx(0.8)
    assert rel["area"]["mean"] == pytest.approx((0.04 + 0.08 + 0.25) / 3)
    assert rel["area"]["histogram"]["counts"][:6] == [1, 1, 0, 0, 0, 1]  # 0.04, 0.08, 0.25
    assert s["aspect_ratio"]["mean"] == pytest.approx((2 + 0.25 + 2) / 3)
    assert s["coco_sizes"] == {"small": 2, "medium": 1, "large": 0}
    assert s["n_touching_edge"] == 1 and s["touching_edge_share"] == pytest.approx(1 / 3)
    assert "scores" not in s


def test_slice_and_refusals(hand: assay.Dataset) -> None:
    s = box_statistics(hand, "gt", "label=a")  # items 0, 2, 4 by ground_truth
    assert (s["n_items"], s["n_annotated"], s["n_boxes"]) == (3, 2, 3)
    with pytest.raises(InvalidParameter, match="not boxes"):
        box_statistics(hand, "ground_truth")


def test_scores_of_predictions(hand: assay.Dataset) -> None:
    ids = [int(r["id"]) for r in hand.items(limit=5)[0]]
    hand.create_layer("pred", kind="model", value_kind="boxes")
    hand.set_labels(
        [
            LabelWrite(
                ids[0], [_box("a", 1, 1, 9, 9, score=0.97), _box("b", 2, 2, 9, 9, score=0.02)]
            )
        ],
        layer="pred",
        author="model",
    )
    s = box_statistics(hand, "pred")
    assert s["scores"]["count"] == 2 and s["scores"]["mean"] == pytest.approx(0.495)
    assert (
        s["scores"]["histogram"]["counts"][0] == 1 and s["scores"]["histogram"]["counts"][-1] == 1
    )


def _same(a: object, b: object) -> None:
    """Equal, counts exactly and means up to float rounding (the merge order differs)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys()
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-12)
    else:
        assert a == b


def test_merging_two_halves_equals_the_whole(box_scenes: BoxScenes) -> None:  # noqa: F811
    ds = box_scenes.ds
    with ds.store.read() as conn:
        layer_id = int(conn.exec_driver_sql("SELECT id FROM layers WHERE name = 'bob'").scalar())
        rows = [r for chunk in iter_layer_values(conn, ds.id, layer_id) for r in chunk]
    whole = BoxLayerStats().add(rows).result()
    half = len(rows) // 2
    merged = BoxLayerStats().add(rows[:half]).merge(BoxLayerStats().add(rows[half:])).result()
    _same(merged, whole)
    assert whole["n_boxes"] == sum(len(b) for b in box_scenes.simulated.labels["bob"])
    # The inventory's partitions (here 5 of them) merge to the same figures.
    parts = aggregate(ds, partition_rows=5, n_jobs=1).box_layers["bob"].result()
    _same(parts, whole)
    assert box_statistics(ds, "bob", partition_rows=7)["classes"] == whole["classes"]


def test_scene_figures_match_the_truth(box_scenes: BoxScenes) -> None:  # noqa: F811
    truth = box_scenes.scenes.boxes
    s = box_statistics(box_scenes.ds, "boxes")
    assert s["n_items"] == s["n_annotated"] == len(truth)
    assert s["n_boxes"] == sum(len(b) for b in truth)
    counts: dict[str, int] = {}
    for boxes in truth:
        for b in boxes:
            counts[b["class"]] = counts.get(b["class"], 0) + 1
    assert s["classes"] == dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    widths = [b["w"] for boxes in truth for b in boxes]
    assert s["width"]["mean"] == pytest.approx(float(np.mean(widths)))
    assert s["relative"]["width"]["mean"] == pytest.approx(float(np.mean(widths)) / 96)
    edge = sum(
        1
        for boxes in truth
        for b in boxes
        if b["x"] <= 1 or b["y"] <= 1 or b["x"] + b["w"] >= 95 or b["y"] + b["h"] >= 95
    )
    assert s["n_touching_edge"] == edge


def test_inventory_shows_box_layers_beside_class_layers(hand: assay.Dataset) -> None:
    inv = hand.stats().to_dict()
    layers = {layer["name"]: layer for layer in inv["layers"]}
    assert layers["ground_truth"]["classes"] == {"a": 3, "b": 2}
    assert "boxes" not in layers["ground_truth"]
    gt = layers["gt"]
    assert gt["value_kind"] == "boxes" and gt["n_labeled"] == 3
    assert gt["classes"] == {"a": 2, "b": 1} and gt["boxes"]["n_empty"] == 1
    assert gt["coverage"] == pytest.approx(0.6)


def test_cli_stats_box_section(hand: assay.Dataset) -> None:
    base = ["-p", str(hand.project.root), "--db", hand.store.url]
    result = runner.invoke(app, [*base, "stats", "hand", "--json"])
    assert result.exit_code == 0, result.output
    gt = next(layer for layer in json.loads(result.output)["layers"] if layer["name"] == "gt")
    assert gt["boxes"]["n_boxes"] == 3 and gt["boxes"]["n_not_annotated"] == 2
    result = runner.invoke(app, [*base, "stats", "hand"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Boxes in layer 'gt'" in text
    assert "3 boxes in 3 annotated images" in text and "1 with no boxes" in text
    assert "2 not annotated" in text and "touching the edge: 1" in text
    assert "Class balance in layer 'ground_truth'" in text


def test_cli_stats_one_box_layer(hand: assay.Dataset) -> None:
    base = ["-p", str(hand.project.root), "--db", hand.store.url]
    result = runner.invoke(app, [*base, "stats", "hand", "--boxes", "gt", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["n_boxes"] == 3
    result = runner.invoke(app, [*base, "stats", "hand", "--boxes", "ground_truth"])
    assert result.exit_code == 1 and "holds classification labels" in result.output


def test_compare_slices_puts_box_class_balance_side_by_side(hand: assay.Dataset) -> None:
    out = hand.compare("label=a", "label=b").to_dict()
    # label=a: items 0, 2, 4 (boxes a, b and a; 4 cleared); label=b: items 1 ([]) and 3 (none)
    assert out["class_balance"]["ground_truth"]["a"] == {"a": 3}
    assert "gt" not in out["class_balance"]  # slice b has no boxes: nothing to compare
    both = hand.compare("label=a", None).to_dict()["class_balance"]["gt"]
    assert both["a"] == both["b"] == {"a": 2, "b": 1} and both["psi"] == pytest.approx(0.0)
