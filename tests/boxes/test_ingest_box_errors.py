"""Bad box files: each error names the file, the image and the box, and nothing is left
behind (no dataset, no layer, no labels), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ingest_fixtures import SIZES, coco_doc, voc_xml, write_coco, write_voc, write_yolo

import assay
from assay.errors import AssayError, DataFormatError


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> assay.Project:
    """A project on each backend (``store_url``: SQLite and PostgreSQL)."""
    return assay.init(tmp_path / "project", db=store_url)


def _coco(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], Path]:
    def write(root: Path) -> Path:
        doc = coco_doc()
        change(doc)
        return write_coco(root, doc)

    return write


def _ann(field: str, value: Any, n: int = 1) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc["annotations"][n][field] = value

    return change


def _no_sizes_and_wide_box(doc: dict[str, Any]) -> None:
    for im in doc["images"]:
        del im["width"], im["height"]
    doc["annotations"][2]["bbox"] = [30, 0, 35, 30]  # 1.png is 60 wide: 65 > 60


def _missing_file(root: Path) -> Path:
    path = write_coco(root)
    (root / "images" / "1.png").unlink()
    return path


CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "outside the image": (
        _coco(_ann("bbox", [45, 0, 10, 10], 0)),
        r"instances_train\.json, annotation id 1 \(image '0\.png'\): the box \[45, 0, 10, 10\] "
        r"reaches outside the 50 x 40 image",
    ),
    "outside the real image": (
        _coco(_no_sizes_and_wide_box),
        r"annotation id 3 \(image '1\.png'\): the box \[30, 0, 35, 30\] reaches outside the "
        r"60 x 30 image",
    ),
    "zero size": (
        _coco(_ann("bbox", [1, 1, 0, 5])),
        r"annotation id 2 \(image '0\.png'\): the box \[1, 1, 0, 5\] has zero or negative size",
    ),
    "negative size": (
        _coco(_ann("bbox", [10, 10, -3, 5])),
        r"annotation id 2 .*zero or negative size",
    ),
    "NaN": (
        _coco(_ann("bbox", [float("nan"), 1, 2, 2])),
        r"annotation id 2 \(image '0\.png'\): the box \[nan, 1, 2, 2\] has a coordinate that is "
        "not a number",
    ),
    "unknown category": (
        _coco(_ann("category_id", 7)),
        r"annotation id 2 \(image '0\.png'\): unknown category_id 7; the categories are 1 \(cat\)",
    ),
    "no such image id": (
        _coco(_ann("image_id", 999)),
        r"annotation id 2: image_id 999 is not the id of any image in the file",
    ),
    "missing image file": (_missing_file, r"image '1\.png': no file .*1\.png"),
    "yolo fields": (
        lambda root: write_yolo(root, {"1.png": "0 0.5 0.5 0.2\n"}),
        r"labels/1\.txt:1 \(image '1\.png'\): expected 5 fields 'class cx cy w h', got 4",
    ),
    "yolo class": (
        lambda root: write_yolo(root, {"0.png": "0 0.5 0.5 0.2 0.2\n5 0.5 0.5 0.2 0.2\n"}),
        r"labels/0\.txt:2 \(image '0\.png'\): unknown class 5",
    ),
    "yolo outside": (
        lambda root: write_yolo(root, {"0.png": "\n1 0.9 0.5 0.4 0.2\n"}),
        r"labels/0\.txt:2 \(image '0\.png'\): the box .* reaches outside the 50 x 40 image",
    ),
    "voc without size": (
        lambda root: write_voc(root, {"1.png": voc_xml("1.png", None, [])}),
        r"Annotations/1\.xml \(image '1\.png'\): no <size>",
    ),
    "voc bad bndbox": (
        lambda root: write_voc(
            root, {"0.png": voc_xml("0.png", SIZES[0], [("cat", 1, 1, 5, 5), ("dog", 9, 9, -4, 3)])}
        ),
        r"Annotations/0\.xml, object 2 \(image '0\.png'\): the box \[9, 9, -4, 3\] has zero or "
        "negative size",
    ),
    "voc bndbox not a number": (
        lambda root: write_voc(
            root,
            {
                "0.png": "<annotation><filename>0.png</filename><size><width>50</width>"
                "<height>40</height></size><object><name>cat</name><bndbox><xmin>a</xmin>"
                "<ymin>1</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object></annotation>"
            },
        ),
        r"Annotations/0\.xml, object 1 \(image '0\.png'\): <xmin> is 'a', not a number",
    ),
}


def _nothing_left(project: assay.Project) -> None:
    assert project.datasets() == []
    assert project.imports()[0]["state"] == "failed" if project.imports() else True


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_names_the_place_and_imports_nothing(
    project: assay.Project, tmp_path: Path, case: str
) -> None:
    write, message = CASES[case]
    path = write(tmp_path / "data")
    with pytest.raises(DataFormatError) as info:
        project.import_path(path, dataset="d")
    assert re.search(message, str(info.value)), str(info.value)
    _nothing_left(project)


def test_bad_boxes_onto_existing_images_leave_no_layer(
    project: assay.Project, tmp_path: Path
) -> None:
    project.import_path(write_coco(tmp_path / "data"), dataset="d")
    ds = project.dataset("d")
    layers = [layer["name"] for layer in ds.layers()]
    doc = coco_doc()
    doc["images"][2]["file_name"] = "elsewhere.png"
    bob = tmp_path / "bob.json"
    bob.write_text(json.dumps(doc))
    with pytest.raises(DataFormatError, match=r"bob\.json: image 'elsewhere\.png' is not an item"):
        ds.import_boxes(bob, layer="bob")
    doc = coco_doc()
    doc["annotations"][2]["bbox"] = [59, 0, 5, 5]
    bob.write_text(json.dumps(doc))
    with pytest.raises(DataFormatError, match=r"annotation id 3 \(image '1\.png'\)"):
        ds.import_boxes(bob, layer="bob")
    assert [layer["name"] for layer in ds.layers()] == layers


def test_bad_predictions_leave_no_layer(project: assay.Project, tmp_path: Path) -> None:
    project.import_path(write_coco(tmp_path / "data"), dataset="d")
    ds = project.dataset("d")
    path = tmp_path / "r.json"
    cases = {
        r"result 2: image_id 55 is not an image of the dataset": [
            {"image_id": 100, "category_id": 1, "bbox": [1, 1, 2, 2], "score": 0.5},
            {"image_id": 55, "category_id": 1, "bbox": [1, 1, 2, 2], "score": 0.5},
        ],
        r"result 1 \(image '0\.png'\): unknown category_id 2": [
            {"image_id": 100, "category_id": 2, "bbox": [1, 1, 2, 2], "score": 0.5}
        ],
        r"result 1 \(image '0\.png'\): the box .* has score 1\.5": [
            {"image_id": 100, "category_id": 1, "bbox": [1, 1, 2, 2], "score": 1.5}
        ],
    }
    for message, results in cases.items():
        path.write_text(json.dumps(results))
        with pytest.raises(AssayError, match=message):
            ds.import_box_predictions(path, layer="det")
    assert "det" not in [layer["name"] for layer in ds.layers()]


def test_boxes_into_a_class_layer_are_refused(project: assay.Project, tmp_path: Path) -> None:
    project.import_path(write_coco(tmp_path / "data"), dataset="d")
    ds = project.dataset("d")
    ds.create_layer("tags", kind="import")
    with pytest.raises(AssayError, match="not boxes"):
        ds.import_boxes(tmp_path / "data" / "instances_train.json", layer="tags")
