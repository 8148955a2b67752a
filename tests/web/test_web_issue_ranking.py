"""Likely label issues past the cut over the web: the issues API's whole ranking and method,
the predictions page's paged card (views, next/first links, flagged items marked), the stale
note, escaping, and the issues job's method checked at once."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_helpers import XSS, item_page, login

from assay.project import Project
from assay.web import create_app

ISSUES = "/api/v1/datasets/digits/issues"
PAGE = "/datasets/digits/predictions"
METHOD = "predicted_neq_given"  # flags every misclassified item: many, whatever the default


def signed(client: TestClient, user: str) -> TestClient:
    client.headers["X-CSRF-Token"] = login(client, user)
    return client


@pytest.fixture
def search(web_project: Project) -> Any:
    """A 3-fold cross-validation of ``digits`` (30 random images: mostly wrong) and a
    label-issue search on it."""
    ds = web_project.dataset("digits")
    ds.models.cross_validate(name="cv", folds=3, model="logreg")
    found = ds.quality.find(model_layer="cv", features=False, method=METHOD)
    assert 0 < found.n_issues < found.n_items == 30
    return found


def api_pages(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    """Every row of the issues API, following ``next`` to the end."""
    rows: list[dict[str, Any]] = []
    after = None
    while True:
        body = client.get(ISSUES, params={**params, **({"after": after} if after else {})})
        assert body.status_code == 200, body.text
        rows += body.json()["issues"]
        after = body.json()["next"]
        if after is None:
            return rows


def test_the_api_ranks_every_labeled_item_flagged_first(
    client: TestClient, search: Any, web_project: Project
) -> None:
    signed(client, "annotator")
    body = client.get(ISSUES, params={"all": "true", "limit": 4}).json()
    assert body["all"] is True and body["run"]["method"] == METHOD
    assert body["run"]["stale"] is False and len(body["issues"]) == 4 and body["next"]
    rows = api_pages(client, all="true", limit=4)
    ids = [r["item_id"] for r in rows]
    labeled = web_project.dataset("digits").label_matrix(["ground_truth"]).item_ids
    assert sorted(ids) == sorted(int(i) for i in labeled) and len(set(ids)) == 30
    flags = [r["is_issue"] for r in rows]
    assert flags == [True] * search.n_issues + [False] * (30 - search.n_issues)
    assert [r["rank"] for r in rows] == list(range(1, 31))
    for r in rows:
        assert r["item_url"] == item_page(web_project, "digits", r["item_id"])
    flagged = api_pages(client, limit=4)  # the default: only the flagged items
    assert [r["item_id"] for r in flagged] == ids[: search.n_issues]
    assert client.get(ISSUES).json()["all"] is False
    assert client.get(ISSUES, params={"all": "true", "after": "f:x:1"}).status_code == 422


def _card(text: str) -> str:
    return text.split('id="issues-card"', 1)[1].split("</section>", 1)[0]


def _page_items(card: str) -> list[tuple[str, bool]]:
    """(item page URL, marked flagged) of each item the card lists."""
    found = re.findall(r'<li( class="flagged")?><a href="(/datasets/digits/item/[^"]+)"', card)
    return [(html.unescape(url), bool(flag)) for flag, url in found]


def _link(card: str, link_id: str) -> str | None:
    match = re.search(rf'id="{link_id}" href="([^"]+)"', card)
    return html.unescape(match.group(1)) if match else None


def _walk(client: TestClient, url: str) -> tuple[list[tuple[str, bool]], list[str]]:
    """Follow the card's "Next page" links from ``url``: its items, and each page's card."""
    items: list[tuple[str, bool]] = []
    cards: list[str] = []
    while True:
        response = client.get(url)
        assert response.status_code == 200, response.text
        card = _card(response.text)
        cards.append(card)
        items += _page_items(card)
        next_url = _link(card, "issues-next")
        if next_url is None:
            return items, cards
        assert next_url.startswith("?") and next_url.endswith("#issues-card")
        url = PAGE + next_url.split("#", 1)[0]


def test_the_page_pages_through_the_whole_ranking(client: TestClient, search: Any) -> None:
    signed(client, "reviewer")
    api = [r["item_url"] for r in api_pages(client, all="true", limit=100)]
    items, cards = _walk(client, f"{PAGE}?run=cv&issues_all=1")
    assert [i for i, _ in items] == api  # every labeled item once, in the API's order
    assert [flag for _, flag in items] == [True] * search.n_issues + [False] * (
        30 - search.n_issues
    )
    assert len(cards) == 3  # 12 a page
    first = cards[0]
    assert f'id="issues-method">{METHOD}<' in first
    assert "Only flagged" in first and "Whole ranking (past the cut)" in first
    assert 'id="issues-whole-view" aria-current="page"' in first
    assert "flagged</span>" in first and "#1 ·" in first and _link(first, "issues-first") is None
    assert "past the cut</span>" in cards[-1] and "last page" in cards[-1]
    back = _link(cards[1], "issues-first")
    assert back is not None and "issues_all=1" in back and "issues_after" not in back
    assert "run=cv" in back  # the page's other parameters are kept
    # Only the flagged items, paged too, none marked (they all are).
    flagged, _ = _walk(client, f"{PAGE}?run=cv")
    assert [i for i, _ in flagged] == api[: search.n_issues]
    assert not any(flag for _, flag in flagged)
    # A bad cursor is said in the card; the page still renders, with a way back.
    bad = client.get(PAGE, params={"issues_after": "nonsense", "issues_all": 1})
    assert bad.status_code == 200 and "Bad cursor" in _card(bad.text)
    assert _link(_card(bad.text), "issues-first") is not None


def test_the_page_and_api_say_when_the_probabilities_are_stale(
    client: TestClient, web_project: Project
) -> None:
    ds = web_project.dataset("digits")
    ds.copy_layer("ground_truth", XSS)  # a layer named with HTML: it shows in the note
    ds.models.cross_validate(name="cv", folds=3, model="logreg", layer=XSS)
    item = ds.items(limit=1)[0][0]["id"]
    label = ds.item(item)["labels"][XSS]["label"]
    ds.set_label(item, "1" if label != "1" else "2", layer=XSS)
    ds.quality.find(layer=XSS, model_layer="cv", features=False, method=METHOD)
    signed(client, "admin")
    run = client.get(ISSUES).json()["run"]
    assert run["stale"] is True and XSS in run["stale_message"]
    card = _card(client.get(PAGE).text)
    assert 'id="issues-stale"' in card and "assay issues --scan --recompute" in card
    assert "changed after cross-validation run" in card
    assert XSS not in card and "&lt;script&gt;" in card


def test_blind_annotators_get_no_ranking_of_hidden_labels(
    web_project: Project, search: Any
) -> None:
    with TestClient(create_app(web_project, blind=True)) as c:
        signed(c, "annotator")
        assert c.get(ISSUES, params={"all": "true"}).status_code == 403
        page = c.get(PAGE, params={"issues_all": 1, "reference": "ann"})
        assert page.status_code in (200, 422)  # 422: "ann" has no labels to evaluate against
        card = _card(page.text)
        assert "blind mode" in card and _page_items(card) == []


def test_an_issues_job_with_an_unknown_method_is_refused(client: TestClient) -> None:
    admin = signed(client, "admin")
    url = "/api/v1/datasets/digits/jobs"
    bad = admin.post(url, json={"kind": "issues", "params": {"method": "nope"}})
    assert bad.status_code == 422, bad.text
    assert "Unknown label-issue method 'nope'" in bad.json()["error"]
    assert admin.get(url).json()["jobs"] == []
    ok = admin.post(url, json={"kind": "issues", "params": {"method": METHOD}})
    assert ok.status_code in (200, 201, 202), ok.text
    assert ok.json()["job"]["params"]["method"] == METHOD
    page = admin.get("/datasets/digits/jobs").text
    assert f"<option>{METHOD}</option>" in page
