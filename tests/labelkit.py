"""A small labeled dataset for the label, snapshot and review tests, and its fixtures
(``project`` and ``ds``: a conftest imports them to use them)."""

from __future__ import annotations

from pathlib import Path

import pytest

import assay
from assay.ingest.staging import ImportJob, json_hash

CLASSES = ["cat", "dog", "bird"]


def make_dataset(project: assay.Project, name: str, n: int = 20) -> assay.Dataset:
    """``n`` tabular items k0..k{n-1}, ground truth cycling through CLASSES, half train."""
    schema = [{"name": "x", "dtype": "number"}]
    with ImportJob(
        project.store, name, source="mem", format="test", table_schema=schema, classes=CLASSES
    ) as job:
        for i in range(n):
            fields = {"x": i}
            job.add(
                {
                    "external_key": f"k{i}",
                    "kind": "tabular",
                    "split": "train" if i % 2 == 0 else "test",
                    "label": CLASSES[i % 3],
                    "fields": fields,
                    "content_hash": json_hash(fields),
                },
                where=i + 2,
            )
        job.publish()
    return project.dataset(name)


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> assay.Project:
    """A project on each backend (``store_url``: SQLite and PostgreSQL)."""
    return assay.init(tmp_path, db=store_url)


@pytest.fixture
def ds(project: assay.Project) -> assay.Dataset:
    """20 items ``k0``..``k19`` with a ``ground_truth`` import layer (see make_dataset)."""
    return make_dataset(project, "pets")
