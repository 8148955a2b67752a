"""Imported COCO-results predictions get a model run record (source file, format, who, when,
how many boxes) in the import's transaction, like a run Assay made: ``ds.models.runs()``,
``assay models`` and the predictions page say where the boxes came from (SQLite and
PostgreSQL: it is store behaviour)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ingest_fixtures import write_coco
from typer.testing import CliRunner

import assay
from assay.cli import app
from assay.errors import Conflict
from assay.store import queries
from assay.store import schema as t

RESULTS = [
    {"image_id": 100, "category_id": 3, "bbox": [5, 5, 20, 20], "score": 0.9},
    {"image_id": 100, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.2},
    {"image_id": 101, "category_id": 3, "bbox": [30, 1, 29, 28], "score": 0.7},
]


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> assay.Project:
    return assay.init(tmp_path / "project", db=store_url)


def test_imported_predictions_are_a_model_run(project: assay.Project, tmp_path: Path) -> None:
    project.import_path(write_coco(tmp_path / "data"), dataset="d")
    ds = project.dataset("d")
    path = tmp_path / "results.json"
    path.write_text(json.dumps(RESULTS))
    done = ds.import_box_predictions(path, layer="det", author="maria")
    assert (done["run"], done["run_record"], done["n_new_labels"]) == ("det", "created", 3)
    (run,) = ds.models.runs()
    assert (run["name"], run["kind"], run["state"], run["layer"]) == (
        "det",
        "import",
        "done",
        "det",
    )
    assert run["model"] == "import:results.json" and run["created_by"] == "maria"
    assert run["params"] == {
        "source": "results.json", "format": "coco-results", "n_boxes": 3, "n_images": 3,
        "instances": None,
    }  # fmt: skip
    assert run["finished_at"] is not None
    # The same file again writes nothing, the record included; a new file updates it.
    again = ds.import_box_predictions(path, layer="det", author="maria")
    assert (again["n_new_labels"], again["run_record"]) == (0, "unchanged")
    newer = tmp_path / "results2.json"
    newer.write_text(json.dumps(RESULTS[:1]))
    assert ds.import_box_predictions(newer, layer="det")["run_record"] == "updated"
    (run,) = ds.models.runs()
    assert run["params"]["source"] == "results2.json" and run["params"]["n_boxes"] == 1
    # Importing into the layer of a run Assay made is refused, and nothing is written.
    ds.create_layer("cv", kind="model", value_kind="boxes")
    with ds.store.write() as conn:
        conn.execute(
            t.model_runs.insert().values(
                dataset_id=ds.id, name="cv", kind="cv", state="done", model="components",
                layer_id=queries.get_layer(conn, ds.id, "cv").id, created_by="x",
                created_at=run["created_at"],
            )
        )  # fmt: skip
    with pytest.raises(Conflict, match="Model run 'cv'"):
        ds.import_box_predictions(path, layer="cv")
    assert "cv" not in ds.item("0.png")["labels"]


def test_cli_models_lists_the_import(project: assay.Project, tmp_path: Path) -> None:
    project.import_path(write_coco(tmp_path / "data"), dataset="d")
    path = tmp_path / "results.json"
    path.write_text(json.dumps(RESULTS))
    base = ["-p", str(project.root), "--db", project.store.url]
    runner = CliRunner()
    res = runner.invoke(
        app, [*base, "predictions", "import", str(path), "--name", "det", "--dataset", "d"],
        env={"ASSAY_USER": "cli-user"},
    )  # fmt: skip
    assert res.exit_code == 0 and "model run 'det'" in res.output, res.output
    res = runner.invoke(app, [*base, "models", "--dataset", "d", "--json"])
    assert res.exit_code == 0, res.output
    (run,) = json.loads(res.output)
    assert (run["name"], run["kind"], run["model"]) == ("det", "import", "import:results.json")
    assert run["params"]["n_boxes"] == 3
