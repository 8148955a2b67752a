"""The built-in demo: scikit-learn's digits (1,797 real 8x8 images), no download needed."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from assay.ingest.arrays import import_arrays
from assay.progress import ProgressCallback, no_progress
from assay.project import Project, init

DATASET = "digits"
TEST_FRACTION = 0.2
# Simulated annotators (they are not people): each labels the digits from the true label with
# its own, stated error pattern (see assay.labels.simulate.PROFILES), so that agreement,
# consensus and the review queue have something real to show.
SIMULATED = ("careful", "confuser", "hasty")
SIMULATED_SEED = 7


def digits_arrays(random_state: int = 0) -> tuple[np.ndarray, list[str], list[str]]:
    """The digits as uint8 images (0-255), their labels and a seeded 80/20 train/test split."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(bunch.images * (255 / 16)).astype(np.uint8)
    labels = [str(int(v)) for v in bunch.target]
    order = np.random.default_rng(random_state).permutation(len(labels))
    n_test = round(len(labels) * TEST_FRACTION)
    splits = np.full(len(labels), "train", dtype=object)
    splits[order[:n_test]] = "test"
    return images, labels, [str(s) for s in splits]


def build_demo(
    path: str | os.PathLike[str] = "assay-demo",
    *,
    db: str | None = None,
    progress: ProgressCallback = no_progress,
) -> Project:
    """Create (or reuse) the demo project: dataset ``digits`` with a ``ground_truth`` layer."""
    project = init(path, db=db)
    images, labels, splits = digits_arrays()
    split_iter: Iterator[str | None] = iter(splits)
    import_arrays(
        project.store,
        [(images, labels)],
        dataset=DATASET,
        source="sklearn.datasets.load_digits",
        format="demo",
        total=len(labels),
        splits=split_iter,
        progress=progress,
    )
    add_simulated_annotators(project)
    add_demo_model(project)
    return project


DEMO_RUN = "logreg-cv"


def add_demo_model(project: Project) -> None:
    """Cross-validate logistic regression on ``ground_truth`` (once, about a second), so the
    predictions page, label issues and suggestions have a model run to show."""
    ds = project.dataset(DATASET)
    if any(run["name"] == DEMO_RUN for run in ds.models.runs()):
        return
    ds.models.cross_validate(name=DEMO_RUN, folds=5, model="logreg", layer="ground_truth")


def add_simulated_annotators(project: Project) -> None:
    """Add the layers ``sim-careful``, ``sim-confuser`` and ``sim-hasty`` (once), a Dawid-Skene
    ``consensus`` layer over them and the review cases where they disagree."""
    from assay.labels.simulate import PROFILES, simulate
    from assay.labels.writes import LabelWrite

    ds = project.dataset(DATASET)
    names = [f"sim-{p}" for p in SIMULATED]
    if any(layer["name"] in names for layer in ds.layers()):
        return
    truth = ds.label_matrix(["ground_truth"])
    codes = simulate(
        truth.codes[:, 0].astype(np.int64), truth.n_classes, list(SIMULATED), SIMULATED_SEED
    )
    for j, (name, profile) in enumerate(zip(names, SIMULATED, strict=True)):
        ds.create_layer(
            name,
            kind="human",
            description=f"SIMULATED annotator (not a person), {PROFILES[profile].description}",
        )
        ds.set_labels(
            [
                LabelWrite(int(item_id), truth.classes[int(code)])
                for item_id, code in zip(truth.item_ids, codes[:, j], strict=True)
                if code >= 0
            ],
            layer=name,
            author=f"simulated-{profile}",
        )
    ds.consensus(method="dawid-skene", layers=names, into="consensus")
    ds.review_scan(layers=names, threshold=0.7, actor="assay demo")
