"""Box statistics on a real Dask LocalCluster: partitions scanned on workers and merged there
give the same figures as one pass in this process (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from assay.stats.boxes import box_statistics
from assay.stats.inventory import aggregate
from boxkit import BoxScenes, box_scenes  # noqa: F401
from labelkit import project  # noqa: F401


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    dask_client = distributed.Client(cluster, set_as_default=False)
    yield dask_client
    dask_client.close()
    cluster.close()


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
def test_cluster_matches_one_pass(client: Any, box_scenes: BoxScenes) -> None:  # noqa: F811
    ds = box_scenes.ds
    whole = box_statistics(ds, "bob", partition_rows=1_000)
    remote = box_statistics(ds, "bob", dask=client, partition_rows=5)
    _same(remote, whole)
    assert remote["n_boxes"] == sum(len(b) for b in box_scenes.simulated.labels["bob"])
    inventory = aggregate(ds, dask=client, partition_rows=7)
    _same(
        inventory.box_layers["bob"].result(),
        {k: whole[k] for k in whole if k not in ("name", "kind", "owner")},
    )
