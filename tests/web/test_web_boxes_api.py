"""The box editor's API: an item's boxes in every box layer in one request, a box set saved on
the version it was edited from (201, 200 for a retry, 409 when stale, 403 for a layer the user
may not write, 422 naming the bad box), and box overlays on the grid, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_helpers import item_ids, login

from assay.labels.writes import LabelWrite
from assay.project import Project
from assay.web.rendering import layer_colour

API = "/api/v1/datasets/digits"
BOX = {"class": "1", "x": 1.0, "y": 1.0, "w": 3.0, "h": 4.0}


def signed(client: TestClient, user: str) -> TestClient:
    client.headers["X-CSRF-Token"] = login(client, user)
    return client


@pytest.fixture
def boxed(web_project: Project) -> dict[str, Any]:
    """``digits`` (8x8 images) with a human box layer, an annotator's box layer and a model's
    predicted boxes (with scores) on its first items."""
    ds = web_project.dataset("digits")
    ids = item_ids(web_project, "digits")
    ds.create_layer("objects", value_kind="boxes")
    ds.create_layer("ann_boxes", value_kind="boxes", owner="annotator")
    ds.create_layer("detector", value_kind="boxes", kind="model")
    ds.set_label(ids[0], [BOX], layer="objects", author="admin")
    ds.set_labels(
        [
            LabelWrite(ids[0], [{**BOX, "score": 0.9}, {**BOX, "class": "2", "score": 0.2}]),
            LabelWrite(ids[1], [{**BOX, "score": 0.7}]),
        ],
        layer="detector",
        author="model",
    )
    return {"ds": ds, "ids": ids}


def test_item_boxes_are_every_box_layer_in_one_request(
    client: TestClient, boxed: dict[str, Any]
) -> None:
    signed(client, "reviewer")
    first = boxed["ids"][0]
    out = client.get(f"{API}/items/{first}/boxes").json()
    assert out["item"] | {"media_url": None} == {
        "id": first, "key": out["item"]["key"], "width": 8, "height": 8, "media_url": None
    }  # fmt: skip
    layers = {la["layer"]: la for la in out["layers"]}
    assert list(layers) == ["objects", "ann_boxes", "detector"]  # box layers only, in order
    assert [b["class"] for b in layers["objects"]["boxes"]] == ["1"]
    assert layers["objects"]["label_id"] > 0 and layers["objects"]["can_write"] is True
    assert layers["ann_boxes"]["label_id"] == 0 and layers["ann_boxes"]["boxes"] == []
    assert layers["detector"]["can_write"] is False and layers["detector"]["scored"] is True
    assert [b["score"] for b in layers["detector"]["boxes"]] == [0.9, 0.2]
    assert layers["detector"]["colour"] == layer_colour("detector")
    assert set(out["keys"]) == {"objects", "ann_boxes"}  # keys only where the user may edit
    assert out["keys"]["objects"]["1"] == "1"


def test_save_on_the_loaded_version_then_a_stale_save_is_refused(
    client: TestClient, boxed: dict[str, Any]
) -> None:
    signed(client, "reviewer")
    first = boxed["ids"][0]
    base = client.get(f"{API}/items/{first}/boxes").json()["layers"][0]["label_id"]
    moved = [{"id": 1, "class": "2", "x": 2, "y": 2, "w": 4, "h": 5}, {**BOX, "x": 4}]
    body = {"layer": "objects", "boxes": moved, "base": base, "idempotency_key": "edit-0001"}
    saved = client.post(f"{API}/items/{first}/boxes", json=body)
    assert saved.status_code == 201, saved.text
    out = saved.json()
    assert out["label_id"] > base and out["written"] == 1
    assert [(b["id"], b["class"], b["x"]) for b in out["boxes"]] == [(1, "2", 2), (2, "1", 4)]
    stored = boxed["ds"].item(first)["labels"]["objects"]["value"]
    assert stored == out["boxes"]
    again = client.post(f"{API}/items/{first}/boxes", json=body)  # a retry of the same save
    assert again.status_code == 200 and again.json()["label_id"] == out["label_id"]
    stale = client.post(
        f"{API}/items/{first}/boxes", json={"layer": "objects", "boxes": [], "base": base}
    )
    assert stale.status_code == 409
    assert "changed since you opened it by reviewer" in stale.json()["error"]
    assert boxed["ds"].item(first)["labels"]["objects"]["value"] == out["boxes"]  # kept


def test_first_save_has_base_zero_and_a_second_session_conflicts(
    client: TestClient, boxed: dict[str, Any]
) -> None:
    signed(client, "annotator")
    second = boxed["ids"][1]
    body = {"layer": "ann_boxes", "boxes": [BOX], "base": 0}
    assert client.post(f"{API}/items/{second}/boxes", json=body).status_code == 201
    # The other session had loaded the image before the first save: it must not overwrite.
    late = client.post(f"{API}/items/{second}/boxes", json={**body, "boxes": []})
    assert late.status_code == 409
    assert len(boxed["ds"].item(second)["labels"]["ann_boxes"]["value"]) == 1


def test_layers_the_user_may_not_write_are_refused(
    client: TestClient, boxed: dict[str, Any]
) -> None:
    first = boxed["ids"][0]
    signed(client, "reviewer")
    model = client.post(
        f"{API}/items/{first}/boxes", json={"layer": "detector", "boxes": [], "base": 0}
    )
    assert model.status_code == 403 and "model" in model.json()["error"]
    signed(client, "annotator")
    other = client.post(
        f"{API}/items/{first}/boxes", json={"layer": "objects", "boxes": [BOX], "base": 0}
    )
    assert other.status_code == 403
    assert [b["class"] for b in boxed["ds"].item(first)["labels"]["objects"]["value"]] == ["1"]


@pytest.mark.parametrize(
    ("box", "words"),
    [
        ({**BOX, "x": 6.0, "w": 5.0}, ["box 2", "image"]),
        ({**BOX, "class": "cat"}, ["box 2", "cat"]),
        ({**BOX, "w": 0}, ["box 2"]),
    ],
)
def test_a_bad_box_is_422_naming_it_and_nothing_is_written(
    client: TestClient, boxed: dict[str, Any], box: dict[str, Any], words: list[str]
) -> None:
    signed(client, "reviewer")
    second = boxed["ids"][1]
    body = {"layer": "objects", "boxes": [BOX, box], "base": 0}
    bad = client.post(f"{API}/items/{second}/boxes", json=body)
    assert bad.status_code == 422, bad.text
    message = bad.json()["error"].lower()
    for word in words:
        assert word.lower() in message
    assert "objects" not in boxed["ds"].item(second)["labels"]


def test_grid_draws_the_chosen_layers_boxes_over_thumbnails(
    client: TestClient, boxed: dict[str, Any]
) -> None:
    signed(client, "reviewer")
    page = client.get("/datasets/digits/items", params={"boxes": "detector"})
    assert page.status_code == 200
    html = page.text
    assert html.count("<rect ") == 3  # two boxes on item 0, one on item 1
    assert 'viewBox="0 0 8 8"' in html and layer_colour("detector") in html
    listed = client.get(f"{API}/items", params={"boxes": "detector", "limit": 3}).json()
    assert [len(it.get("boxes", [])) for it in listed["items"]] == [2, 1, 0]
    wrong = client.get("/datasets/digits/items", params={"boxes": "ground_truth"})
    assert wrong.status_code == 422 and "not boxes" in wrong.text


def test_item_page_embeds_the_editor_and_its_boxes(
    client: TestClient, boxed: dict[str, Any]
) -> None:
    import json
    import re

    signed(client, "annotator")
    first = boxed["ids"][0]
    key = boxed["ds"].item(first)["external_key"]
    html = client.get(f"/datasets/digits/item/{key}").text
    assert 'id="box-editor"' in html and "/static/boxes.js" in html
    data = json.loads(re.search(r'id="box-data">(.*?)</script>', html, re.S).group(1))
    layers = {la["layer"]: la for la in data["layers"]}
    assert [la["layer"] for la in data["layers"] if la["can_write"]] == ["ann_boxes"]
    assert data["save_url"].endswith(f"/items/{first}/boxes")
    assert layers["objects"]["colour"] == layer_colour("objects")
    assert f'data-colour="{layer_colour("detector")}"' in html
    # The class label form offers no box layer (a class is not a box set).
    form = html.split('id="label-layer"')[1].split("</select>")[0]
    assert "ann_boxes" not in form and ">ann<" in form


def test_a_blind_annotator_sees_and_draws_only_their_own_box_layer(
    web_project: Project, boxed: dict[str, Any]
) -> None:
    from assay.web import create_app

    first = boxed["ids"][0]
    with TestClient(create_app(web_project, blind=True), follow_redirects=False) as c:
        signed(c, "annotator")
        out = c.get(f"{API}/items/{first}/boxes").json()
        assert [la["layer"] for la in out["layers"]] == ["ann_boxes"]  # not the others' boxes
        hidden = c.get("/datasets/digits/items", params={"boxes": "objects"})
        assert hidden.status_code == 403 and '<rect x="1"' not in hidden.text
        listed = c.get(f"{API}/items", params={"boxes": "objects", "layer": "ann"})
        assert listed.status_code == 403
