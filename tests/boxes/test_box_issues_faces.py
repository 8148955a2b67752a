"""Likely mislabeled boxes on the faces: ``assay issues --predictions``, the issues API and the
predictions page's label-issues card with the boxes drawn."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import assay
from assay import users
from assay.cli import app as cli
from assay.labels.scenes import simulate_predictions
from assay.labels.writes import LabelWrite
from boxkit import BoxScenes, make_box_dataset

PASSWORD = "correct horse battery"


@pytest.fixture
def scenes(tmp_path: Path, store_url: str) -> BoxScenes:
    """The box scenes with a layer of predicted boxes, ``pred``."""
    project = assay.init(tmp_path, db=store_url)
    bs = make_box_dataset(project)
    preds = simulate_predictions(bs.scenes.boxes, seed=11)
    bs.ds.create_layer("pred", value_kind="boxes", kind="model")
    bs.ds.set_labels([LabelWrite(i, b) for i, b in zip(bs.item_ids, preds, strict=True)],
                     layer="pred", author="detector")  # fmt: skip
    return bs


def _run(project: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--project", str(project), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_cli_lists_suspect_boxes_and_opens_cases(scenes: BoxScenes, tmp_path: Path) -> None:
    where = tmp_path
    data = json.loads(_run(where, "issues", "--layer", "bob", "--predictions",
                           "pred", "--json"))  # fmt: skip
    run, rows = data["run"], data["issues"]
    assert run["family"] == "boxes" and run["model_layer"] == "pred" and rows
    assert rows[0]["suspects"] and rows[0]["quality"] <= rows[-1]["quality"]

    text = _run(where, "issues", "--layer", "bob", "--predictions", "pred",
                "--open-cases")  # fmt: skip
    assert "Likely mislabeled boxes" in text and rows[0]["key"] in text
    assert any(w in text for w in ("looks like", "unlabeled", "badly located"))
    cases, _ = scenes.ds.review.list(reason="mislabel")
    assert len(cases) == run["n_issues"]
    again = json.loads(_run(where, "review", "scan", "--issues", "--json"))
    assert again["mislabel"] == {"found": run["n_issues"], "opened": 0}


@pytest.fixture
def client(scenes: BoxScenes, tmp_path: Path) -> Iterator[TestClient]:
    from assay.web import create_app

    project = assay.open(tmp_path)
    users.create_user(project.store, "admin", PASSWORD, role="admin")
    with TestClient(create_app(project), follow_redirects=False) as c:
        token = c.get("/api/v1/login").json()["csrf_token"]
        response = c.post("/api/v1/login", json={"username": "admin", "password": PASSWORD},
                          headers={"X-CSRF-Token": token})  # fmt: skip
        assert response.status_code == 200, response.text
        c.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        yield c


def test_api_and_page(scenes: BoxScenes, client: TestClient) -> None:
    run = scenes.ds.quality.find(layer="bob", model_layer="pred")
    body = client.get("/api/v1/datasets/scenes/issues").json()
    assert body["run"]["family"] == "boxes" and len(body["issues"]) == run.n_issues
    row = body["issues"][0]
    assert [f["layer"] for f in row["figures"]] == ["bob", "pred"]
    assert row["summary"] and row["width"] == 96
    ids = {s["box"] for s in row["suspects"] if s["box"] is not None}
    assert set(row["figures"][0]["highlight"]) == ids

    # The page's evaluation card is for classes (box evaluation is another part of the
    # page's work: it says so as a 422); the label-issues card draws the boxes either way.
    page = client.get("/datasets/scenes/predictions")
    assert page.status_code in (200, 422), page.text
    html = page.text[page.text.index('id="issues-card"') :]
    assert 'class="box-figures"' in html and 'data-layer="pred"' in html
    assert "fix in editor" in html and row["key"] in html


def test_review_page_and_accept(scenes: BoxScenes, client: TestClient) -> None:
    ds = scenes.ds
    ds.quality.find(layer="bob", model_layer="pred")
    ds.quality.to_review()
    cases, _ = ds.review.list(reason="mislabel")
    case = cases[0]
    page = client.get("/datasets/scenes/review", params={"reason": "mislabel"})
    assert page.status_code == 200, page.text
    html = page.text
    assert "the suggestion: " in html and "edit on the item page" in html  # the fixes applied
    assert case["evidence"]["summary"].split(";")[0].replace("'", "&#39;") in html
    assert 'class="box-figures"' in html

    before = ds.item(case["item_id"])["labels"]["bob"]["value"]
    wrong = client.post(f"/api/v1/datasets/scenes/review/cases/{case['id']}/resolve",
                        json={"label": "7", "reason": "a class"})  # fmt: skip
    assert wrong.status_code == 422 and "about boxes" in wrong.text
    done = client.post(f"/api/v1/datasets/scenes/review/cases/{case['id']}/resolve",
                       json={"label": "accept", "reason": "as suggested"})  # fmt: skip
    assert done.status_code == 200, done.text
    assert ds.item(case["item_id"])["labels"]["bob"]["value"] != before
    assert ds.review.get(case["id"])["state"] == "resolved"
