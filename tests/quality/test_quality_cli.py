"""``assay issues`` and ``assay review scan --issues`` through the real CLI, in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qualitykit import noisy_digits
from typer.testing import CliRunner

import assay
from assay.cli import app

N = 300


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    noisy_digits(assay.init(tmp_path), N, seed=1)
    return tmp_path


def _run(project_dir: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["--project", str(project_dir), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_issues_scan_list_and_review(project_dir: Path) -> None:
    data = json.loads(_run(project_dir, "issues", "--model-layer", "knn-cv", "--json"))
    run, rows = data["run"], data["issues"]
    assert run["model_layer"] == "knn-cv" and run["n_items"] == N
    assert 0 < len(rows) == run["n_issues"]
    assert rows[0]["given"] != rows[0]["suggested"] and len(rows[0]["neighbours"]) == 5

    text = _run(project_dir, "issues", "--limit", "3")  # lists the stored run, no new search
    assert "Likely mislabeled" in text and rows[0]["key"] in text
    assert f"--after {rows[2]['cursor']}" in text
    assert project_runs(project_dir) == 1

    out = json.loads(_run(project_dir, "review", "scan", "--issues", "--json"))
    assert out["mislabel"] == {"found": len(rows), "opened": len(rows)}
    again = _run(project_dir, "review", "scan", "--issues")
    assert "Mislabel: " in again and f"{len(rows)} found, 0 new cases" in again
    cases = json.loads(_run(project_dir, "review", "list", "--reason", "mislabel", "--json"))
    assert len(cases["cases"]) == len(rows)


def project_runs(project_dir: Path) -> int:
    with assay.open(project_dir).dataset("digits").store.read() as conn:
        from assay.store import schema as t

        return len(conn.execute(t.model_runs.select()).all())


def test_errors_are_one_line(project_dir: Path) -> None:
    result = CliRunner().invoke(
        app, ["--project", str(project_dir), "issues", "--model-layer", "nope"]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "nope" in result.stderr
    assert "Traceback" not in result.output
    bad = CliRunner().invoke(
        app, ["--project", str(project_dir), "issues", "--model-layer", "knn-cv", "--kind", "x"]
    )
    assert bad.exit_code == 1 and "Unknown issue kind" in bad.stderr
