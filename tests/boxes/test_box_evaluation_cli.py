"""``assay evaluate`` of a box predictions layer: the COCO metrics table, AP per class, the
most confident false positives and the false negatives with their item keys, and ``--json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import assay
from assay.cli import app
from boxkit import make_box_dataset
from boxpredkit import predicted_boxes, write_predictions

runner = CliRunner()


@pytest.fixture
def cli(tmp_path: Path, store_url: str):  # type: ignore[no-untyped-def]
    project = assay.init(tmp_path / "p", db=store_url)
    bs = make_box_dataset(project, n=20, seed=2)
    write_predictions(bs.ds, bs.item_ids, predicted_boxes(bs.scenes.boxes, seed=4))

    def run(*args: str | Path, code: int = 0) -> str:
        argv = ["--project", str(project.root), "--db", store_url, *map(str, args)]
        result = runner.invoke(app, argv, env={"COLUMNS": "200"})
        assert result.exit_code == code, result.output
        return result.output

    run.ds = bs.ds  # type: ignore[attr-defined]
    return run


def test_evaluate_boxes_tables_and_json(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli.ds.models.evaluate("pred", reference_layer="boxes", top_errors=3)
    out = cli("evaluate", "pred", "-d", "scenes", "--top", "3")
    assert "pred against 'boxes'" in out
    assert "20 images" in out and "mAP@[.5:.95]" in out and f"{r['map']:.3f}" in out
    assert f"{r['ap50']:.3f}" in out and "Per class" in out
    top_fp = r["false_positives"][0]
    assert "False positives" in out and str(top_fp["key"]) in out
    assert f"{top_fp['score']:.3f}" in out and top_fp["kind"] in out
    assert "False negatives" in out and str(r["false_negatives"][0]["key"]) in out

    data = json.loads(cli("evaluate", "pred", "-d", "scenes", "--json", "--top", "2",
                          "--score-threshold", "0.8"))  # fmt: skip
    assert data["kind"] == "boxes" and data["map"] == pytest.approx(r["map"])
    assert data["score_threshold"] == 0.8 and len(data["false_positives"]) <= 2
    assert all(e["score"] >= 0.8 for e in data["false_positives"])
    assert data["reference_layer"] == "boxes" and len(data["pr_curves"]["overall"]) == 101

    out = cli("evaluate", "pred", "-d", "scenes", "--reference", "alice", "--filter",
              "key=nope", code=1)  # fmt: skip
    assert "nothing to evaluate" in out and "Traceback" not in out
    out = cli("evaluate", "pred", "-d", "scenes", "--score-threshold", "2", code=1)
    assert "score_threshold must be in [0, 1]" in out
