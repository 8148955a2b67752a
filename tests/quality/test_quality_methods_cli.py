"""``assay issues --method/--all/--recompute``, ``assay review scan --issues --top`` and
outside probabilities, through the real CLI, in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import Result
from qualitykit import noisy_digits, noisy_labels, oof_knn_probs
from typer.testing import CliRunner

import assay
from assay.cli import app
from assay.quality.issues import find_label_issues
from assay.store import schema as t

N = 300
METHOD = "predicted_neq_given"  # flags every misclassified item: many, whatever the default


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    noisy_digits(assay.init(tmp_path), N, seed=4)
    return tmp_path


def invoke(project_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--project", str(project_dir), *args])


def run_json(project_dir: Path, *args: str) -> Any:
    result = invoke(project_dir, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def dataset(project_dir: Path) -> assay.Dataset:
    return assay.open(project_dir).dataset("digits")


def count(project_dir: Path, table: sa.Table) -> int:
    with dataset(project_dir).store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def refused(result: Result, message: str) -> None:
    """A clear one-line error and exit code 1."""
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ") and message in result.stderr, result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.output


def test_method_is_validated_and_recorded_with_each_search(project_dir: Path) -> None:
    refused(invoke(project_dir, "issues", "--model-layer", "knn-cv", "--method", "nope"),
            "Unknown label-issue method 'nope'; use one of")  # fmt: skip
    assert count(project_dir, t.model_runs) == count(project_dir, t.label_quality) == 0

    first = run_json(project_dir, "issues", "--model-layer", "knn-cv", "--method", METHOD)
    assert first["run"]["method"] == METHOD and first["run"]["stale"] is False
    listed = run_json(project_dir, "issues")  # the stored search: no new one
    assert listed["run"] == first["run"]
    same = run_json(project_dir, "issues", "--method", METHOD)
    assert same["run"]["computed_at"] == first["run"]["computed_at"]
    other = run_json(project_dir, "issues", "--method", "prune_by_class")  # another: searches
    assert other["run"]["method"] == "prune_by_class"
    assert other["run"]["model_layer"] == "knn-cv"  # the same probabilities, another method
    assert other["run"]["computed_at"] != first["run"]["computed_at"]
    assert dataset(project_dir).quality.run().method == "prune_by_class"
    refused(invoke(project_dir, "issues", "--method", "Cleanlab"), "'Cleanlab'")
    assert dataset(project_dir).quality.run().method == "prune_by_class"  # nothing stored
    # Another method of a search of a slice searches that slice again.
    args = ("issues", "--scan", "--model-layer", "knn-cv", "--filter", "split=train")
    train = run_json(project_dir, *args, "--method", METHOD)["run"]
    assert train["filter"] == "split=train" and train["n_items"] < N
    again = run_json(project_dir, "issues", "--method", "prune_by_class")["run"]
    assert (again["filter"], again["n_items"], again["method"]) == (
        "split=train", train["n_items"], "prune_by_class",
    )  # fmt: skip


def test_all_ranks_every_labeled_item_flagged_first(project_dir: Path) -> None:
    whole = run_json(
        project_dir, "issues", "--model-layer", "knn-cv", "--method", METHOD, "--all",
        "--limit", "1000",
    )  # fmt: skip
    run, rows = whole["run"], whole["issues"]
    assert whole["next"] is None and len(rows) == N == run["n_items"]
    assert sorted(int(r["key"]) for r in rows) == list(range(N))
    assert [r["is_issue"] for r in rows] == [True] * run["n_issues"] + [False] * (
        N - run["n_issues"]
    )
    assert [r["rank"] for r in rows] == list(range(1, N + 1))
    assert 0 < run["n_issues"] < N
    # --limit bounds a page; "next" is the --after of the following one.
    paged: list[str] = []
    after: list[str] = []
    while True:
        page = run_json(project_dir, "issues", "--all", "--limit", "70", *after)
        assert len(page["issues"]) <= 70
        paged += [r["key"] for r in page["issues"]]
        if page["next"] is None:
            break
        after = ["--after", page["next"]]
    assert paged == [r["key"] for r in rows]
    # The table marks the flagged rows and prints the next page's command.
    text = invoke(project_dir, "issues", "--all", "--limit", "5")
    assert text.exit_code == 0, text.output
    assert "flag" in text.stdout and "flagged" in text.stdout and f"method {METHOD}" in text.stdout
    assert f"--all --after {rows[4]['cursor']}" in text.stdout
    flagged_only = run_json(project_dir, "issues", "--limit", "1000")
    assert [r["key"] for r in flagged_only["issues"]] == [r["key"] for r in rows if r["is_issue"]]


def test_stale_probabilities_warn_and_recompute(project_dir: Path) -> None:
    ds = dataset(project_dir)
    ds.models.cross_validate(name="cv", folds=3, model="logreg")
    ds.set_label("1", "9" if noisy_labels(ds)[1] != 9 else "8", layer="ground_truth")
    result = invoke(project_dir, "issues", "--model-layer", "cv", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run"]["stale"] is True
    warning = " ".join(result.stderr.split())
    assert "Warning: The labels of 'ground_truth' changed after cross-validation run 'cv'" in (
        warning
    )
    assert "out of date; cross-validate again" in warning
    assert "To do so: assay issues --scan --recompute" in warning
    listed = invoke(project_dir, "issues")  # listing the stored search says it again
    assert "assay issues --scan --recompute" in " ".join(listed.stderr.split())
    refused(invoke(project_dir, "issues", "--recompute", "--model-layer", "cv"),
            "leave out --model-layer")  # fmt: skip

    redone = invoke(project_dir, "issues", "--recompute", "--no-features", "--json")
    assert redone.exit_code == 0, redone.output
    run = json.loads(redone.stdout)["run"]
    assert run["stale"] is False and run["model_layer"] not in ("cv", "knn-cv")
    assert "Warning" not in redone.stderr


def test_review_scan_top_opens_cases_past_the_cut(project_dir: Path) -> None:
    refused(invoke(project_dir, "review", "scan", "--issues", "--top", "0"),
            "top must be at least 1")  # fmt: skip
    assert count(project_dir, t.model_runs) == count(project_dir, t.review_cases) == 0
    refused(invoke(project_dir, "review", "scan", "--top", "3"), "--top goes with --issues")

    run = run_json(project_dir, "issues", "--model-layer", "knn-cv", "--method", METHOD)["run"]
    top = run["n_issues"] + 10
    out = run_json(project_dir, "review", "scan", "--issues", "--top", str(top))
    assert out["mislabel"] == {"found": top, "opened": top}
    again = invoke(project_dir, "review", "scan", "--issues", "--top", str(top))
    assert again.exit_code == 0 and f"Mislabel: {top} found, 0 new cases" in again.stdout
    cases = run_json(project_dir, "review", "list", "--reason", "mislabel", "--limit", "1000")
    ranking = run_json(project_dir, "issues", "--all", "--limit", str(top))["issues"]
    assert {c["item_key"] for c in cases["cases"]} == {r["key"] for r in ranking}


def _write_probs_csv(path: Path, ds: assay.Dataset, probs: np.ndarray, extra: str = "") -> None:
    classes = ds.classes()
    header = ["key", *classes] + ([extra] if extra else [])
    lines = [",".join(header)]
    for key, row in enumerate(probs):
        values = [repr(float(v)) for v in row] + (["0.0"] if extra else [])
        lines.append(",".join([str(key), *values]))
    path.write_text("\n".join(lines) + "\n")


def test_outside_probabilities_go_through_the_same_method(
    project_dir: Path, tmp_path: Path
) -> None:
    ds = dataset(project_dir)
    labels = noisy_labels(ds)
    probs = oof_knn_probs(labels, seed=4)
    assert ds.classes() == [str(c) for c in range(10)]  # columns in class order
    bad = tmp_path / "bad.csv"
    _write_probs_csv(bad, ds, probs, extra="cat")
    refused(invoke(project_dir, "predictions", "import", str(bad), "--name", "bad"),
            "unknown: cat")  # fmt: skip
    assert count(project_dir, t.model_runs) == 0
    assert "bad" not in [layer["name"] for layer in dataset(project_dir).layers()]

    good = tmp_path / "probs.csv"
    _write_probs_csv(good, ds, probs)
    imported = invoke(project_dir, "predictions", "import", str(good), "--name", "outside")
    assert imported.exit_code == 0, imported.output
    found = run_json(project_dir, "issues", "--model-layer", "outside", "--method", METHOD,
                     "--all", "--limit", "1000")  # fmt: skip
    assert found["run"]["method"] == METHOD
    expected = find_label_issues(labels, probs, method=METHOD)
    flagged = {int(r["key"]) for r in found["issues"] if r["is_issue"]}
    assert flagged == set(np.flatnonzero(expected.is_issue).tolist())
    quality = {int(r["key"]): r["quality"] for r in found["issues"]}
    assert [quality[k] for k in range(N)] == pytest.approx(expected.quality.tolist())
