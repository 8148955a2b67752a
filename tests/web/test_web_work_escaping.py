"""HTML in case comments, reasons, notes, layer, class and snapshot names, and in reflected query
values, is shown inert on the labeling, review, agreement and snapshot pages: escaped, never
markup (test_web_browser_work.py checks in Chromium that no script runs)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from web_helpers import XSS, XSS_CLASS, item_ids, login

from assay.project import Project

RAW = ("<script>window.__xss", "<img src=x onerror")


@pytest.fixture
def signed_in(client: TestClient, web_project: Project) -> TestClient:
    """An admin client; ``texts`` gets a second layer, a flagged and resolved case full of HTML,
    a comment and a snapshot named with HTML."""
    texts = web_project.dataset("texts")
    ids = item_ids(web_project, "texts")
    texts.create_layer("plain-layer")
    texts.set_labels([(i, XSS_CLASS) for i in ids], layer="plain-layer", author="admin")
    texts.set_labels([(ids[1], XSS_CLASS), (ids[2], "plain")], layer=XSS, author="admin")
    case = texts.review.flag(ids[0], XSS, label=XSS_CLASS, actor="admin")
    texts.review.comment(case["id"], XSS, actor="admin")
    texts.review.resolve(case["id"], XSS_CLASS, XSS, actor="admin")
    texts.review.flag(ids[1], f"second {XSS}", actor="admin")
    texts.snapshot(XSS, author="admin", description=XSS)
    client.headers["X-CSRF-Token"] = login(client, "admin")
    return client


def _pages() -> list[str]:
    base = "/datasets/texts"
    return [
        f"{base}/label?{urlencode({'layer': XSS})}",
        f"{base}/label?{urlencode({'filter': XSS})}",  # reflected in the form
        f"{base}/review?state=any",
        f"{base}/review?{urlencode({'state': 'any', 'label': XSS_CLASS})}",
        f"{base}/review?{urlencode({'assignee': XSS})}",  # reflected
        f"{base}/review?{urlencode({'reason': XSS})}",  # the 422 echoes it
        f"{base}/agreement?{urlencode({'layers': [XSS, 'plain-layer'], 'a': XSS}, doseq=True)}",
        f"{base}/agreement?{urlencode({'filter': XSS})}",
        f"{base}/snapshots",
        f"{base}/snapshots?{urlencode({'a': XSS})}",
        f"{base}/snapshots?{urlencode({'a': XSS + 'x'})}",  # the 404 echoes it
        f"/datasets/{XSS_CLASS}/review",  # no such dataset: the 404 echoes the name
    ]


def test_new_pages_escape_stored_and_reflected_html(signed_in: TestClient) -> None:
    statuses = {}
    for path in _pages():
        response = signed_in.get(path)
        statuses[path] = response.status_code
        assert response.headers["content-type"].startswith("text/html"), path
        for raw in RAW:
            assert raw not in response.text, (path, raw)
    assert sorted(set(statuses.values())) == [200, 404, 422]


def test_review_page_shows_comments_reasons_and_labels_as_text(signed_in: TestClient) -> None:
    page = signed_in.get("/datasets/texts/review?state=any").text
    assert page.count(str(escape(XSS))) >= 4  # the item's text, two comments, a resolution
    assert str(escape(f"second {XSS}")) in page
    assert str(escape(XSS_CLASS)) in page  # the class at issue, the decision, the labels


def test_snapshot_page_shows_names_and_descriptions_as_text(signed_in: TestClient) -> None:
    page = signed_in.get(f"/datasets/texts/snapshots?{urlencode({'a': XSS})}").text
    assert page.count(str(escape(XSS))) >= 3  # the name, its description, the diff heading


def test_api_returns_the_html_as_given(signed_in: TestClient) -> None:
    found = signed_in.get("/api/v1/datasets/texts/review/cases", params={"state": "any"})
    assert found.headers["content-type"] == "application/json"
    first = found.json()["cases"][0]
    assert (first["comment"], first["resolution"], first["resolved_label"]) == (
        XSS,
        XSS,
        XSS_CLASS,
    )
