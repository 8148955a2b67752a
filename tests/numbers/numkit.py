"""A small tabular dataset with number layers for the number tests (SQLite unless a test
passes another project)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import assay

N = 60


def write_table(path: Path, n: int = N, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A CSV of ``n`` rows: key, three features, the target ``y = 10 x0 - 5 x1 + noise`` in
    [0, 100]; returns (features, target)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.clip(50 + 10 * X[:, 0] - 5 * X[:, 1] + rng.normal(0, 1, n), 0, 100).round(2)
    lines = ["key,f0,f1,f2,y"]
    lines += [f"r{i},{X[i, 0]:.5f},{X[i, 1]:.5f},{X[i, 2]:.5f},{y[i]}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return X, y


def make_number_dataset(project: assay.Project, tmp: Path, n: int = N) -> assay.Dataset:
    """Dataset ``t`` of the table's rows (keys r0..), the target in number layer ``y``
    (options min 0, max 100, unit "pts")."""
    path = tmp / "t.csv"
    write_table(path, n)
    project.import_path(path, dataset="t", format="table", key_column="key",
                        exclude_columns=["y"])  # fmt: skip
    ds = project.dataset("t")
    ds.import_numbers(path, column="y", layer="y", key_column="key",
                      options={"min": 0, "max": 100, "unit": "pts"})  # fmt: skip
    return ds
