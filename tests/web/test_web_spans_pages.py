"""Span layers over HTTP: the span editor's read and save (code-point offsets, 409 on a stale
base, 422 naming the span), text and class names escaped in the grid's highlighted previews
and the item page, previews cut around the spans, and blind annotators seeing only their own
span layers. SQLite only: the store behaviour under it is tested on both backends elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_helpers import PASSWORD, XSS, XSS_CLASS, login

import assay
from assay import users
from assay.ingest.staging import ImportJob, json_hash
from assay.web import create_app
from assay.web.views.spans import preview_html

API = "/api/v1/datasets/notes"
LONG = "word " * 100 + "Ada Lovelace met Charles Babbage in London. " + "tail " * 80
TEXTS = [XSS + " met Ada", "Zoë 🎉 visited Paris", LONG]
CLASSES = ["PER", "LOC", XSS_CLASS]


def _project(root: Path) -> assay.Project:
    project = assay.init(root)
    for role in ("admin", "annotator"):
        users.create_user(project.store, role, PASSWORD, role=role)
    with ImportJob(project.store, "notes", source="mem", format="test", classes=CLASSES) as job:
        for i, text in enumerate(TEXTS):
            job.add(
                {"external_key": f"t{i}", "kind": "text", "text": text,
                 "content_hash": json_hash({"t": text})},
                where=i + 2,
            )  # fmt: skip
        job.publish()
    ds = project.dataset("notes")
    ds.create_layer("ner", value_kind="spans")
    ds.create_layer("mine", value_kind="spans", owner="annotator")
    ds.set_label("t0", [{"start": 0, "end": len(XSS), "class": XSS_CLASS}], layer="ner", author="a")
    at = LONG.index("Ada")
    ds.set_label("t2", [{"start": at, "end": at + 12, "class": "PER"}], layer="ner", author="a")
    return project


@pytest.fixture
def project(tmp_path: Path) -> Iterator[assay.Project]:
    made = _project(tmp_path / "p")
    yield made
    made.close()


def _client(project: assay.Project, user: str, **settings: bool) -> TestClient:
    client = TestClient(create_app(project, **settings), follow_redirects=False)
    client.headers["X-CSRF-Token"] = login(client, user)
    return client


def test_previews_escape_text_and_classes_and_cut_around_the_spans(project: assay.Project) -> None:
    with _client(project, "admin") as client:
        page = client.get("/datasets/notes/items", params={"spans": "ner"})
        assert page.status_code == 200, page.text[:300]
        html = page.text
        assert "<script>window.__xss" not in html and 'onerror="window' not in html
        assert '<mark class="span-mark" data-c="2" title="&lt;img src=x onerror=' in html
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
        # The long text: cut a little before its span, with ellipses at both ends.
        assert "…word word Ada <mark" not in html  # a word edge, not a word count
        assert '>Ada Lovelace<span class="span-class">PER</span></mark> met Charles' in html
        item = client.get("/datasets/notes/item/t0").text
        assert 'id="span-editor"' in item and "<script>window.__xss" not in item
        assert "<img src=x" not in item  # the class in the page's JSON: "\\u003cimg"
        refused = client.get("/datasets/notes/items", params={"spans": "nope"})
        assert refused.status_code in (404, 422) and "nope" in refused.text
    marked = preview_html(LONG, [{"start": LONG.index("Ada"), "end": LONG.index("Ada") + 3,
                                  "class": "PER"}], CLASSES, length=60)  # fmt: skip
    assert str(marked).startswith("…word") and str(marked).endswith("…")
    assert len(str(marked)) < 200


def test_the_editor_api_saves_code_points_and_refuses_stale_and_bad_spans(
    project: assay.Project,
) -> None:
    text = TEXTS[1]
    paris = text.index("Paris")  # a code-point offset: the emoji is one
    with _client(project, "admin") as client:
        got = client.get(f"{API}/items/2/spans").json()
        assert got["item"]["text"] == text and [la["layer"] for la in got["layers"]] == [
            "ner",
            "mine",
        ]
        base = got["layers"][0]["label_id"]
        body = {"layer": "ner", "base": base, "spans": [
            {"start": paris, "end": paris + 5, "class": "LOC"},
            {"start": 0, "end": 3, "class": "PER"}]}  # fmt: skip
        saved = client.post(f"{API}/items/2/spans", json=body)
        assert saved.status_code == 201, saved.text
        assert [s["start"] for s in saved.json()["spans"]] == [0, paris]
        stale = client.post(f"{API}/items/2/spans", json=body)
        assert stale.status_code == 409 and "changed since" in stale.json()["error"]
        fresh = saved.json()["label_id"]
        outside = {**body, "base": fresh, "spans": [{"start": 5, "end": 99, "class": "LOC"}]}
        bad = client.post(f"{API}/items/2/spans", json=outside)
        assert bad.status_code == 422 and "[5, 99) is outside the text" in bad.json()["error"]
        nested = [{"start": 0, "end": 10, "class": "PER"}, {"start": 4, "end": 6, "class": "LOC"}]
        over = client.post(f"{API}/items/2/spans", json={**outside, "spans": nested})
        assert over.status_code == 422 and "overlaps" in over.json()["error"]
    ds = project.dataset("notes")
    assert ds.item("t1")["labels"]["ner"]["value"][1] == {
        "start": paris,
        "end": paris + 5,
        "class": "LOC",
    }


def test_blind_annotators_see_and_write_only_their_span_layers(project: assay.Project) -> None:
    with _client(project, "annotator", blind=True) as client:
        got = client.get(f"{API}/items/1/spans").json()
        assert [la["layer"] for la in got["layers"]] == ["mine"]
        page = client.get("/datasets/notes/item/t0").text
        assert '"ner"' not in page and "<img src=x" not in page
        grid = client.get("/datasets/notes/items", params={"spans": "ner"})
        assert grid.status_code in (403, 404) and "span-mark" not in grid.text
        denied = client.post(f"{API}/items/1/spans", json={"layer": "ner", "base": 0, "spans": []})
        assert denied.status_code in (403, 404)
        ok = client.post(
            f"{API}/items/1/spans",
            json={"layer": "mine", "base": 0, "spans": [{"start": 0, "end": 3, "class": "PER"}]},
        )
        assert ok.status_code == 201, ok.text
