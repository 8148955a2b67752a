"""A lone COCO .json uploaded on the web: an instances file's boxes onto the images of an
existing dataset, or COCO-results predictions into a model box layer with its run record,
through the library importer the CLI uses, with its errors (naming the file as uploaded)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from web_helpers import login, wait_job

from assay.errors import DataFormatError
from assay.project import Project

RESULTS = [
    {"image_id": 100, "category_id": 3, "bbox": [5, 5, 20, 20], "score": 0.9},
    {"image_id": 101, "category_id": 1, "bbox": [30, 1, 29, 28], "score": 0.4},
]

SIZES = [(50, 40), (60, 30), (32, 32)]  # 0.png, 1.png, 2.png


def coco_doc() -> dict[str, Any]:
    """Three images (COCO ids 100-102), a cat and a dog on 0.png, a dog on 1.png."""
    images = [
        {"id": 100 + n, "file_name": f"{n}.png", "width": w, "height": h}
        for n, (w, h) in enumerate(SIZES)
    ]
    boxes = [(100, 1, [1, 2, 10, 10]), (100, 3, [5, 5, 20, 20]), (101, 3, [30, 0, 30, 30])]
    anns = [
        {"id": k + 1, "image_id": i, "category_id": c, "bbox": b, "area": b[2] * b[3]}
        for k, (i, c, b) in enumerate(boxes)
    ]
    cats = [{"id": 1, "name": "cat"}, {"id": 3, "name": "dog"}]
    return {"images": images, "annotations": anns, "categories": cats}


def write_coco(root: Path) -> Path:
    """``root/images/*.png`` and ``root/instances_train.json`` beside them."""
    (root / "images").mkdir(parents=True)
    for n, (w, h) in enumerate(SIZES):
        Image.new("L", (w, h), color=30 * n).save(root / "images" / f"{n}.png")
    path = root / "instances_train.json"
    path.write_text(json.dumps(coco_doc()))
    return path


def boxes_of(value: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(b["class"], b["x"], b["y"], b["w"], b["h"]) for b in value]


def _upload(
    client: TestClient, dataset: str, name: str, body: bytes, **fields: str
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/datasets/{dataset}/imports", files={"file": (name, body)}, data=fields
    )
    return {"status": response.status_code, **response.json()}


def test_a_lone_coco_json_adds_boxes_or_predictions(
    client: TestClient, web_project: Project, tmp_path: Path
) -> None:
    web_project.import_path(write_coco(tmp_path / "data"), dataset="d")
    ds = web_project.dataset("d")
    client.headers["X-CSRF-Token"] = login(client, "admin")

    bob = coco_doc()
    bob["annotations"] = bob["annotations"][:1]  # bob boxed only the cat of 0.png
    started = _upload(client, "d", "instances_bob.json", json.dumps(bob).encode(), layer="bob")
    assert started["status"] == 202, started
    job = wait_job(client, started["job"]["id"])
    assert job["state"] == "done", job["error"]
    assert (job["result"]["kind"], job["result"]["layer"], job["result"]["n_new_labels"]) == (
        "boxes", "bob", 3,
    )  # fmt: skip
    assert boxes_of(ds.item("0.png")["labels"]["bob"]["value"]) == [("cat", 1.0, 2.0, 10.0, 10.0)]
    assert len(ds) == 3  # no items added

    started = _upload(client, "d", "results.json", json.dumps(RESULTS).encode(), layer="det")
    job = wait_job(client, started["job"]["id"])
    assert job["state"] == "done" and job["result"]["kind"] == "predictions", job
    assert ds.layer("det")["kind"] == "model"
    (run,) = ds.models.runs()
    assert (run["name"], run["kind"], run["created_by"]) == ("det", "import", "admin")
    assert run["params"]["source"] == "results.json"  # as uploaded, not the stored name
    page = client.get("/datasets/d/predictions?run=det").text
    assert 'id="run-origin"' in page and "coco-results" in page and "2 boxes on 3 images" in page


def test_lone_json_errors_are_the_importers(
    client: TestClient, web_project: Project, tmp_path: Path
) -> None:
    web_project.import_path(write_coco(tmp_path / "data"), dataset="d")
    client.headers["X-CSRF-Token"] = login(client, "admin")
    body = json.dumps(RESULTS).encode()
    refused = _upload(client, "nosuch", "results.json", body, layer="det")
    assert refused["status"] == 422 and "no dataset 'nosuch'" in refused["error"]
    refused = _upload(client, "d", "results.json", body)
    assert refused["status"] == 422 and "name the layer" in refused["error"]
    # A result on an image the dataset does not have: the CLI's message, the file as uploaded.
    bad = [*RESULTS, {"image_id": 999, "category_id": 1, "bbox": [1, 1, 2, 2], "score": 0.5}]
    local = tmp_path / "results.json"
    local.write_text(json.dumps(bad))
    with pytest.raises(DataFormatError) as caught:
        web_project.dataset("d").import_box_predictions(local, layer="det")
    expected = str(caught.value).replace(str(local), "results.json")
    started = _upload(client, "d", "results.json", json.dumps(bad).encode(), layer="det")
    job = wait_job(client, started["job"]["id"])
    assert job["state"] == "failed" and job["error"].endswith(expected), job["error"]
    assert "result 3: image_id 999" in job["error"]
    assert "det" not in [la["name"] for la in web_project.dataset("d").layers()]
