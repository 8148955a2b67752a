"""Bug 7 of issue 16 (first two parts): ``assay review list`` shows a label issue's evidence
(not "None @ 1.00"), and a duplicate case shows the other item, in the table and in ``show``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qualitykit import noisy_digits
from typer.testing import CliRunner

import assay
from assay.cli import app
from assay.labels.kinds.classification import class_ids
from assay.review.queue import open_cases

N = 300


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    ds = noisy_digits(assay.init(tmp_path), N, seed=1)[0]
    ds.quality.find(model_layer="knn-cv", features=False)
    ds.quality.to_review(actor="qa")
    given = ds.item("12")["labels"]["ground_truth"]["label"]
    with ds.store.write() as conn:
        open_cases(
            conn,
            ds.id,
            [
                {
                    "item_id": ds.item("12")["id"],
                    "reason": "duplicate",
                    "score": 1.0,
                    "class_id": class_ids(conn, ds.id)[given],
                    "evidence": {"duplicate_of": "7", "duplicate_label": "7"},
                }
            ],
            actor="qa",
        )
    return tmp_path


def _run(project_dir: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["--project", str(project_dir), *args], terminal_width=250)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_list_shows_the_suggestion_and_the_quality_rank(project_dir: Path) -> None:
    listed = json.loads(_run(project_dir, "review", "list", "--reason", "mislabel", "--json"))
    first = listed["cases"][0]
    text = _run(project_dir, "review", "list", "--reason", "mislabel", "--limit", "3")
    assert "None @" not in text
    assert f"{first['label']} → {first['suggested']}" in text
    flat = " ".join(text.replace("│", " ").split())  # the table's wrapped cells, read on
    assert "least likely labels" in flat
    assert first["why"]["quality"]["rank"] >= 1


def test_a_duplicate_case_shows_its_partner(project_dir: Path) -> None:
    listed = json.loads(_run(project_dir, "review", "list", "--reason", "duplicate", "--json"))
    (case,) = listed["cases"]
    partner = case["why"]["partner"]
    assert partner["key"] == "7" and partner["label"] is not None
    text = _run(project_dir, "review", "list", "--reason", "duplicate")
    assert f"duplicate of 7 ({partner['label']})" in text
    shown = _run(project_dir, "review", "show", str(case["id"]))
    assert "Duplicate pair" in shown and "partner" in shown
