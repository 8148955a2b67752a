"""Issue 16 over the web: a review decision on one layer's label is a new version in that
layer, so the grid's API sees it (bug 4); bulk accept; the evidence with each case (as the
viewer may see it); the item page's open cases; and a case whose label changed elsewhere
reads as obsolete (bug 3)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from web_helpers import item_ids, item_page, login

from assay.project import Project
from assay.web import create_app

API = "/api/v1/datasets/digits"


def signed(client: TestClient, user: str) -> TestClient:
    client.headers["X-CSRF-Token"] = login(client, user)
    return client


def grid_label(client: TestClient, item_id: int) -> Any:
    page = client.get(f"{API}/items", params={"layer": "ground_truth", "limit": 100}).json()
    return next(i["label"] for i in page["items"] if i["id"] == item_id)


def test_a_decision_reaches_the_grid_with_live_counts(
    client: TestClient, web_project: Project
) -> None:
    signed(client, "reviewer")
    first, second, third = item_ids(web_project, "digits")[:3]
    assert grid_label(client, first) == "0"
    case = client.post(
        f"{API}/review/flag", json={"item_id": first, "comment": "a two", "label": "2"}
    ).json()["case"]
    done = client.post(
        f"{API}/review/cases/{case['id']}/resolve",
        json={"label": "2", "reason": "accepted the suggestion (2)", "expected_version": 0},
    )
    assert done.status_code == 200, done.text
    assert done.json()["counts"]["resolved"] == {"flagged": 1}
    assert grid_label(client, first) == "2"
    history = client.get(f"{API}/items/{first}/history").json()["history"]
    last = [h for h in history if h["layer"] == "ground_truth"][-1]
    assert last["author"] == "reviewer" and f"review case {case['id']}" in last["note"]

    # Bulk accept: each case with its own label and version; a stale one is reported.
    ids = []
    for item in (second, third):
        flagged = client.post(
            f"{API}/review/flag", json={"item_id": item, "comment": "x", "label": "0"}
        ).json()["case"]
        ids.append(flagged["id"])
    bulk = client.post(
        f"{API}/review/bulk-resolve",
        json={
            "reason": "accepted the suggestion (bulk)",
            "cases": [
                {"id": ids[0], "label": "0", "expected_version": 0},
                {"id": ids[1], "label": "0", "expected_version": 5},
            ],
        },
    ).json()
    assert [c["id"] for c in bulk["resolved"]] == [ids[0]]
    assert [f["id"] for f in bulk["failed"]] == [ids[1]]
    assert grid_label(client, second) == "0" and grid_label(client, third) == "2"
    signed(client, "annotator")
    refused = client.post(
        f"{API}/review/bulk-resolve",
        json={"reason": "r", "cases": [{"id": ids[1], "label": "0"}]},
    )
    assert refused.status_code == 403


def test_cases_with_evidence_and_the_item_page(client: TestClient, web_project: Project) -> None:
    ds = web_project.dataset("digits")
    item = item_ids(web_project, "digits")[4]
    case = ds.review.flag(item, "looks odd", label="2", actor="reviewer")
    signed(client, "reviewer")
    page = client.get(f"{API}/review/cases", params={"evidence": "true"}).json()
    (why,) = [c["why"] for c in page["cases"]]
    assert (why["given"], why["suggested"], why["decision_layer"]) == ("1", "2", "ground_truth")
    assert why["item"]["media_url"].endswith(f"/items/{item}/media")
    assert page["counts"] == {"open": {"flagged": 1}}
    html = client.get(item_page(web_project, "digits", item)).text
    assert 'id="item-cases"' in html and f"#{case['id']}" in html
    assert 'class="label ev-given">1<' in html and 'class="label ev-suggested">2<' in html
    review = client.get("/datasets/digits/review").text
    assert "written to that layer as a new version" in review

    # The label changes elsewhere: the case is obsolete, and says who changed it.
    ds.set_label(item, "2", layer="ground_truth", author="admin")
    gone = client.get(f"{API}/review/cases", params={"state": "active"}).json()["cases"]
    assert gone == []
    closed = client.get(f"{API}/review/cases/{case['id']}").json()["case"]
    assert closed["state"] == "obsolete" and closed["events"][-1]["actor"] == "admin"
    assert 'id="item-cases"' not in client.get(item_page(web_project, "digits", item)).text


def test_blind_annotators_see_no_labels_of_others_in_the_evidence(web_project: Project) -> None:
    ds = web_project.dataset("digits")
    item = item_ids(web_project, "digits")[5]
    ds.review.flag(item, "hmm", label="0", actor="reviewer")
    with TestClient(create_app(web_project, blind=True)) as c:
        signed(c, "annotator")
        (shown,) = c.get(f"{API}/review/cases", params={"evidence": "true"}).json()["cases"]
        why = shown["why"]
        assert why["redacted"] is True
        assert why["given"] is None and why["suggested"] is None and why["quality"] is None
        assert {r["layer"] for r in why["labels"]} <= {"ann"}
        html = c.get(item_page(web_project, "digits", item)).text
        assert "ev-given" not in html or 'class="label ev-given">—<' in html
