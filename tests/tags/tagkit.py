"""A small tagged dataset for the tag tests: tabular items whose features carry their tags."""

from __future__ import annotations

import numpy as np

import assay
from assay.ingest.staging import ImportJob, json_hash
from assay.labels.writes import LabelWrite

TAGS = ["red", "round", "sweet"]


def true_tags(n: int, seed: int = 0) -> tuple[np.ndarray, list[list[str]]]:
    """Features (n, 3) and each item's tags: tag j applies when feature j is positive."""
    x = np.random.default_rng(seed).normal(size=(n, 3))
    return x, [[t for j, t in enumerate(TAGS) if x[i, j] > 0] for i in range(n)]


def make_tag_dataset(
    project: assay.Project, name: str = "fruit", n: int = 40, seed: int = 0
) -> assay.Dataset:
    """``n`` tabular items k0.. with features f0..f2 and the true tags in layer ``truth``."""
    x, tags = true_tags(n, seed)
    schema = [{"name": f"f{j}", "dtype": "number"} for j in range(3)]
    with ImportJob(
        project.store, name, source="mem", format="test", table_schema=schema, classes=TAGS
    ) as job:
        for i in range(n):
            fields = {f"f{j}": float(x[i, j]) for j in range(3)}
            job.add(
                {"external_key": f"k{i}", "kind": "tabular", "split": "train", "label": None,
                 "fields": fields, "content_hash": json_hash(fields)},
                where=i + 2,
            )  # fmt: skip
        job.publish()
    ds = project.dataset(name)
    ds.create_layer("truth", value_kind="tags")
    ids = {r["external_key"]: int(r["id"]) for r in ds.items(limit=n)[0]}
    ds.set_labels([LabelWrite(ids[f"k{i}"], tags[i]) for i in range(n)], layer="truth")
    return ds
