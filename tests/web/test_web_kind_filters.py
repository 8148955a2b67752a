"""Tags and numbers in the web app: the filter language's ``tag[L]=`` and ``value[L]``
conditions (SQL over labels.value on SQLite and PostgreSQL), the grid's columns and filters,
the value editors' API (save on the loaded version, 409 when stale, 422 out of range), the
item page's editors and history changes, and blind annotators kept to their own layers."""

from __future__ import annotations

import re
from urllib.parse import unquote

from fastapi.testclient import TestClient
from web_helpers import item_ids, item_page, login

from assay.project import Project
from assay.web import create_app

TAGS = {0: ["0", "1"], 1: ["1"], 2: [], 3: ["2"], 4: ["0", "2"]}
RATINGS = {0: 5, 1: 4, 2: 1, 3: 3, 5: 2}


def _setup(project: Project) -> list[int]:
    ds = project.dataset("digits")
    ids = item_ids(project, "digits")
    ds.create_layer("topics", value_kind="tags")
    ds.create_layer("rating", value_kind="number", options={"min": 1, "max": 5, "integer": True})
    for i, tags in TAGS.items():
        ds.set_label(ids[i], tags, layer="topics", author="admin")
    for i, value in RATINGS.items():
        ds.set_label(ids[i], value, layer="rating", author="admin")
    ds.set_label(ids[5], None, layer="rating", author="admin")  # cleared: no value again
    return ids


def _grid(client: TestClient, **params: str) -> tuple[list[int], str]:
    response = client.get("/datasets/digits/items", params={"limit": "100", **params})
    assert response.status_code == 200, response.text[:800]
    found = sorted({int(m) for m in re.findall(r'class="pick" value="(\d+)"', response.text)})
    return found, response.text


def test_tag_and_value_filters_in_the_library_and_the_grid(
    client: TestClient, web_project: Project
) -> None:
    ids = _setup(web_project)
    ds = web_project.dataset("digits")

    def lib(text: str) -> list[int]:
        return sorted(r["id"] for r in ds.items(text, limit=100)[0])

    def want(indices: list[int]) -> list[int]:
        return sorted(ids[i] for i in indices)

    assert lib("tag[topics]=1") == want([0, 1])
    assert lib("tag[topics]=2 and tag[topics]=0") == want([4])
    assert lib("tag[topics]=none") == want([2])
    assert lib("tag[topics]!=none") == want([0, 1, 3, 4])
    assert lib("tag[topics]!=0") == sorted(set(ids) - set(want([0, 4])))
    assert lib("value[rating]>=4") == want([0, 1])
    assert lib("value[rating]<2.5") == want([2])
    assert lib("value[rating]=3") == want([3])
    assert lib("value[rating]=none") == sorted(set(ids) - set(want([0, 1, 2, 3])))
    assert lib("label[topics]=none") == sorted(set(ids) - set(want(list(TAGS))))
    assert lib("label[rating]!=none") == want([0, 1, 2, 3])
    for bad, says in (
        ("tag[topics]=sports", "no class 'sports'"),
        ("tag[rating]=1", "reads a tags layer"),
        ("value[rating]>=x", "needs a number"),
        ("tag[topics]>1", "compare with '=' or '!='"),
        ("label[topics]=1", "holds tags values"),
    ):
        try:
            ds.items(bad, limit=1)
        except Exception as exc:  # the message is what is checked
            assert says.lower() in str(exc).lower(), (bad, str(exc))
        else:
            raise AssertionError(f"{bad} was accepted")

    login(client, "reviewer")
    found, html = _grid(client, filter="tag[topics]=1, value[rating]>=4")
    assert found == want([0, 1])
    # Columns: each tile shows its tags as chips and its rating.
    assert 'data-layer="topics"' in html and '<span class="chip tag">0</span>' in html
    assert re.search(r'data-layer="rating"[^>]*>\s*rating\s*5', html)
    # Sorted by the rating, highest first; items without one are not in that order.
    rated = [ids[0], ids[1], ids[3], ids[2]]
    assert [r["id"] for r in ds.items(sort="value:rating", limit=10)[0]] == rated
    page = client.get("/datasets/digits/items", params={"sort": "value:rating", "limit": "3"})
    assert [int(m) for m in re.findall(r'class="pick" value="(\d+)"', page.text)] == rated[:3]
    assert 'value="value:rating" selected' in page.text
    after = re.search(r'id="next-page" class="button" href="\?[^"]*after=([^"&]+)', page.text)
    assert after is not None
    rest = client.get(
        "/datasets/digits/items",
        params={"sort": "value:rating", "limit": "3", "after": unquote(after.group(1))},
    )
    assert [int(m) for m in re.findall(r'class="pick" value="(\d+)"', rest.text)] == rated[3:]
    refused = client.get("/datasets/digits/items", params={"filter": "value[rating]>=x"})
    assert refused.status_code == 422 and "needs a number" in refused.text


