"""HTML stored in a text item, a class name, a layer name, a note and a dataset name is shown
inert on every page: escaped, never markup (the browser test checks no script runs)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from web_helpers import XSS, XSS_CLASS, item_ids, item_page, login

from assay.project import Project

RAW = ("<script>window.__xss", "<img src=x onerror")


@pytest.fixture
def signed_in(client: TestClient, web_project: Project, tmp_path: Path) -> TestClient:
    """An admin client, with a dataset whose very name is HTML."""
    path = tmp_path / "named.jsonl"
    path.write_text(json.dumps({"text": "hi", "label": "a"}) + "\n", encoding="utf-8")
    web_project.import_path(path, dataset=XSS_CLASS, label_field="label")
    client.headers["X-CSRF-Token"] = login(client, "admin")
    return client


def _pages(web_project: Project) -> list[str]:
    text_item = item_ids(web_project, "texts")[0]
    named = quote(XSS_CLASS, safe="")
    layer = quote(XSS, safe="")
    return [
        "/",
        "/datasets/texts",
        "/datasets/texts/items",
        f"/datasets/texts/items?layer={layer}",
        f"/datasets/texts/items?label={quote(XSS_CLASS, safe='')}&layer={layer}",
        item_page(web_project, "texts", text_item),
        item_page(web_project, "texts", text_item) + f"?filter={quote(XSS, safe='')}",  # reflected
        f"/datasets/{named}",
        f"/datasets/{named}/items",
        f"/datasets/{quote('<script>x', safe='')}",  # the 404 page echoes the name
        f"/datasets/texts/items?filter={quote(XSS, safe='')}",  # the 422 echoes the filter
        "/users",
        "/account",
    ]


def test_stored_html_is_escaped_on_every_page(signed_in: TestClient, web_project: Project) -> None:
    for path in _pages(web_project):
        response = signed_in.get(path)
        assert response.headers["content-type"].startswith("text/html"), path
        for raw in RAW:
            assert raw not in response.text, (path, raw)


def test_the_item_page_shows_the_html_as_text(signed_in: TestClient, web_project: Project) -> None:
    text_item = item_ids(web_project, "texts")[0]
    page = signed_in.get(item_page(web_project, "texts", text_item)).text
    assert str(escape(XSS)) in page  # the text, the layer name and the note
    assert page.count(str(escape(XSS))) >= 3
    assert str(escape(XSS_CLASS)) in page  # the label (a class name)


def test_api_answers_are_json_not_html(signed_in: TestClient, web_project: Project) -> None:
    text_item = item_ids(web_project, "texts")[0]
    response = signed_in.get(f"/api/v1/datasets/texts/items/{text_item}")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json()["item"]["text"] == XSS  # stored as given, escaped where shown


def test_label_form_accepts_and_escapes_an_html_note(
    signed_in: TestClient, web_project: Project
) -> None:
    item = item_ids(web_project, "texts")[1]
    csrf = signed_in.headers["X-CSRF-Token"]
    response = signed_in.post(
        f"/datasets/texts/items/{item}/labels",
        data={"layer": XSS, "label": XSS_CLASS, "note": XSS, "csrf_token": csrf},
    )
    assert response.status_code == 303
    page = signed_in.get(response.headers["location"]).text
    assert not any(raw in page for raw in RAW)
    assert page.count(str(escape(XSS_CLASS))) >= 2  # current label and history
