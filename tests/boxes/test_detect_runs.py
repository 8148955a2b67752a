"""Detector runs on a box layer from the library, the CLI and the job kinds: out-of-fold
scored boxes into a box model layer, train and predict, refusals, and failure leaving
nothing behind (SQLite and PostgreSQL, by ``store_url``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import assay
from assay.access import Viewer
from assay.cli import app
from assay.errors import InvalidParameter
from assay.jobs import kinds
from assay.models.detection.components import ComponentsDetector
from boxkit import BoxScenes, make_box_dataset

runner = CliRunner()


@pytest.fixture
def scenes(tmp_path: Path, store_url: str) -> BoxScenes:
    project = assay.init(tmp_path / "p", db=store_url)
    return make_box_dataset(project, n=30)


@pytest.fixture
def cli(scenes: BoxScenes, store_url: str) -> Callable[..., str]:
    root = scenes.ds.project.root

    def run(*args: str, code: int = 0) -> str:
        argv = ["--project", str(root), "--db", store_url, *args, "--dataset", "scenes"]
        result = runner.invoke(app, argv, env={"ASSAY_USER": "cli-user", "COLUMNS": "200"})
        assert result.exit_code == code, result.output
        return " ".join(result.output.split())

    return run


def test_cli_cross_validates_a_box_layer_into_a_box_model_layer(
    scenes: BoxScenes, cli: Callable[..., str]
) -> None:
    ds = scenes.ds
    unlabeled = scenes.item_ids[-1]
    ds.set_label(unlabeled, None, layer="boxes")
    out = cli("predict", "--cv", "3", "--model", "components", "--layer", "boxes", "--name", "det")
    assert (
        "Run 'det': 3-fold out-of-fold boxes of components for 29 images (and 1 unlabeled)" in out
    )
    assert "in layer 'det'; at IoU 0.5 and score 0.5: precision" in out
    run = ds.models.run("det")
    assert run["state"] == "done" and run["layer"] == "det" and run["kind"] == "cv"
    assert run["metrics"]["oof_f1"] > 0.5 and run["metrics"]["n_items"] == 29
    layer = ds.layer("det")
    assert (layer["kind"], layer["value_kind"]) == ("model", "boxes")
    boxes = [ds.item(i)["labels"]["det"]["value"] for i in scenes.item_ids]
    assert all(b is not None for b in boxes)  # the unlabeled image too
    scored = [b for per_image in boxes for b in per_image]
    assert len(scored) >= 40 and all(0 < b["score"] <= 1 for b in scored)
    assert ds.item(unlabeled)["labels"]["det"]["author"] == "model:det"
    assert "det" in cli("models")


def test_train_and_predict_new_images(scenes: BoxScenes, cli: Callable[..., str]) -> None:
    # keys are text: "0", "1", "2" and "10".."19" sort before "20" (13 images), 17 after
    out = cli("train", "tr", "--model", "components", "--layer", "boxes", "--filter", "key<20")
    assert "Trained run 'tr' (components detector) on 13 images of 'boxes'" in out
    out = cli("predict", "--run", "tr", "--filter", "key>=20")
    assert "Predicted 17 items with 'tr' into layer 'tr'." in out
    preds = scenes.ds.models.predict("tr", scenes.item_ids[25:], write=False)
    assert len(preds.item_ids) == 5 and preds.layer is None
    assert all(b["score"] > 0 for per in preds.boxes for b in per)  # type: ignore[union-attr]


def test_options_of_the_other_family_are_refused(
    scenes: BoxScenes, cli: Callable[..., str]
) -> None:
    out = cli("predict", "--cv", "3", "--model", "logreg", "--layer", "boxes", code=1)
    assert "Layer 'boxes' holds boxes: --model logreg is a classifier" in out
    out = cli("predict", "--cv", "3", "--layer", "boxes", "--featurizer", "pixels", code=1)
    assert "--featurizer is for classifiers" in out
    out = cli("predict", "--cv", "3", "--layer", "boxes", "--search-seconds", "5", code=1)
    assert "--search-seconds searches classifier parameters" in out
    out = cli("predict", "--cv", "3", "--model", "components", "--layer", "boxes",
              "--param", "epochs=3", code=1)  # fmt: skip
    assert "Unknown parameter(s) epochs for the components detector" in out
    scenes.ds.create_layer("tag")
    scenes.ds.set_label(scenes.item_ids[0], "3", layer="tag")
    out = cli("predict", "--cv", "3", "--model", "centernet", "--layer", "tag", code=1)
    assert "--model centernet is a detector, but layer 'tag' holds one class per item" in out
    assert scenes.ds.models.runs() == []  # nothing started
    viewer = Viewer.local()
    params = kinds.validate("cross-validate", {"layer": "boxes", "model": "hgb"}, viewer=viewer)
    with pytest.raises(InvalidParameter, match="hgb is a classifier"):
        kinds.check_access(scenes.ds, "cross-validate", params, viewer)
    params = kinds.validate("cross-validate", {"layer": "boxes", "model": "components"})
    kinds.check_access(scenes.ds, "cross-validate", params, viewer)  # accepted


def test_a_failed_run_leaves_no_layer(scenes: BoxScenes, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: ComponentsDetector, images: object) -> object:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(ComponentsDetector, "predict", broken)
    with pytest.raises(RuntimeError):
        scenes.ds.models.cross_validate(name="bad", folds=3, model="components", layer="boxes")
    run = scenes.ds.models.run("bad")
    assert run["state"] == "failed" and "out of memory" in run["error"]
    assert "bad" not in [layer["name"] for layer in scenes.ds.layers()]


def test_the_cross_validate_job_kind_runs_a_detector(scenes: BoxScenes) -> None:
    params = kinds.CrossValidateSpec.model_validate(
        {"name": "job-det", "layer": "boxes", "model": "components", "folds": 3}
    )
    seen: list[str] = []
    out = kinds.KINDS["cross-validate"].run(
        scenes.ds, params, "someone", lambda d, n, m: seen.append(m)
    )  # type: ignore[arg-type]
    assert out["layer"] == "job-det" and out["metrics"]["value_kind"] == "boxes"
    assert any(m.startswith("fold 3 of 3: training components") for m in seen)
