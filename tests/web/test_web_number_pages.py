"""Number layers on the web: the predictions page (metrics, predicted-vs-true and residual
SVGs, largest errors), the evaluation and agreement routes, and a number case on the review
page (its number line, a number field for the decision)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_helpers import login

from assay.project import Project

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "numbers"))
from numkit import make_number_dataset


def test_number_predictions_agreement_and_review(
    client: TestClient, web_project: Project, tmp_path: Path
) -> None:
    ds = make_number_dataset(web_project, tmp_path, n=40)
    ds.models.cross_validate(layer="y", folds=4, name="reg")
    for name, shift in (("ann", 0.0), ("bob", 20.0)):
        ds.create_layer(name, value_kind="number", kind="human", options={"min": 0, "max": 200})
        ds.set_label("r1", ds.item("r1")["labels"]["y"]["value"] + shift, layer=name)
        ds.set_label("r2", 10.0, layer=name)
    ds.review_scan(layers=["ann", "bob"], actor="t")
    client.headers["X-CSRF-Token"] = login(client, "admin")

    body = client.get("/api/v1/datasets/t/predictions/evaluation", params={"run": "reg"}).json()
    assert body["kind"] == "number" and body["reference_layer"] == "y" and body["n_items"] == 40
    page = client.get("/datasets/t/predictions", params={"run": "reg"}).text
    assert 'id="pred-vs-true"' in page and 'id="residuals"' in page
    assert page.count('class="dot"') == 80 and "metric-mae" in page and "Largest errors" in page

    report = client.get(
        "/api/v1/datasets/t/agreement",
        params=[("layers", "ann"), ("layers", "bob"), ("reference", "y")],
    ).json()
    assert report.get("kind") == "number", report
    assert (
        report["reference"] == "y"
        and report["against_reference"]["ann"]["n_items"] == 2
        and report["pairs"][0]["mean_abs_difference"] == pytest.approx(10.0)
    )

    review = client.get("/datasets/t/review").text
    assert 'class="chart number-evidence"' in review and 'data-layer="bob"' in review
    # The decision: the median, each annotator's value, or a number of one's own (no class list).
    assert 'class="decision-entry decision-number"' in review and 'step="any"' in review
    assert '<option value="accept"' in review and '<option value="bob"' in review

    # The overview: each number layer's coverage (its value labels count), no empty class
    # balance of it, and its own card with the values' histogram.
    stats = client.get("/api/v1/datasets/t/statistics").json()
    ann = next(la for la in stats["layers"] if la["name"] == "ann")
    assert ann["n_labeled"] == 2 and ann["values"] is True and ann["coverage"] > 0
    overview = client.get("/datasets/t").text
    assert 'id="number-stats-ann"' in overview and 'class="chart number-histogram"' in overview
