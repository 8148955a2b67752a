"""Model runs, their evaluation, label issues and the predictions page over the web."""

from __future__ import annotations

import gzip
import json
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from web_helpers import XSS, XSS_CLASS, item_ids, item_page, login

import assay
from assay import users
from assay.project import Project
from assay.web import create_app

API = "/api/v1/datasets/digits"
EVAL = f"{API}/predictions/evaluation"


def signed(client: TestClient, user: str) -> TestClient:
    client.headers["X-CSRF-Token"] = login(client, user)
    return client


@pytest.fixture
def cv(web_project: Project) -> dict[str, Any]:
    """A 3-fold cross-validation on ``digits`` (30 random images, classes 0-2 ten times each:
    the model is mostly wrong, so the matrix has off-diagonal cells)."""
    return web_project.dataset("digits").models.cross_validate(name="cv", folds=3, model="logreg")


def grid_ids(client: TestClient, filter: str, dataset: str = "digits") -> list[int]:
    """The ids of every item the items API returns for ``filter``."""
    response = client.get(
        f"/api/v1/datasets/{dataset}/items", params={"filter": filter, "limit": 1000}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next"] is None
    return [it["id"] for it in body["items"]]


def test_runs_list_and_one(client: TestClient, cv: dict[str, Any]) -> None:
    signed(client, "annotator")
    body = client.get(f"{API}/runs").json()
    assert body["default"] == "cv"
    (run,) = body["runs"]
    assert run["name"] == "cv" and run["kind"] == "cv" and run["state"] == "done"
    assert run["layer"] == "cv" and run["model"] == "logreg" and run["folds"] == 3
    assert run["snapshot"] and run["created_at"] and "artifact_path" not in run
    assert 0.0 <= run["metrics"]["oof_accuracy"] <= 1.0
    assert client.get(f"{API}/runs/cv").json()["run"] == run
    missing = client.get(f"{API}/runs/nope")
    assert missing.status_code == 404
    assert missing.json()["ok"] is False and "nope" in missing.json()["error"]


def test_evaluation_is_consistent_and_cells_open_their_items(
    client: TestClient, cv: dict[str, Any], web_project: Project
) -> None:
    signed(client, "reviewer")
    response = client.get(EVAL, params={"run": "cv"})
    assert response.status_code == 200, response.text
    ev = response.json()
    expected = web_project.dataset("digits").models.evaluate("cv")
    assert ev["accuracy"] == pytest.approx(expected["accuracy"])
    assert ev["n_items"] == 30 and ev["layer"] == "cv" and ev["run"]["name"] == "cv"
    matrix = np.array(ev["confusion"]["matrix"])
    assert matrix.shape == (3, 3) and matrix.sum() == ev["n_items"]
    assert ev["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    assert sum(c["count"] for c in ev["confusion"]["cells"]) == 30
    classes = ev["confusion"]["classes"]
    off_diagonal = 0
    for cell in ev["confusion"]["cells"]:
        i, j = classes.index(cell["true"]), classes.index(cell["pred"])
        assert cell["count"] == matrix[i, j] > 0
        assert cell["filter"] == f"label[ground_truth]={cell['true']}, label[cv]={cell['pred']}"
        assert cell["url"].startswith("/datasets/digits/items?filter=label%5Bground_truth%5D")
        ids = grid_ids(client, cell["filter"])
        assert len(ids) == cell["count"]  # the filter selects exactly the cell's items
        assert ids[: len(cell["item_ids"])] == cell["item_ids"]
        off_diagonal += i != j
    assert off_diagonal > 0
    # Errors: the misclassified items, highest loss first, with their links.
    errors = ev["errors"]
    assert len(errors) == 30 - np.trace(matrix)
    assert [e["loss"] for e in errors] == sorted((e["loss"] for e in errors), reverse=True)
    for e in errors:
        assert e["label"] != e["predicted"]
        assert e["item_url"] == item_page(web_project, "digits", e["item_id"])
        assert e["media_url"] == f"{API}/items/{e['item_id']}/media"
        assert client.get(e["thumb_url"]).status_code == 200
    # Calibration and conformal sets, per class included.
    curve = ev["calibration"]["curve"]
    assert sum(b["count"] for b in curve) == 30 and 0 <= ev["calibration"]["ece"] <= 1
    conformal = ev["conformal"]
    assert conformal["target_coverage"] == 0.9
    per_class = conformal["per_class"]
    assert [c["class"] for c in per_class] == classes
    assert sum(c["n_items"] for c in per_class) == 30
    weighted = sum(c["coverage"] * c["n_items"] for c in per_class) / 30
    assert weighted == pytest.approx(conformal["empirical_coverage"])


def test_evaluation_of_a_slice_and_by_layer_name(
    client: TestClient, cv: dict[str, Any], web_project: Project
) -> None:
    web_project.dataset("digits").copy_layer("cv", "cv-copy")
    signed(client, "admin")
    ev = client.get(EVAL, params={"run": "cv", "filter": "split=train", "coverage": 0.8}).json()
    assert ev["n_items"] == 22 and ev["filter"] == "split=train"
    assert ev["conformal"]["target_coverage"] == 0.8
    for cell in ev["confusion"]["cells"]:
        assert cell["filter"].endswith(", split=train")
        assert len(grid_ids(client, cell["filter"])) == cell["count"]
    # A model layer by name gives the same numbers (no run attached).
    params = {"run": "cv-copy", "filter": "split=train", "coverage": 0.8}
    by_layer = client.get(EVAL, params=params).json()
    assert by_layer["run"] is None and by_layer["layer"] == "cv-copy"
    assert by_layer["confusion"]["matrix"] == ev["confusion"]["matrix"]
    assert by_layer["confusion"]["cells"][0]["filter"].startswith("label[ground_truth]=")
    assert "label[cv-copy]=" in by_layer["confusion"]["cells"][0]["filter"]


def test_evaluation_follows_label_changes(
    client: TestClient, cv: dict[str, Any], web_project: Project
) -> None:
    signed(client, "reviewer")
    before = client.get(EVAL, params={"run": "cv"}).json()
    first = item_ids(web_project, "digits")[0]  # labeled "0" in ground_truth
    client.post(f"{API}/labels", json={"layer": "ground_truth", "label": None, "items": [first]})
    after = client.get(EVAL, params={"run": "cv"}).json()
    assert before["n_items"] == 30 and after["n_items"] == 29  # not served from the cache
    assert after["n_without_reference"] == 1


def test_evaluation_errors(client: TestClient, cv: dict[str, Any]) -> None:
    assert client.get(EVAL, params={"run": "cv"}).status_code == 401
    assert client.get(f"{API}/runs").status_code == 401
    assert client.get("/api/v1/datasets/digits/issues").status_code == 401
    signed(client, "reviewer")
    unknown = client.get(EVAL, params={"run": "nope"})
    assert unknown.status_code == 404
    assert unknown.json()["ok"] is False and "nope" in unknown.json()["error"]
    # A run of digits is not reachable through another dataset.
    assert client.get("/api/v1/datasets/other/runs/cv").status_code == 404
    assert client.get("/api/v1/datasets/other/runs").json()["runs"] == []
    other = client.get("/api/v1/datasets/other/predictions/evaluation", params={"run": "cv"})
    assert other.status_code == 404
    assert client.get(EVAL, params={"run": "cv", "reference": "nope"}).status_code == 404
    assert client.get(EVAL, params={"run": "cv", "coverage": 1.5}).status_code == 422
    assert client.get(EVAL, params={"run": "cv", "filter": "bogus"}).status_code == 422
    assert client.get(EVAL, params={"run": "x" * 201}).status_code == 422
    assert client.get(EVAL).status_code == 422  # run is required
    # A filter that leaves nothing to evaluate is a 422 with a message, not a 500.
    empty = client.get(EVAL, params={"run": "cv", "filter": "key=none-such"})
    assert empty.status_code == 422 and "nothing to evaluate" in empty.json()["error"]


def test_a_few_reference_labels_get_metrics_without_conformal_sets(
    client: TestClient, web_project: Project, cv: dict[str, Any]
) -> None:
    """An annotator with six labels sees the model against them (it used to be a 422: the
    conformal sets, which need ten labels to calibrate, failed the whole evaluation)."""
    ds = web_project.dataset("digits")
    ds.set_labels(
        [(i, str(k % 3)) for k, i in enumerate(item_ids(web_project, "digits")[:6])], layer="ann"
    )
    signed(client, "reviewer")
    ev = client.get(EVAL, params={"run": "cv", "reference": "ann"})
    assert ev.status_code == 200, ev.text
    assert ev.json()["n_items"] == 6 and ev.json()["conformal"] is None
    assert "at least 10 labeled items" in ev.json()["conformal_unavailable"]
    page = client.get("/datasets/digits/predictions", params={"run": "cv", "reference": "ann"})
    assert page.status_code == 200 and 'id="confusion"' in page.text
    assert 'id="conformal-unavailable"' in page.text and 'id="conformal"' not in page.text


def test_blind_annotators_evaluate_only_models_of_their_layers_against_them(
    web_project: Project, cv: dict[str, Any]
) -> None:
    ds = web_project.dataset("digits")
    ids = item_ids(web_project, "digits")
    ds.set_labels([(i, str(k % 3)) for k, i in enumerate(ids[:15])], layer="ann")
    ds.models.cross_validate(name="mine", folds=3, model="logreg", layer="ann")
    with TestClient(create_app(web_project, blind=True)) as c:
        signed(c, "annotator")
        hidden = c.get(EVAL, params={"run": "mine", "reference": "ground_truth"})
        assert hidden.status_code == 403 and "blind mode" in hidden.json()["error"]
        # cv learnt from ground_truth: its predictions would tell those labels item by item.
        learnt_hidden = c.get(EVAL, params={"run": "cv", "reference": "ann"})
        assert learnt_hidden.status_code == 403 and "blind mode" in learnt_hidden.json()["error"]
        ev = c.get(EVAL, params={"run": "mine", "reference": "ann"}).json()
        assert ev["n_items"] == 15
        # The model layer learnt from their own layer: theirs to see, so the cells link.
        assert any(cell["filter"] for cell in ev["confusion"]["cells"])
        filtered = c.get(
            EVAL, params={"run": "mine", "reference": "ann", "filter": "label[ground_truth]=1"}
        )
        assert filtered.status_code == 403
        page = c.get("/datasets/digits/predictions", params={"reference": "ground_truth"})
        assert page.status_code == 403
        page = c.get("/datasets/digits/predictions")  # defaults to a layer they may see
        assert page.status_code == 200 and 'id="confusion"' in page.text
        ds.quality.find(model_layer="cv", features=False)
        issues = c.get("/api/v1/datasets/digits/issues")  # checked ground_truth: hidden
        assert issues.status_code == 403
    with TestClient(create_app(web_project, blind=True)) as c:
        signed(c, "reviewer")
        assert c.get(EVAL, params={"run": "cv"}).status_code == 200


def test_issues_empty_then_ranked_and_paged(
    client: TestClient, cv: dict[str, Any], web_project: Project
) -> None:
    signed(client, "annotator")
    url = "/api/v1/datasets/digits/issues"
    empty = client.get(url).json()
    assert empty["issues"] == [] and empty["run"] is None
    assert "Find label issues" in empty["message"]
    assert client.get(url, params={"run": "cv"}).status_code == 404
    found = web_project.dataset("digits").quality.find(model_layer="cv", features=False)
    assert found.n_issues >= 3
    body = client.get(url, params={"limit": 500}).json()
    assert body["message"] is None and body["run"]["model_layer"] == "cv"
    assert body["next"] is None
    rows = body["issues"]
    assert len(rows) == found.n_issues
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    for r in rows:
        assert r["given"] in ("0", "1", "2") and r["suggested"] in ("0", "1", "2")
        assert r["given"] != r["suggested"] and r["is_issue"] is True
        assert r["media_url"] == f"{API}/items/{r['item_id']}/media"
        assert r["item_url"] == item_page(web_project, "digits", r["item_id"])
    # Keyset pages of 2 give the same rows, in order, without repeats.
    paged: list[int] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"after": after} if after else {})}
        page = client.get(url, params=params).json()
        paged += [r["item_id"] for r in page["issues"]]
        after = page["next"]
        if after is None:
            break
    assert paged == [r["item_id"] for r in rows]
    assert client.get(url, params={"run": "cv"}).json()["issues"] == rows[:50]
    outliers = client.get(url, params={"kind": "outlier"}).json()  # features were skipped
    assert outliers["issues"] == [] and outliers["kind"] == "outlier"
    assert client.get(url, params={"kind": "bogus"}).status_code == 422
    assert client.get(url, params={"after": "junk"}).status_code == 422


