"""Box statistics through the API: the box layer route, the box section of the statistics
route and the overview page that draws it (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from web_helpers import login

from assay.project import Project
from boxkit import make_box_dataset


@pytest.fixture
def admin(client: TestClient, web_project: Project) -> TestClient:
    """The client signed in as admin, with the digit scenes in dataset ``scenes``."""
    make_box_dataset(web_project, n=12)
    client.headers["X-CSRF-Token"] = login(client, "admin")
    return client


def test_box_layer_route(admin: TestClient, web_project: Project) -> None:
    found = admin.get("/api/v1/datasets/scenes/statistics/boxes", params={"layer": "boxes"})
    assert found.status_code == 200, found.text
    body = found.json()
    s = body["layer"]
    ds = web_project.dataset("scenes")
    boxes = [r["labels"]["boxes"]["value"] for r in (ds.item(k) for k in map(str, range(12)))]
    assert s["name"] == "boxes" and s["n_items"] == 12 and s["n_annotated"] == 12
    assert s["n_boxes"] == sum(len(b) for b in boxes)
    assert sum(s["classes"].values()) == s["n_boxes"]
    assert sum(s["boxes_per_image"]["histogram"]["counts"]) == 12
    sliced = admin.get(
        "/api/v1/datasets/scenes/statistics/boxes", params={"layer": "boxes", "filter": "key=0"}
    ).json()["layer"]
    assert sliced["n_items"] == 1 and sliced["n_boxes"] == len(boxes[0])
    refused = admin.get(
        "/api/v1/datasets/digits/statistics/boxes", params={"layer": "ground_truth"}
    )
    assert refused.status_code == 422 and "holds classification labels" in refused.json()["error"]
    missing = admin.get("/api/v1/datasets/scenes/statistics/boxes", params={"layer": "nope"})
    assert missing.status_code == 404


def test_statistics_route_has_a_box_section_per_box_layer(admin: TestClient) -> None:
    stats = admin.get("/api/v1/datasets/scenes/statistics").json()
    layers = {layer["name"]: layer for layer in stats["layers"]}
    assert set(layers) >= {"boxes", "alice", "bob", "carol"}
    for layer in layers.values():
        assert layer["value_kind"] == "boxes" and layer["boxes"]["n_annotated"] == 12
        assert layer["classes"] == layer["boxes"]["classes"]
    page = admin.get("/datasets/scenes")
    assert page.status_code == 200 and "/static/overview.js" in page.text
