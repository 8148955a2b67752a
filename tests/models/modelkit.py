"""Tiny datasets for the model tests: real digit images, a table, texts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import assay
from assay.ingest.arrays import import_arrays
from assay.ingest.staging import ImportJob, json_hash


def digit_images(
    n_per_class: int = 12, classes: Sequence[int] = (0, 1, 2), start: int = 0
) -> tuple[np.ndarray, list[str]]:
    """8x8 uint8 images of scikit-learn's digits, ``n_per_class`` of each class, in turn."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    picks: list[int] = []
    for c in classes:
        where = np.flatnonzero(bunch.target == c)[start : start + n_per_class]
        picks.extend(where.tolist())
    order = np.array(picks).reshape(len(classes), -1).T.ravel()  # interleave the classes
    images = np.rint(bunch.images[order] * (255 / 16)).astype(np.uint8)
    return images, [str(int(v)) for v in bunch.target[order]]


def make_images(
    project: assay.Project,
    name: str = "tiny",
    n_per_class: int = 12,
    *,
    key_start: int = 0,
    start: int = 0,
) -> assay.Dataset:
    """Digits 0, 1, 2 as an image dataset; even positions are split train, odd ones test."""
    images, labels = digit_images(n_per_class, start=start)
    splits = iter(["train" if i % 2 == 0 else "test" for i in range(len(labels))])
    import_arrays(
        project.store, [(images, labels)], dataset=name, source="mem", format="test",
        total=len(labels), splits=splits, key_start=key_start,
    )  # fmt: skip
    return project.dataset(name)


def make_table(project: assay.Project, name: str = "table", n: int = 30) -> assay.Dataset:
    """Tabular items: numeric ``x`` (one missing), categorical ``color``; label from both."""
    schema = [{"name": "x", "dtype": "number"}, {"name": "color", "dtype": "string"}]
    colors = ["red", "green", "blue"]
    with ImportJob(
        project.store, name, source="mem", format="test", table_schema=schema,
        classes=["lo", "hi"],
    ) as job:  # fmt: skip
        for i in range(n):
            fields = {"x": None if i == 3 else float(i), "color": colors[i % 3]}
            job.add(
                {
                    "external_key": f"t{i}", "kind": "tabular", "split": None,
                    "label": "hi" if i >= n // 2 else "lo", "fields": fields,
                    "content_hash": json_hash(fields),
                },
                where=i + 2,
            )  # fmt: skip
        job.publish()
    return project.dataset(name)
