"""The Dataset hub: one typed sub-API per capability, ``ds.maps`` among them, and agreement's
default reference decided in labels/reference.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import assay
from assay.active.api import Suggestions
from assay.ingest.arrays import import_arrays
from assay.labels.reference import default_reference
from assay.maps import DatasetMaps, MapNotFound
from assay.models.api import DatasetModels
from assay.quality.api import LabelQuality
from assay.review import ReviewQueue


@pytest.fixture
def ds(tmp_path: Path) -> assay.Dataset:
    project = assay.init(tmp_path / "p")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(12, 4, 4), dtype=np.uint8)
    labels = [str(i % 3) for i in range(12)]
    import_arrays(project.store, [(images, labels)], dataset="tiny", source="test", format="test")
    return project.dataset("tiny")


def test_every_capability_is_one_typed_sub_api(ds: assay.Dataset) -> None:
    assert isinstance(ds.models, DatasetModels)
    assert isinstance(ds.quality, LabelQuality)
    assert isinstance(ds.review, ReviewQueue)
    assert isinstance(ds.suggestions, Suggestions)
    assert isinstance(ds.maps, DatasetMaps)
    assert ds.maps.dataset is ds


def test_maps_compute_and_read_back(ds: assay.Dataset) -> None:
    assert ds.maps.latest() is None and ds.maps.list() == []
    info = ds.maps.compute(method="pca", author="tester")
    assert info["state"] == "ready" and info["n_points"] == 12
    assert ds.maps.latest() == ds.maps.get(info["map_id"])
    assert [m["map_id"] for m in ds.maps.list()] == [info["map_id"]]
    ids, xy = ds.maps.points(info["map_id"])
    assert len(ids) == 12 and xy.shape == (12, 2)
    with pytest.raises(MapNotFound):
        ds.maps.get(info["map_id"] + 1)


def test_agreement_is_rated_against_the_consensus_layer_when_there_is_one(
    ds: assay.Dataset,
) -> None:
    for name, shift in (("a1", 0), ("a2", 0), ("a3", 1)):
        ds.create_layer(name)
        ds.set_labels([(i, str((i + shift) % 3)) for i in range(1, 13)], layer=name)
    with ds.store.read() as conn:
        assert default_reference(conn, ds.id, ["a1", "a2", "a3"]) == "majority-vote"
    ds.consensus(method="majority-vote", layers=["a1", "a2", "a3"])
    with ds.store.read() as conn:
        assert default_reference(conn, ds.id, ["a1", "a2", "a3"]) == "consensus"
        assert default_reference(conn, ds.id, ["a1", "consensus"]) == "majority-vote"
    report = ds.agreement(["a1", "a2", "a3"]).to_dict()
    quality = {q["annotator"]: q["accuracy"] for q in report["annotator_quality"]}
    assert quality["a1"] == quality["a2"] == 1.0 and quality["a3"] == 0.0
