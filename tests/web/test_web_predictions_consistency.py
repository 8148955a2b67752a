"""One log loss and one way of showing label quality on every face (issue 16, bug 6): the
predictions page and its API, ``assay evaluate``, ``predict --cv``'s metrics, the review page and
``assay review list``."""

from __future__ import annotations

import html as htmllib
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_helpers import login

from assay.cli import app as cli_app
from assay.project import Project
from assay.quality import format_quality, format_score


@pytest.fixture
def cv(web_project: Project) -> dict[str, Any]:
    return web_project.dataset("digits").models.cross_validate(name="cv", folds=3, model="logreg")


def cli(project: Project, *args: str) -> str:
    result = CliRunner().invoke(cli_app, ["--project", str(project.root), *args, "-d", "digits"])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_log_loss_is_the_same_everywhere(
    client: TestClient, cv: dict[str, Any], web_project: Project
) -> None:
    login(client, "reviewer")
    expected = f"{cv['metrics']['oof_log_loss']:.4f}"  # what `assay predict --cv` prints
    api = client.get("/api/v1/datasets/digits/predictions/evaluation", params={"run": "cv"})
    assert f"{api.json()['log_loss']:.4f}" == expected
    page = client.get("/datasets/digits/predictions").text
    shown = re.search(r'id="metric-logloss"><span class="n">([^<]+)</span>', page)
    assert shown is not None and shown.group(1) == expected
    assert f"{json.loads(cli(web_project, 'evaluate', 'cv', '--json'))['log_loss']:.4f}" == expected


def test_format_quality_tells_likely_wrong_labels_apart() -> None:
    assert format_quality(2.354e-5) == "2.35e-05" and format_quality(2.361e-5) == "2.36e-05"
    assert format_quality(0.0123) == "0.0123" and format_quality(0.873) == "0.873"
    assert format_quality(0.99987) == "0.999870" and format_quality(None) == "—"
    assert format_score({"quality": 1e-9, "score": 1.0}) == "label quality 1.00e-09"
    assert format_score({"score": 0.5, "evidence": {"quality": 0.25}}) == "label quality 0.250"
    assert format_score({"score": 0.5, "evidence": {}}) == "score 0.500"


def test_label_quality_is_shown_alike_on_every_face(
    client: TestClient, cv: dict[str, Any], web_project: Project
) -> None:
    ds = web_project.dataset("digits")
    found = ds.quality.find(model_layer="cv", features=False, method="predicted_neq_given")
    assert found.n_issues > 0
    ds.quality.to_review(found.run_id)
    first = ds.quality.issues(found.run_id, limit=1)[0]
    text = format_score(first)
    assert text.startswith("label quality ")
    login(client, "reviewer")
    predictions = htmllib.unescape(client.get("/datasets/digits/predictions").text)
    assert text in predictions
    cases, _ = ds.review.list(reason="mislabel", limit=1000)
    case = next(c for c in cases if c["item_id"] == first["item_id"])
    assert format_score(case) == text
    review = htmllib.unescape(client.get("/datasets/digits/review?reason=mislabel").text)
    assert text in review
    listed = cli(web_project, "review", "list", "--reason", "mislabel", "--limit", "1000")
    assert format_quality(first["quality"]) in listed
