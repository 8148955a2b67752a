"""Box statistics on a real Dask LocalCluster: partitions scanned on workers and merged there
give the same figures as one pass in this process (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from assay.stats.boxes import box_statistics
from assay.stats.inventory import aggregate
from boxkit import BoxScenes, box_scenes  # noqa: F401
from labelkit import project  # noqa: F401


def _same(a: object, b: object) -> None:
    """Equal: counts exactly, means up to float rounding (the merge order may differ)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys()
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-12)
    else:
        assert a == b


@pytest.mark.dask
def test_cluster_matches_one_pass(dask_client: Any, box_scenes: BoxScenes) -> None:  # noqa: F811
    ds = box_scenes.ds
    whole = box_statistics(ds, "bob", partition_rows=1_000)
    remote = box_statistics(ds, "bob", dask=dask_client, partition_rows=5)
    _same(remote, whole)
    assert remote["n_boxes"] == sum(len(b) for b in box_scenes.simulated.labels["bob"])
    inventory = aggregate(ds, dask=dask_client, partition_rows=7)
    _same(
        inventory.box_layers["bob"].result(),
        {k: whole[k] for k in whole if k not in ("name", "kind", "owner")},
    )
