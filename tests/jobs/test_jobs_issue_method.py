"""The ``issues`` job's label-issue method: checked when the job is created, used and recorded
when it runs - on both backends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import assay
from assay import jobs
from assay.errors import InvalidParameter
from assay.ingest.arrays import import_arrays
from assay.quality.methods import DEFAULT_METHOD


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> assay.Project:
    """90 small images of three well-separated classes, and a cross-validation of them."""
    proj = assay.init(tmp_path / "p", db=store_url)
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(3, 64)) * 60 + 128
    codes = np.arange(90) % 3
    images = np.clip(centers[codes] + rng.normal(size=(90, 64)) * 10, 0, 255)
    import_arrays(
        proj.store,
        [(images.reshape(90, 8, 8).astype(np.uint8), [str(c) for c in codes])],
        dataset="d",
        source="test",
        format="demo",
        total=90,
    )
    proj.dataset("d").models.cross_validate("cv", folds=3, model="logreg")
    return proj


def test_an_unknown_method_is_refused_when_the_job_is_created(project: assay.Project) -> None:
    ds = project.dataset("d")
    with pytest.raises(InvalidParameter, match="parameter 'method'") as info:
        jobs.submit(ds, "issues", {"model_layer": "cv", "method": "nope"}, by="t")
    message = str(info.value)
    assert "Unknown label-issue method 'nope'" in message and DEFAULT_METHOD in message
    assert "Value error" not in message
    assert jobs.list_jobs(project.store, ds.id) == []


def test_the_job_searches_with_its_method(project: assay.Project) -> None:
    ds = project.dataset("d")
    params = {"model_layer": "cv", "method": "prune_by_class", "open_cases": False}
    job = jobs.submit(ds, "issues", params, by="ana")
    assert job["params"]["method"] == "prune_by_class"
    default = jobs.submit(ds, "issues", {"model_layer": "cv", "open_cases": False}, by="ana")
    assert default["params"]["method"] is None  # the default method when it runs
    assert jobs.work(project) == 2
    done = jobs.get(project.store, job["id"])
    assert done["state"] == "done", done
    assert done["result"]["method"] == "prune_by_class"
    assert jobs.get(project.store, default["id"])["result"]["method"] == DEFAULT_METHOD
    assert ds.quality.run().method == DEFAULT_METHOD  # the latest search
