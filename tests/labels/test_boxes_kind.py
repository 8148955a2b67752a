"""The boxes kind: a set of boxes per image, checked against the image, kept append-only,
diffed box by box, and guarded against two people editing one image at once."""

from __future__ import annotations

import numpy as np
import pytest

import assay
from assay.errors import Conflict, InvalidParameter
from assay.ingest.arrays import import_arrays
from assay.labels.kinds.boxes import iou_matrix, match_boxes


@pytest.fixture
def scenes(project: assay.Project) -> assay.Dataset:
    """Three 40 x 30 images (width 40, height 30) with classes 0-2 and a box layer."""
    images = np.arange(3 * 30 * 40, dtype=np.uint32).reshape(3, 30, 40).astype(np.uint8)
    import_arrays(
        project.store, [(images, ["0", "1", "2"])], dataset="scenes", source="t", format="t"
    )
    ds = project.dataset("scenes")
    ds.create_layer("boxes", value_kind="boxes")
    return ds


def box(cls: str, x: float, y: float, w: float, h: float, **kw: object) -> dict[str, object]:
    return {"class": cls, "x": x, "y": y, "w": w, "h": h, **kw}


def test_boxes_are_written_with_ids_and_shown(scenes: assay.Dataset) -> None:
    out = scenes.set_label("0", [box("1", 1, 2, 10, 5), box("1", 20, 2, 5, 5)], layer="boxes")
    assert out["n_written"] == 1
    labels = scenes.item("0")["labels"]["boxes"]
    assert labels["label"] == "2 boxes: 1 ×2"
    assert [b["id"] for b in labels["value"]] == [1, 2]


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (box("1", 35, 2, 10, 5), "reaches outside the 40 x 30 image"),
        (box("1", 1, 2, 0, 5), "width and height must be positive"),
        (box("1", float("nan"), 2, 3, 5), "'x' is nan"),
        (box("cat", 1, 2, 3, 5), "unknown class 'cat'"),
        (box("1", -5, 2, 3, 5), "starts outside the image"),
        (box("1", 1, 2, 3, 5, score=1.5), "has score 1.5; a score is in [0, 1]"),
        ({"class": "1", "x": 1, "y": 1, "w": 1}, "'h' must be a number"),
    ],
)
def test_a_bad_box_is_refused_naming_item_and_box(
    scenes: assay.Dataset, bad: dict[str, object], words: str
) -> None:
    with pytest.raises(InvalidParameter, match="box 2") as err:
        scenes.set_label("1", [box("0", 0, 0, 4, 4), bad], layer="boxes")
    assert words in str(err.value)
    assert "Item " in str(err.value)
    assert "boxes" not in scenes.item("1")["labels"]


def test_history_and_diff_speak_of_boxes(scenes: assay.Dataset) -> None:
    scenes.set_label("0", [box("1", 1, 2, 10, 5), box("2", 20, 2, 5, 5)], layer="boxes")
    v1 = scenes.item("0")["labels"]["boxes"]["value"]
    scenes.snapshot("v1")
    moved = [dict(v1[0], x=3.0), dict(v1[1], **{"class": "0"}), box("0", 30, 20, 4, 4)]
    scenes.set_label("0", moved, layer="boxes")
    history = scenes.history("0", "boxes")
    assert len(history) == 2
    diff = scenes.diff("v1")
    change = diff.items[0]["change"]
    assert "+1 (0)" in change and "1 moved" in change and "2→0" in change


def test_a_stale_edit_is_a_conflict_not_an_overwrite(scenes: assay.Dataset) -> None:
    first = scenes.set_label("0", [box("1", 1, 2, 10, 5)], layer="boxes", base=0)
    base = first["label_ids"][0]
    # Annotator A saves on top of what she opened; annotator B opened the same version.
    scenes.set_label("0", [box("1", 1, 2, 12, 5)], layer="boxes", base=base, author="a")
    with pytest.raises(Conflict, match="changed since you opened it by a"):
        scenes.set_label("0", [box("2", 1, 2, 10, 5)], layer="boxes", base=base, author="b")
    assert scenes.item("0")["labels"]["boxes"]["value"][0]["w"] == 12.0
    with pytest.raises(Conflict):
        scenes.set_label("1", [box("1", 1, 2, 10, 5)], layer="boxes", base=base)


def test_matching_is_one_to_one_by_iou() -> None:
    a = [box("1", 0, 0, 10, 10), box("1", 20, 0, 10, 10)]
    b = [box("1", 21, 0, 10, 10), box("2", 1, 0, 10, 10), box("1", 50, 50, 5, 5)]
    assert [(i, j) for i, j, _ in match_boxes(a, b)] == [(0, 1), (1, 0)]
    iou = iou_matrix(np.array([[0, 0, 10, 10.0]]), np.array([[5, 0, 15, 10.0]]))
    assert iou[0, 0] == pytest.approx(50 / 150)


def test_scenes_import_with_known_boxes_and_noisy_annotators(project: assay.Project) -> None:
    from boxkit import make_box_dataset

    made = make_box_dataset(project, n=12)
    item = made.ds.item(made.item_ids[0])
    truth = item["labels"]["boxes"]["value"]
    assert [b["class"] for b in truth] == [b["class"] for b in made.scenes.boxes[0]]
    assert {"alice", "bob", "carol"} <= set(item["labels"])
    kinds = {e[2] for e in made.simulated.errors}
    assert kinds & {"missed", "shifted", "swapped"}
    assert item["width"] == item["height"] == 96


def test_the_cli_sets_boxes_as_json_and_says_what_is_wrong(
    scenes: assay.Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from assay.cli import app

    monkeypatch.chdir(scenes.project.root)
    argv = ["label", "set", "1", '[{"class": "2", "x": 1, "y": 1, "w": 5, "h": 6}]']
    done = CliRunner().invoke(app, [*argv, "--layer", "boxes", "--dataset", "scenes"])
    assert done.exit_code == 0, done.output
    assert "is now '1 box: 2'" in done.output
    bad = CliRunner().invoke(app, ["label", "set", "1", "[{", "--layer", "boxes"])
    assert bad.exit_code != 0 and "written as JSON" in bad.output
    outside = '[{"class": "2", "x": 39, "y": 1, "w": 5, "h": 6}]'
    refused = CliRunner().invoke(app, ["label", "set", "1", outside, "--layer", "boxes"])
    assert refused.exit_code != 0 and "reaches outside the 40 x 30 image" in refused.output