def test_page_without_a_run_explains_how_to_make_one(client: TestClient) -> None:
    signed(client, "annotator")
    response = client.get("/datasets/digits/predictions")
    assert response.status_code == 200
    assert 'id="no-runs"' in response.text and "--cv 5" in response.text
    assert "No label-issue search has run" in response.text
    assert client.get("/datasets/digits/predictions", params={"run": "nope"}).status_code == 404


def test_page_renders_the_evaluation(
    client: TestClient, cv: dict[str, Any], web_project: Project
) -> None:
    signed(client, "reviewer")
    web_project.dataset("digits").quality.find(model_layer="cv", features=False)
    html = client.get("/datasets/digits/predictions").text
    ev = client.get(EVAL, params={"run": "cv"}).json()
    for section in ("metrics", "per-class", "confusion", "reliability", "conformal", "errors"):
        assert f'id="{section}"' in html, section
    table = html.split('id="confusion"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 1 + 3
    links = re.findall(r'<a href="([^"]+)" data-count="(\d+)"', table)
    assert len(links) == len(ev["confusion"]["cells"])
    for (href, count), cell in zip(links, ev["confusion"]["cells"], strict=True):
        assert href == cell["url"].replace("&", "&amp;") and int(count) == cell["count"]
    svg = html.split('id="reliability"', 1)[1].split("</svg>", 1)[0]
    assert 'class="diagonal"' in svg and svg.count('class="bar"') == len(ev["calibration"]["curve"])
    assert f"{ev['accuracy'] * 100:.1f} %" in html
    assert html.count('href="/datasets/digits/item/') >= len(ev["errors"])
    issues = html.split('id="issues-card"', 1)[1]
    assert 'id="issues"' in issues and "/media?thumb=true" in issues


def _xss_dataset(project: Project, folder: Path) -> None:
    """A text dataset whose class and model layer are named with HTML, with a model layer."""
    path = folder / "xss.jsonl"
    records = [{"text": f"{XSS} {i}", "label": XSS_CLASS if i % 2 else "plain"} for i in range(24)]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    project.import_path(path, dataset="xss", label_field="label")
    ds = project.dataset("xss")
    ds.create_layer(XSS, kind="model")
    ids = item_ids(project, "xss")
    ds.set_labels([(i, XSS_CLASS if k % 3 else "plain") for k, i in enumerate(ids)], layer=XSS)


def test_page_escapes_class_and_layer_names(
    client: TestClient, web_project: Project, tmp_path: Path
) -> None:
    _xss_dataset(web_project, tmp_path)
    signed(client, "admin")
    ev = client.get("/api/v1/datasets/xss/predictions/evaluation", params={"run": XSS}).json()
    assert XSS_CLASS in ev["confusion"]["classes"]
    for cell in ev["confusion"]["cells"]:  # HTML in names still makes a working filter
        assert len(grid_ids(client, cell["filter"], "xss")) == cell["count"]
    response = client.get("/datasets/xss/predictions", params={"run": XSS})
    assert response.status_code == 200
    html = response.text
    assert 'id="confusion"' in html
    assert XSS not in html and XSS_CLASS not in html
    assert "&lt;img src=x onerror=" in html and "&lt;script&gt;" in html
    # The fixture's texts dataset: no run, and too few items for conformal sets, whose note
    # shows beside the metrics of its HTML-named layer.
    texts = client.get("/datasets/texts/predictions", params={"run": XSS})
    assert texts.status_code == 200 and 'id="conformal-unavailable"' in texts.text
    assert XSS not in texts.text and "&lt;script&gt;" in texts.text


# -- MNIST ------------------------------------------------------------------------------------


def _mnist_subset(source: Path, target: Path, n: int) -> Path:
    """The first ``n`` MNIST test images and labels as an IDX pair, like MNIST ships them."""
    with gzip.open(source / "t10k-images-idx3-ubyte.gz") as f:
        _, _, rows, cols = struct.unpack(">IIII", f.read(16))
        pixels = f.read(n * rows * cols)
    with gzip.open(source / "t10k-labels-idx1-ubyte.gz") as f:
        f.read(8)
        labels = f.read(n)
    target.mkdir()
    with gzip.open(target / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, rows, cols) + pixels)
    with gzip.open(target / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + labels)
    return target


