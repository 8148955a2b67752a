"""Small datasets for the active-learning tests: points on a plane split by a line."""

from __future__ import annotations

import numpy as np

import assay
from assay.ingest.staging import ImportJob, json_hash

CLASSES = ["neg", "pos"]


def points(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points in [-1, 1]^2 and their class: 1 where x0 + 0.2 x1 > 0.3 (a narrow boundary
    crosses the square off-centre, so random labels rarely land near it)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    return X, (X[:, 0] + 0.2 * X[:, 1] > 0.3).astype(np.int64)


def make_points(
    project: assay.Project, name: str = "points", n: int = 40, *, labels: bool = True
) -> assay.Dataset:
    """A tabular dataset of ``points(n)`` (keys p0..), ground truth from the line if ``labels``."""
    X, y = points(n)
    schema = [{"name": "x0", "dtype": "number"}, {"name": "x1", "dtype": "number"}]
    with ImportJob(
        project.store,
        name,
        source="mem",
        format="test",
        table_schema=schema,
        classes=CLASSES if labels else None,
    ) as job:
        for i in range(n):
            fields = {"x0": float(X[i, 0]), "x1": float(X[i, 1])}
            row = {
                "external_key": f"p{i}",
                "kind": "tabular",
                "fields": fields,
                "content_hash": json_hash(fields),
            }
            if labels:
                row["label"] = CLASSES[int(y[i])]
            job.add(row, where=i + 2)
        job.publish()
    return project.dataset(name)
