"""A box case's decision edited on the review page: the decision endpoint gives the box
editor the box set a choice would write (nothing written) with the page's class keys, and a
resolution with ``boxes`` writes the reviewer's edited set into ``reviewed``; a class case
refuses boxes."""

from __future__ import annotations

from fastapi.testclient import TestClient
from web_helpers import add_second_annotator, login

from assay.project import Project
from assay.web.views.review import class_keys
from boxkit import make_box_dataset


def test_a_box_decision_is_edited_and_resolved(client: TestClient, web_project: Project) -> None:
    made = make_box_dataset(web_project, "scenes", n=6, seed=3)
    ds = made.ds
    ds.review_scan(layers=["alice", "bob", "carol"], consensus_layer=None)
    (case, *_), _ = ds.review.list(reason="disagreement")
    client.headers["X-CSRF-Token"] = login(client, "admin")
    base = f"/api/v1/datasets/scenes/review/cases/{case['id']}"

    data = client.get(f"{base}/decision?choice=bob").json()
    bob = ds.item(case["item_id"])["labels"]["bob"]["value"]
    (layer,) = data["layers"]
    assert layer["can_write"] and layer["boxes"] == bob and data["what"] == "the boxes of bob"
    assert data["keys"] == {layer["layer"]: class_keys(ds)} and data["keys"][layer["layer"]]
    assert data["item"]["width"] == 96 and data["item"]["media_url"]
    assert "reviewed" not in ds.item(case["item_id"])["labels"]  # nothing written
    fused = client.get(f"{base}/decision").json()
    assert fused["choice"] == "accept" and fused["what"].startswith("the fused boxes")
    assert client.get(f"{base}/decision?choice=nobody").status_code == 422

    # The reviewer gives bob's first box another class (a class key in the editor).
    edited = [dict(b) for b in bob]
    new_class = next(c for c in ds.classes() if c != edited[0]["class"])
    edited[0]["class"] = new_class
    body = {"label": "bob", "reason": "bob, one class fixed", "boxes": edited,
            "expected_version": case["version"]}  # fmt: skip
    response = client.post(f"{base}/resolve", json=body)
    assert response.status_code == 200, response.text
    reviewed = ds.item(case["item_id"])["labels"]["reviewed"]
    assert reviewed["value"] == edited
    assert "the reviewer's boxes, from the boxes of bob" in ds.review.get(case["id"])["resolution"]
    # Bad boxes are the box kind's error, and nothing is written.
    (other, *_), _ = ds.review.list(reason="disagreement", state=["open"])
    bad = [{"id": 1, "class": "0", "x": 90, "y": 0, "w": 50, "h": 5}]
    response = client.post(
        f"/api/v1/datasets/scenes/review/cases/{other['id']}/resolve",
        json={"label": "accept", "reason": "x", "boxes": bad},
    )
    assert response.status_code == 422 and "image" in response.json()["error"]
    assert ds.review.get(other["id"])["state"] == "open"


def test_a_class_case_refuses_boxes(client: TestClient, web_project: Project) -> None:
    add_second_annotator(web_project)
    ds = web_project.dataset("digits")
    (case, *_), _ = ds.review.list(reason="disagreement")
    client.headers["X-CSRF-Token"] = login(client, "admin")
    base = f"/api/v1/datasets/digits/review/cases/{case['id']}"
    assert client.get(f"{base}/decision").status_code == 422
    box = {"id": 1, "class": "0", "x": 0, "y": 0, "w": 2, "h": 2}
    response = client.post(f"{base}/resolve", json={"label": "0", "reason": "x", "boxes": [box]})
    assert response.status_code == 422 and "resolve it with a class" in response.json()["error"]
    annotator = TestClient(client.app)
    annotator.headers["X-CSRF-Token"] = login(annotator, "annotator")
    assert annotator.get(f"{base}/decision").status_code == 403
