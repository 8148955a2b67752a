"""Tag layers on the web pages that show results (SQLite, one small dataset): the overview's
tag statistics, the agreement report, the predictions page and a tag case's evidence."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from tagkit import make_tag_dataset

import assay
from assay import users
from assay.labels.writes import LabelWrite
from assay.web import create_app

PASSWORD = "correct horse battery"


def _login(client: TestClient) -> None:
    token = client.get("/api/v1/login").json()["csrf_token"]
    done = client.post("/api/v1/login", json={"username": "admin", "password": PASSWORD},
                       headers={"X-CSRF-Token": token})  # fmt: skip
    assert done.status_code == 200, done.text


def test_tag_pages(tmp_path: Path) -> None:
    project = assay.init(tmp_path / "p")
    ds = make_tag_dataset(project, n=30)
    users.create_user(project.store, "admin", PASSWORD, role="admin")
    ids = {r["external_key"]: int(r["id"]) for r in ds.items(limit=30)[0]}
    ds.create_layer("other", value_kind="tags", owner="bob")
    ds.set_labels([LabelWrite(i, ["red"]) for i in ids.values()], layer="other")
    ds.review_scan(layers=["truth", "other"], consensus_layer=None, actor="t")
    ds.quality.find(layer="truth", actor="t", folds=3)
    with TestClient(create_app(project)) as c:
        _login(c)
        page = c.get("/datasets/fruit")
        assert page.status_code == 200 and 'data-layer="truth"' in page.text
        assert "Co-occurrence" in page.text and 'class="data tag-frequencies"' in page.text
        layers = [("layers", "truth"), ("layers", "other")]
        report = c.get("/api/v1/datasets/fruit/agreement", params=layers).json()
        assert report["kind"] == "tags", report
        assert [t["name"] for t in report["per_tag"]] == ["red", "round", "sweet"]
        page = c.get("/datasets/fruit/predictions", params={"run": "truth_oof"})
        assert page.status_code == 200 and 'id="per-tag"' in page.text
        assert 'data-tag="sweet"' in page.text and "Hamming loss" in page.text
        page = c.get("/datasets/fruit/review")
        assert page.status_code == 200 and "tag-evidence" in page.text
        assert "given by" in page.text
