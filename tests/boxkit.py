"""A small detection dataset for the box tests: digit scenes with known boxes, imported as
images, with the truth in a ``boxes`` layer and simulated annotators in ``alice``, ``bob`` and
``carol`` (``box_scenes`` fixture: a conftest imports it to use it)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import assay
from assay.ingest.arrays import import_arrays
from assay.labels.scenes import BoxNoise, Scenes, Simulated, make_scenes, simulate_box_annotators
from assay.labels.writes import LabelWrite

ANNOTATORS = {"alice": BoxNoise(), "bob": BoxNoise(miss=0.1, swap=0.1), "carol": BoxNoise()}


@dataclass(frozen=True)
class BoxScenes:
    ds: assay.Dataset
    scenes: Scenes
    simulated: Simulated
    item_ids: list[int]  # item id of scene i


def make_box_dataset(
    project: assay.Project, name: str = "scenes", n: int = 24, *, seed: int = 0
) -> BoxScenes:
    """``n`` scenes in dataset ``name``: the truth in layer ``boxes``, annotators' layers."""
    scenes = make_scenes(n, seed=seed)
    import_arrays(
        project.store, [(scenes.images, [None] * n)], dataset=name, source="scenes",
        format="scenes", classes=scenes.classes,
    )  # fmt: skip
    ds = project.dataset(name)
    ids = [int(r["id"]) for r in ds.items(limit=n)[0]]
    simulated = simulate_box_annotators(scenes, ANNOTATORS, seed=seed)
    for layer, per_image in [("boxes", scenes.boxes), *simulated.labels.items()]:
        ds.create_layer(layer, value_kind="boxes", owner=None if layer == "boxes" else layer)
        ds.set_labels(
            [LabelWrite(i, b) for i, b in zip(ids, per_image, strict=True)],
            layer=layer, author=layer,
        )  # fmt: skip
    return BoxScenes(ds, scenes, simulated, ids)


@pytest.fixture
def box_scenes(project: assay.Project) -> BoxScenes:
    return make_box_dataset(project)
