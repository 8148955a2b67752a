"""Cross-validated predictions with the folds trained on a real Dask LocalCluster (2 worker
processes) equal the in-process run's, item for item; ``assay predict --cv --dask`` too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import assay
from assay.cli import app
from assay.ingest.arrays import import_arrays
from assay.models.runs import layer_probs

pytestmark = pytest.mark.dask


@pytest.fixture
def ds(tmp_path: Path) -> assay.Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    n = 600
    images = np.rint(bunch.images[:n] * (255 / 16)).astype(np.uint8)
    project = assay.init(tmp_path / "p")
    import_arrays(
        project.store, [(images, [str(v) for v in bunch.target[:n]])], dataset="digits",
        source="test", format="demo", total=n,
    )  # fmt: skip
    return project.dataset("digits")


def _probs(ds: assay.Dataset, layer: str) -> tuple[np.ndarray, np.ndarray]:
    with ds.store.read() as conn:
        ids, probs = layer_probs(conn, ds.id, layer, None)
    return np.asarray(ids), np.asarray(probs)


# hgb with 20 boosting rounds, not its default 100: the folds still train the seeded
# HistGradientBoostingClassifier on the workers, a fifth of the CPU time.
@pytest.mark.parametrize(("model", "params"), [("logreg", None), ("hgb", {"max_iter": 20})])
def test_dask_folds_equal_the_in_process_run(
    ds: assay.Dataset, dask_client: Any, model: str, params: dict[str, Any] | None
) -> None:
    kw: dict[str, Any] = {"folds": 4, "model": model, "seed": 3, "params": params}
    local = ds.models.cross_validate(name="local", **kw)
    remote = ds.models.cross_validate(name="remote", dask=dask_client, **kw)
    assert remote["params"] == local["params"] == (params or {})
    assert remote["metrics"]["oof_accuracy"] == local["metrics"]["oof_accuracy"]
    ids_a, probs_a = _probs(ds, "local")
    ids_b, probs_b = _probs(ds, "remote")
    assert np.array_equal(ids_a, ids_b)
    np.testing.assert_allclose(probs_b, probs_a, rtol=0, atol=1e-12)


def test_predict_cv_with_a_scheduler_address(ds: assay.Dataset, dask_client: Any) -> None:
    argv = ["-p", str(ds.project.root), "predict", "--cv", "3", "--model", "logreg",
            "--name", "by-address", "--dask", dask_client.scheduler.address, "--json"]  # fmt: skip
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    local = ds.models.cross_validate(name="here", folds=3, model="logreg")
    np.testing.assert_allclose(_probs(ds, "by-address")[1], _probs(ds, "here")[1], atol=1e-12)
    assert (
        ds.models.run("by-address")["metrics"]["oof_accuracy"] == local["metrics"]["oof_accuracy"]
    )
    refused = CliRunner().invoke(app, [*argv[:2], "predict", "--run", "x", "--dask", "tcp://a:1"])
    assert refused.exit_code == 1 and "--dask trains cross-validation folds" in refused.output
