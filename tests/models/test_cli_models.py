"""``assay train|predict|evaluate|models|features`` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from modelkit import make_images
from typer.testing import CliRunner

import assay
from assay.cli import app

runner = CliRunner()


@pytest.fixture
def cli(tmp_path: Path, store_url: str):  # type: ignore[no-untyped-def]
    project = assay.init(tmp_path / "p", db=store_url)
    make_images(project)

    def run(*args: str | Path, code: int = 0) -> str:
        argv = ["--project", str(project.root), "--db", store_url, *map(str, args)]
        result = runner.invoke(app, argv, env={"ASSAY_USER": "cli-user"})
        assert result.exit_code == code, result.output
        return result.output

    return run


def test_cross_validate_train_predict_evaluate(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("predict", "--cv", "3", "--model", "logreg", "--name", "cv")
    assert "Run 'cv': 3-fold out-of-fold probabilities of logreg for 36 items" in out
    out = cli("evaluate", "cv", "--coverage", "0.9", "--top", "3")
    assert "Conformal sets at 90% target: empirical coverage" in out
    assert "Confusion matrix" in out and "Per class" in out
    result = json.loads(cli("evaluate", "cv", "--json"))
    assert result["n_items"] == 36 and len(result["confusion"]["matrix"]) == 3
    few = cli("evaluate", "cv", "--filter", "split=test, label=0")  # too few for sets
    assert "Conformal sets need at least 10 labeled items" in few and "Per class" in few
    out = cli("train", "m", "--model", "logreg", "--param", "C=0.5", "--filter", "split=train")
    assert "Trained run 'm' (logreg on pixels features) on 18 labels" in out
    out = cli("predict", "--run", "m", "--filter", "split=test")
    assert "Predicted 18 items with 'm' into layer 'm'." in out
    runs = json.loads(cli("models", "--json"))
    assert [(r["name"], r["kind"], r["params"].get("C")) for r in runs] == [
        ("m", "train", 0.5), ("cv", "cv", None)
    ]  # fmt: skip
    assert "cv" in cli("models")


def test_features_and_errors(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert "36 items x 64 features (8x8 pixels) from 'pixels', computed and cached." in cli(
        "features"
    )
    info = json.loads(cli("features", "--json"))
    assert info["from_cache"] is True
    np.save(tmp_path / "v.npy", np.ones((2, 4), dtype=np.float32))
    (tmp_path / "ids.txt").write_text("0\n1\n")
    out = cli(
        "features", "import", tmp_path / "v.npy", "--name", "mine", "--ids", tmp_path / "ids.txt"
    )
    assert "Imported 2 vectors of 4 values as 'mine'." in out
    assert "mine" in cli("features", "list")
    out = cli("predict", "--cv", "2", "--run", "x", code=1)
    assert "Give either --cv K" in out
    out = cli("predict", "--cv", "20", "--model", "logreg", code=1)
    assert "20 labeled items per class" in out
    out = cli("train", "--param", "C", code=1)
    assert "NAME=VALUE" in out
    out = cli("evaluate", "nope", code=1)
    assert "No layer 'nope'" in out
