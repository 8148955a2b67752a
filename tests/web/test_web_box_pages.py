"""Every page of a detection dataset opens (a box model run, a consensus, disagreement and
label-issue cases beside the classification pages' usual data): a page that asks for class
probabilities must skip a run of boxes, never answer 422 (the item page did)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from web_helpers import login

from assay.project import Project
from boxkit import make_box_dataset


@pytest.mark.parametrize("who", ["admin", "annotator"])
def test_every_page_of_a_box_dataset_opens(
    client: TestClient, web_project: Project, who: str
) -> None:
    made = make_box_dataset(web_project, "scenes", n=24)
    ds = made.ds
    ds.models.cross_validate(name="det", folds=3, model="components", layer="boxes")
    ds.consensus(method="majority", layers=["alice", "bob", "carol"], into="consensus")
    ds.review_scan(layers=["alice", "bob", "carol"], consensus_layer=None, actor="test")
    run = ds.quality.find(layer="bob", model_layer="det", actor="test")
    ds.quality.to_review(run.run_id, actor="test")
    login(client, who)
    key = ds.item(made.item_ids[0])["external_key"]
    pages = [
        "", "/items", "/items?boxes=bob", f"/item/{key}", f"/item/{key}?layer=bob", "/review",
        "/predictions?run=det", "/agreement", "/snapshots", "/jobs",
        "/label?layer=bob" if who == "admin" else "/label",  # bob's layer is bob's
    ]  # fmt: skip
    for page in pages:
        response = client.get(f"/datasets/scenes{page}")
        assert response.status_code == 200, (page, response.text[:300])
    item = client.get(f"/datasets/scenes/item/{key}").text
    assert "ground_truth now" not in item  # a box case names no class layer
