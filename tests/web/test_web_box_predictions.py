"""The evaluation of predicted boxes over the web: the JSON route and the predictions page
(COCO metrics, AP per class, the PR chart, false positives and negatives drawn over their
images and linking to their items, a slice, a score threshold), and blind mode."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_helpers import login

from assay.project import Project
from assay.web import create_app
from boxkit import BoxScenes, make_box_dataset
from boxpredkit import predicted_boxes, write_predictions

API = "/api/v1/datasets/scenes"
EVAL = f"{API}/predictions/evaluation"
PAGE = "/datasets/scenes/predictions"


@pytest.fixture
def scenes(web_project: Project) -> BoxScenes:
    bs = make_box_dataset(web_project, n=16, seed=1)
    write_predictions(bs.ds, bs.item_ids, predicted_boxes(bs.scenes.boxes, seed=2))
    return bs


def signed(client: TestClient, user: str) -> TestClient:
    client.headers["X-CSRF-Token"] = login(client, user)
    return client


def test_evaluation_route_for_boxes(client: TestClient, scenes: BoxScenes) -> None:
    signed(client, "admin")
    body = client.get(EVAL, params={"run": "pred"}).json()
    lib = scenes.ds.models.evaluate("pred", reference_layer="boxes")
    assert body["ok"] and body["kind"] == "boxes" and body["reference_layer"] == "boxes"
    assert body["map"] == pytest.approx(lib["map"]) and body["ap50"] == pytest.approx(lib["ap50"])
    assert body["n_images"] == 16 and len(body["pr_curves"]["overall"]) == 101
    fp: dict[str, Any] = body["false_positives"][0]
    assert fp["score"] == max(e["score"] for e in body["false_positives"])
    assert fp["item_url"].startswith("/datasets/scenes/item/")
    assert fp["item"]["media_url"].endswith(f"/items/{fp['item_id']}/media")
    assert fp["item"]["width"] == 96 and fp["figures"][0]["layer"] == "pred"
    assert fp["figures"][0]["highlight"] == [fp["box"]["id"]]
    fn = body["false_negatives"][0]
    assert fn["figures"][0]["layer"] == "boxes" and fn["figures"][0]["boxes"] == [fn["box"]]

    strict = client.get(EVAL, params={"run": "pred", "score_threshold": 0.9}).json()
    assert strict["map"] == body["map"]
    assert strict["at_threshold"]["fp"] <= body["at_threshold"]["fp"]
    assert all(e["score"] >= 0.9 for e in strict["false_positives"])
    key = fp["key"]
    one = client.get(EVAL, params={"run": "pred", "filter": f"key={key}"}).json()
    assert one["n_images"] == 1 and one["filter"] == f"key={key}"
    against = client.get(EVAL, params={"run": "pred", "reference": "alice"}).json()
    assert against["reference_layer"] == "alice" and against["map"] != body["map"]
    bad = client.get(EVAL, params={"run": "pred", "score_threshold": 2})
    assert bad.status_code == 422


def test_predictions_page_for_boxes(client: TestClient, scenes: BoxScenes) -> None:
    signed(client, "admin")
    ev = client.get(EVAL, params={"run": "pred"}).json()
    page = client.get(PAGE, params={"run": "pred"})
    assert page.status_code == 200, page.text
    html = page.text
    assert 'id="metric-map"' in html and f"{ev['map']:.3f}" in html
    assert f"{ev['ap50']:.3f}" in html and 'id="box-per-class"' in html
    assert 'id="pr-curves"' in html and 'id="pr-overall"' in html
    assert html.count('class="class-curve"') == len(ev["pr_curves"]["per_class"])
    fps = re.search(r'<ul class="box-errors" id="false-positives">(.*?)</ul>', html, re.S)
    assert fps is not None
    first = ev["false_positives"][0]
    assert first["item_url"] in fps.group(1)
    assert f'data-box="{first["box"]["id"]}"' in fps.group(1) and "box-hot" in fps.group(1)
    assert 'id="false-negatives"' in html and 'id="score-threshold"' in html
    assert "Coverage" not in html and 'id="reliability"' not in html
    # Only box layers are offered as the reference.
    options = re.search(r'<select name="reference"[^>]*>(.*?)</select>', html, re.S)
    assert options is not None
    assert 'value="boxes" selected' in options.group(1) and "ground_truth" not in options.group(1)

    sliced = client.get(PAGE, params={"run": "pred", "filter": f"key={first['key']}",
                                      "score_threshold": "0.3"})  # fmt: skip
    assert sliced.status_code == 200 and "<code>key=" in sliced.text
    assert 'value="0.3"' in sliced.text
    bad = client.get(PAGE, params={"run": "pred", "filter": "nonsense~~"})
    assert bad.status_code == 422 and 'class="error"' in bad.text


def test_blind_annotators_see_boxes_only_against_their_layers(
    web_project: Project, scenes: BoxScenes
) -> None:
    with TestClient(create_app(web_project, blind=True)) as c:
        signed(c, "annotator")
        hidden = c.get(EVAL, params={"run": "pred", "reference": "alice"})
        assert hidden.status_code == 403 and "blind mode" in hidden.json()["error"]