def test_value_editors_save_on_the_loaded_version(client: TestClient, web_project: Project) -> None:
    ids = _setup(web_project)
    ds = web_project.dataset("digits")
    ds.create_layer("mine", value_kind="tags", owner="annotator")
    csrf = login(client, "annotator")
    headers = {"X-CSRF-Token": csrf}
    url = f"/api/v1/datasets/digits/items/{ids[2]}/value"
    got = client.get(url, params={"layer": "mine"}).json()
    assert got["value"] is None and got["label_id"] == 0
    assert [c["name"] for c in got["classes"]] == ["0", "1", "2"]
    saved = client.post(
        url, json={"layer": "mine", "value": ["2", "0"], "base": 0}, headers=headers
    )
    assert saved.status_code == 201, saved.text
    assert saved.json()["value"] == ["0", "2"]  # kept in class order
    stale = client.post(url, json={"layer": "mine", "value": [], "base": 0}, headers=headers)
    assert stale.status_code == 409
    assert ds.item(ids[2])["labels"]["mine"]["value"] == ["0", "2"]
    again = client.post(
        url,
        json={"layer": "mine", "value": ["0"], "base": saved.json()["label_id"]},
        headers=headers,
    )
    assert again.status_code == 201
    # Another's layer: not written (403); the item page shows the editor of the own layer
    # only, and the history says what changed.
    theirs = client.post(url, json={"layer": "topics", "value": [], "base": 0}, headers=headers)
    assert theirs.status_code == 403
    page = client.get(item_page(web_project, "digits", ids[2])).text
    assert page.count('class="card kind-editor"') == 1 and 'data-layer="mine"' in page
    assert "/static/tags.js" in page and "-2" in page

    csrf = login(client, "admin")
    rate = f"/api/v1/datasets/digits/items/{ids[9]}/value"
    out = client.post(
        rate, json={"layer": "rating", "value": 7, "base": 0}, headers={"X-CSRF-Token": csrf}
    )
    assert out.status_code == 422 and "outside the layer's range [1, 5]" in out.json()["error"]
    half = client.post(
        rate, json={"layer": "rating", "value": 2.5, "base": 0}, headers={"X-CSRF-Token": csrf}
    )
    assert half.status_code == 422 and "whole number" in half.json()["error"]
    ok = client.post(
        rate, json={"layer": "rating", "value": 4, "base": 0}, headers={"X-CSRF-Token": csrf}
    )
    assert ok.status_code == 201 and ok.json()["value"] == 4
    queue = client.get("/datasets/digits/label", params={"layer": "rating"}).text
    assert 'id="kind-queue"' in queue and "/static/number.js" in queue


def test_blind_annotators_may_not_filter_on_others_tags_or_values(web_project: Project) -> None:
    _setup(web_project)
    with TestClient(create_app(web_project, blind=True), follow_redirects=False) as c:
        login(c, "annotator")
        for text in ("tag[topics]=1", "value[rating]>=4"):
            response = c.get("/datasets/digits/items", params={"filter": text})
            assert response.status_code == 403, (text, response.status_code)
        ids = item_ids(web_project, "digits")
        hidden = c.get(f"/api/v1/datasets/digits/items/{ids[0]}/value", params={"layer": "topics"})
        assert hidden.status_code == 403


def test_every_number_layer_is_a_sort_of_the_grid(client: TestClient, web_project: Project) -> None:
    """The grid shows the first few value layers as columns, but offers a sort by each number
    layer (a sixth one was missing from the choices, so its sort showed as 'added')."""
    ds = web_project.dataset("digits")
    for k in range(6):
        ds.create_layer(f"n{k}", value_kind="number")
    login(client, "reviewer")
    page = client.get("/datasets/digits/items", params={"sort": "value:n5", "limit": "3"})
    assert page.status_code == 200
    assert 'value="value:n5" selected' in page.text
    assert all(f'value="value:n{k}"' in page.text for k in range(6))
