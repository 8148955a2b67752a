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
    return project