def test_mnist_predictions_page(tmp_path: Path, mnist_dir: Path) -> None:
    project = assay.init(tmp_path / "proj")
    try:
        folder = _mnist_subset(mnist_dir, tmp_path / "mnist-600", 600)
        project.import_path(folder, dataset="mnist")
        users.create_user(project.store, "admin", "correct horse battery", role="admin")
        ds = project.dataset("mnist")
        run = ds.models.cross_validate(name="logreg-cv", folds=3, model="logreg")
        assert run["state"] == "done"
        with TestClient(create_app(project)) as c:
            signed(c, "admin")
            response = c.get("/datasets/mnist/predictions")
            assert response.status_code == 200
            table = response.text.split('id="confusion"', 1)[1].split("</table>", 1)[0]
            assert table.count("<tr>") == 1 + 10
            assert all(table.count(f'<th scope="row">{d}</th>') == 1 for d in range(10))
            ev = c.get(
                "/api/v1/datasets/mnist/predictions/evaluation", params={"run": "logreg-cv"}
            ).json()
            assert ev["n_items"] == 600 and np.array(ev["confusion"]["matrix"]).sum() == 600
            assert ev["accuracy"] > 0.8  # logistic regression on 400 pixels per fold
            cell = max(
                (c for c in ev["confusion"]["cells"] if c["true"] != c["pred"]),
                key=lambda c: c["count"],
            )
            assert len(grid_ids(c, cell["filter"], "mnist")) == cell["count"]
    finally:
        project.close()
