"""A small labeled dataset for the label, snapshot and review tests."""

from __future__ import annotations

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
