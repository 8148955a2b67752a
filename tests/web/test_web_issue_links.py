"""The grid filter ``issue[run]=label`` and the links of a label-issue list (issue 16)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_helpers import item_page, login

from assay.errors import InvalidParameter
from assay.project import Project
from assay.web import create_app

API = "/api/v1/datasets/digits"


@pytest.fixture
def found(web_project: Project) -> Any:
    ds = web_project.dataset("digits")
    ds.models.cross_validate(name="cv", folds=3, model="logreg")
    return ds.quality.find(model_layer="cv", features=False, method="predicted_neq_given")


def test_the_issue_list_links_to_its_items_in_the_grid_and_the_review_queue(
    client: TestClient, found: Any, web_project: Project
) -> None:
    login(client, "reviewer")
    body = client.get(f"{API}/issues", params={"limit": 5}).json()
    assert body["grid_filter"] == "issue[cv]=label"
    assert body["grid_url"] == "/datasets/digits/items?filter=issue%5Bcv%5D%3Dlabel"
    assert body["review_url"] == "/datasets/digits/review?reason=mislabel"
    assert all(
        i["item_url"] == item_page(web_project, "digits", i["item_id"]) for i in body["issues"]
    )
    grid = client.get(f"{API}/items", params={"filter": body["grid_filter"], "limit": 1000}).json()
    flagged = {i["item_id"] for i in web_project.dataset("digits").quality.issues(limit=1000)}
    assert {it["id"] for it in grid["items"]} == flagged and len(flagged) == found.n_issues
    others = client.get(f"{API}/items", params={"filter": "issue[cv]!=label", "limit": 1000})
    assert not flagged & {it["id"] for it in others.json()["items"]}
    page = client.get("/datasets/digits/predictions").text
    assert 'id="issues-grid" href="/datasets/digits/items?filter=issue%5Bcv%5D%3Dlabel"' in page
    assert 'id="issues-review" href="/datasets/digits/review?reason=mislabel"' in page


def test_the_issue_filter_names_a_run_and_a_kind(found: Any, web_project: Project) -> None:
    ds = web_project.dataset("digits")
    for bad in ("issue=label", "issue[cv]=outlier", "issue[cv]<label", "issue[nope]=label"):
        with pytest.raises(InvalidParameter):
            ds.items(filter=bad)


def test_blind_annotators_may_not_filter_on_issues(found: Any, web_project: Project) -> None:
    with TestClient(create_app(web_project, blind=True), follow_redirects=False) as blind:
        login(blind, "annotator")
        response = blind.get(f"{API}/items", params={"filter": "issue[cv]=label"})
        assert response.status_code == 403, response.text
        assert "label-issue search" in response.json()["error"]
