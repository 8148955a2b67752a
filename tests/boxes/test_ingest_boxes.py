"""Box imports (COCO, YOLO, VOC), boxes onto existing images, COCO-results predictions, and
COCO/YOLO export round trips, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ingest_fixtures import (
    BOXES,
    boxes_of,
    coco_doc,
    expected,
    write_coco,
    write_voc,
    write_yolo,
)

import assay


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> assay.Project:
    """A project on each backend (``store_url``: SQLite and PostgreSQL)."""
    return assay.init(tmp_path / "project", db=store_url)


WRITERS = {"coco": write_coco, "yolo": write_yolo, "voc": write_voc}


def _import(project: assay.Project, fmt: str, root: Path, **kw: object) -> object:
    path = WRITERS[fmt](root)
    return project.import_path(path, dataset="d", **kw)


@pytest.mark.parametrize("fmt", ["coco", "yolo", "voc"])
def test_each_format_imports_images_classes_and_one_label_per_image(
    project: assay.Project, tmp_path: Path, fmt: str
) -> None:
    result = _import(project, fmt, tmp_path / "data")
    ds = project.dataset("d")
    assert result.n_new_items == 3 and result.n_new_labels == 3  # type: ignore[attr-defined]
    assert ds.classes() == ["cat", "dog"]
    layer = ds.layer("boxes")
    assert (layer["kind"], layer["value_kind"]) == ("import", "boxes")
    for key in BOXES:
        value = ds.item(key)["labels"]["boxes"]["value"]
        assert boxes_of(value) == expected(key), key
        assert [b["id"] for b in value] == list(range(1, len(value) + 1))
    assert ds.item("2.png")["labels"]["boxes"]["value"] == []  # listed, nothing to box
    assert ds.item("1.png")["width"] == 60  # the real image was read
    if fmt == "coco":
        assert ds.item("1.png")["meta"] == {"coco_id": 101}


def test_same_file_twice_changes_nothing(project: assay.Project, tmp_path: Path) -> None:
    path = write_coco(tmp_path / "data")
    project.import_path(path, dataset="d")
    ds = project.dataset("d")
    before = {k: ds.item(k)["labels"]["boxes"]["id"] for k in BOXES}
    again = project.import_path(path, dataset="d")
    assert (again.n_new_items, again.n_new_labels) == (0, 0)
    assert {k: ds.item(k)["labels"]["boxes"]["id"] for k in BOXES} == before
    assert len(ds.history("0.png", layer="boxes")) == 1


def test_a_changed_file_adds_a_version_of_the_changed_image_only(
    project: assay.Project, tmp_path: Path
) -> None:
    path = write_coco(tmp_path / "data")
    project.import_path(path, dataset="d")
    doc = coco_doc()
    doc["annotations"][0]["bbox"] = [2, 2, 10, 10]
    path.write_text(json.dumps(doc))
    again = project.import_path(path, dataset="d")
    assert again.n_new_labels == 1
    ds = project.dataset("d")
    assert len(ds.history("0.png", layer="boxes")) == 2
    assert ds.item("0.png")["labels"]["boxes"]["value"][0]["x"] == 2.0


def test_boxes_onto_existing_images_as_a_new_layer(project: assay.Project, tmp_path: Path) -> None:
    path = write_coco(tmp_path / "data")
    project.import_path(path, dataset="d")
    doc = coco_doc()
    doc["annotations"] = doc["annotations"][:1]  # bob boxed only the cat
    bob = tmp_path / "bob.json"
    bob.write_text(json.dumps(doc))
    ds = project.dataset("d")
    done = ds.import_boxes(bob, layer="bob")
    assert done["n_new_labels"] == 3
    assert boxes_of(ds.item("0.png")["labels"]["bob"]["value"]) == [("cat", 1.0, 2.0, 10.0, 10.0)]
    assert ds.item("1.png")["labels"]["bob"]["value"] == []
    assert ds.import_boxes(bob, layer="bob")["n_new_labels"] == 0  # idempotent
    assert len(ds) == 3  # no items added


def test_coco_results_become_a_model_box_layer(project: assay.Project, tmp_path: Path) -> None:
    project.import_path(write_coco(tmp_path / "data"), dataset="d")
    results = [
        {"image_id": 100, "category_id": 3, "bbox": [5, 5, 20, 20], "score": 0.9},
        {"image_id": 100, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.2},
        {"image_id": 101, "category_id": 3, "bbox": [30, 1, 29, 28], "score": 0.7},
    ]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    ds = project.dataset("d")
    assert ds.import_box_predictions(path, layer="det")["n_new_labels"] == 3
    layer = ds.layer("det")
    assert (layer["kind"], layer["value_kind"]) == ("model", "boxes")
    value = ds.item("0.png")["labels"]["det"]["value"]
    assert [(b["class"], b["score"]) for b in value] == [("dog", 0.9), ("cat", 0.2)]
    assert ds.item("2.png")["labels"]["det"]["value"] == []
    assert ds.import_box_predictions(path, layer="det")["n_new_labels"] == 0


def test_coco_results_with_instances_for_a_dataset_from_elsewhere(
    project: assay.Project, tmp_path: Path
) -> None:
    write_yolo(tmp_path / "data")
    project.import_path(tmp_path / "data", dataset="d")  # no COCO ids on the items
    instances = tmp_path / "instances.json"
    instances.write_text(json.dumps(coco_doc()))
    path = tmp_path / "results.json"
    path.write_text(
        json.dumps([{"image_id": 102, "category_id": 1, "bbox": [1, 1, 4, 4], "score": 1}])
    )
    ds = project.dataset("d")
    with pytest.raises(assay.errors.DataFormatError, match="--instances"):
        ds.import_box_predictions(path, layer="det")
    ds.import_box_predictions(path, layer="det", instances=instances)
    assert boxes_of(ds.item("2.png")["labels"]["det"]["value"]) == [("cat", 1.0, 1.0, 4.0, 4.0)]


def test_coco_round_trip_keeps_the_boxes_and_ids(project: assay.Project, tmp_path: Path) -> None:
    project.import_path(write_coco(tmp_path / "data"), dataset="d")
    out = tmp_path / "out.json"
    assert project.dataset("d").export(out, layer="boxes", format="coco") == 3
    original, exported = coco_doc(), json.loads(out.read_text())

    def triples(doc: dict) -> set:
        names = {c["id"]: c["name"] for c in doc["categories"]}
        files = {i["id"]: i["file_name"] for i in doc["images"]}
        return {
            (files[a["image_id"]], names[a["category_id"]], *map(float, a["bbox"]))
            for a in doc["annotations"]
        }

    assert triples(exported) == triples(original)
    assert exported["categories"] == original["categories"]
    assert [i["id"] for i in exported["images"]] == [100, 101, 102]
    # ... and imports again into a new dataset with the same boxes.
    (tmp_path / "data" / "instances_train.json").write_text(out.read_text())
    project.import_path(tmp_path / "data" / "instances_train.json", dataset="again")
    again = project.dataset("again")
    for key in BOXES:
        assert boxes_of(again.item(key)["labels"]["boxes"]["value"]) == expected(key)


def test_yolo_round_trip_copies_images_and_keeps_the_boxes(
    project: assay.Project, tmp_path: Path
) -> None:
    project.import_path(write_coco(tmp_path / "data"), dataset="d")
    out = tmp_path / "yolo"
    assert project.dataset("d").export(out, layer="boxes", format="yolo") == 3
    assert (out / "classes.txt").read_text() == "cat\ndog\n"
    assert (out / "images" / "1.png").read_bytes() == (tmp_path / "data/images/1.png").read_bytes()
    assert (out / "labels" / "2.txt").read_text() == ""
    project.import_path(out, dataset="back")
    back = project.dataset("back")
    for key in BOXES:
        assert boxes_of(back.item(key)["labels"]["boxes"]["value"]) == expected(key)


def test_cli_import_export_and_predictions(
    project: assay.Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from assay.cli import app

    monkeypatch.chdir(project.root)
    path = write_coco(tmp_path / "data")
    runner = CliRunner()
    res = runner.invoke(app, ["import", str(path), "--dataset", "d", "--layer", "truth"])
    assert res.exit_code == 0, res.output
    assert "3 new labels" in res.output
    res = runner.invoke(
        app, ["import", str(path), "--dataset", "d", "--boxes-only", "--layer", "bob"]
    )
    assert res.exit_code == 0 and "layer 'bob'" in res.output, res.output
    results = tmp_path / "r.json"
    results.write_text(
        json.dumps([{"image_id": 101, "category_id": 1, "bbox": [1, 1, 2, 2], "score": 0.5}])
    )
    res = runner.invoke(
        app, ["predictions", "import", str(results), "--name", "det", "--dataset", "d"]
    )
    assert res.exit_code == 0 and "model box layer 'det'" in res.output, res.output
    out = tmp_path / "bob.json"
    res = runner.invoke(app, ["export", "d", str(out), "--layer", "bob", "--format", "coco"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(out.read_text())["annotations"]) == 3


def test_streamed_and_in_memory_coco_reads_agree(tmp_path: Path) -> None:
    import numpy as np

    from assay.ingest.coco import read_coco

    doc = coco_doc()
    doc["annotations"][1]["bbox"] = [float("nan"), 1, 2, 2]  # a NaN literal: the json fallback
    for d, name in ((coco_doc(), "plain"), (doc, "nan")):
        path = write_coco(tmp_path / name, d)
        whole, streamed = read_coco(path), read_coco(path, in_memory_bytes=0)
        assert [im.key for im in whole.images] == [im.key for im in streamed.images]
        assert whole.classes == streamed.classes == ["cat", "dog"]
        np.testing.assert_array_equal(whole.image, streamed.image)
        np.testing.assert_array_equal(whole.xywh, streamed.xywh)
        assert whole.n_boxes == 3


def test_a_zip_of_a_coco_folder_imports_and_keeps_its_images(
    project: assay.Project, tmp_path: Path
) -> None:
    import shutil

    write_coco(tmp_path / "data" / "coco")
    archive = shutil.make_archive(str(tmp_path / "coco"), "zip", tmp_path / "data")
    result = project.import_path(archive, dataset="z")
    assert (result.n_new_items, result.n_new_labels) == (3, 3)
    item = project.dataset("z").item("0.png")
    assert Path(item["media_path"]).is_file()  # the extracted files stay: items point at them
    assert boxes_of(item["labels"]["boxes"]["value"]) == expected("0.png")


def test_box_sets_are_the_same_whatever_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    import orjson

    import assay.ingest.boxes as boxes_module
    from assay.ingest.boxes import BoxFile, BoxImage, box_json, box_sets

    rng = np.random.default_rng(3)
    n_images, n_boxes = 7, 20
    image = rng.integers(0, n_images, n_boxes)
    image[image == 4] = 5  # image 4 has no box
    bf = BoxFile(
        source="x",
        format="coco",
        images=[BoxImage(str(k), None) for k in range(n_images)],
        classes=["a", "b"],
        image=image,
        cls=rng.integers(0, 2, n_boxes),
        xywh=rng.uniform(1, 5, (n_boxes, 4)),
        ref=np.arange(n_boxes),
        where=str,
        score=rng.uniform(0, 1, n_boxes),
    )
    whole = list(box_sets(bf, block=1000))
    assert [len(s) for s in whole] == np.bincount(image, minlength=n_images).tolist()
    assert whole[4] == []
    for block in (1, 2, 3):
        assert list(box_sets(bf, block=block)) == whole
    first = [j for j in range(n_boxes) if image[j] == 0]
    assert [b["x"] for b in whole[0]] == [bf.xywh[j, 0] for j in first]  # file order
    assert [b["id"] for b in whole[0]] == list(range(1, len(first) + 1))
    # The labels' JSON, made from the columns in bulk, reads back as the same box sets
    # (the same floats to the last bit), whatever the block; class names are JSON-escaped.
    bf.classes = ['a "quoted"', "b\\é"]
    whole = list(box_sets(bf, block=1000))
    for block in (1, 3, 1000):
        texts = list(box_json(bf, block=block))
        assert [orjson.loads(text) for text in texts] == whole
    assert texts[4] == "[]"
    bf.score = None
    assert [orjson.loads(text) for text in box_json(bf, start=2, stop=6)] == list(
        box_sets(bf, start=2, stop=6)
    )
    # An image of more boxes than a template holds is written box by box, the same way.
    monkeypatch.setattr(boxes_module, "TEMPLATE_BOXES", 2)
    assert [orjson.loads(text) for text in box_json(bf)] == list(box_sets(bf))
