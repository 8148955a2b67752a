"""reduce_partitions in-process and on a real Dask LocalCluster give the same answer."""

from __future__ import annotations

import functools
import socket
import sys
from typing import Any, Self

import numpy as np
import pytest

from assay.errors import InvalidParameter, MissingDependency
from assay.stats import (
    Aggregator,
    Categories,
    Count,
    Histogram,
    MinMax,
    Moments,
    NumericSummary,
    Quantiles,
    connect,
    reduce_partitions,
    tree_reduce,
)

# Partitions are (seed, size) descriptors; each worker generates its own data from them.
PARTITIONS = [(seed, 20_000 + 1_000 * seed) for seed in range(9)]
EXACT = ["Count", "Moments", "MinMax", "Categories", "Histogram"]


def build(kind: str, partition: tuple[int, int]) -> Aggregator:
    """Summarise one partition with one kind of aggregator (runs on the workers)."""
    seed, size = partition
    rng = np.random.default_rng(seed)
    values = rng.normal(1e6 + seed, 3.0, size)
    values[rng.random(size) < 0.01] = np.nan
    if kind == "Categories":
        return Categories().add(rng.choice(["a", "b", "c"], size=size, p=[0.6, 0.3, 0.1]))
    factories = {
        "Count": Count,
        "Moments": Moments,
        "MinMax": MinMax,
        "Histogram": lambda: Histogram(np.linspace(1e6 - 10, 1e6 + 20, 31)),
        "Quantiles": Quantiles,
        "NumericSummary": NumericSummary,
    }
    return factories[kind]().add(values)


def exact_values(partitions: list[tuple[int, int]]) -> np.ndarray:
    """The non-missing values of every partition, sorted."""
    parts = []
    for seed, size in partitions:
        rng = np.random.default_rng(seed)
        values = rng.normal(1e6 + seed, 3.0, size)
        parts.append(values[rng.random(size) >= 0.01])
    return np.sort(np.concatenate(parts))


class Shape:
    """A mergeable that records the shape of the merge tree, e.g. ``((0 1) 2)``."""

    def __init__(self, label: str) -> None:
        self.label = label

    def merge(self, other: Self) -> Self:
        self.label = f"({self.label} {other.label})"
        return self


def leaf(index: int) -> Shape:
    return Shape(str(index))


def fail_on_two(partition: int) -> Count:
    if partition == 2:
        raise RuntimeError(f"partition {partition} is corrupt")
    return Count().add([partition])


# -- in-process -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "shape"),
    [
        (1, "0"),
        (2, "(0 1)"),
        (3, "((0 1) 2)"),
        (4, "((0 1) (2 3))"),
        (5, "(((0 1) (2 3)) 4)"),
        (7, "(((0 1) (2 3)) ((4 5) 6))"),
    ],
)
def test_tree_reduce_is_balanced_and_ordered(n: int, shape: str) -> None:
    assert tree_reduce((leaf(i) for i in range(n)), lambda a, b: a.merge(b)).label == shape
    assert reduce_partitions(leaf, list(range(n))).label == shape


def test_reduce_partitions_rejects_no_partitions() -> None:
    with pytest.raises(InvalidParameter, match="at least one partition"):
        reduce_partitions(leaf, [])


def test_reduce_partitions_in_process_matches_one_pass() -> None:
    moments = reduce_partitions(functools.partial(build, "Moments"), PARTITIONS)
    values = exact_values(PARTITIONS)
    assert moments.result()["count"] == values.size
    assert moments.result()["var"] == pytest.approx(np.var(values), rel=1e-9)


def test_connect_without_distributed_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingDependency, match=r"pip install 'assay\[dask\]'"):
        connect("tcp://127.0.0.1:8786")


def test_connect_rejects_empty_address() -> None:
    pytest.importorskip("distributed")
    with pytest.raises(InvalidParameter, match="non-empty string"):
        connect("  ")


# -- on the cluster -------------------------------------------------------------------------


@pytest.mark.dask
@pytest.mark.parametrize("kind", EXACT)
def test_cluster_matches_in_process_exactly(dask_client: Any, kind: str) -> None:
    fn = functools.partial(build, kind)
    local = reduce_partitions(fn, PARTITIONS)
    remote = reduce_partitions(fn, PARTITIONS, client=dask_client)
    assert type(remote) is type(local)
    assert remote.result() == local.result()


@pytest.mark.dask
def test_cluster_quantiles_within_rank_error(dask_client: Any) -> None:
    remote = reduce_partitions(
        functools.partial(build, "Quantiles"), PARTITIONS, client=dask_client
    )
    assert isinstance(remote, Quantiles)
    values = exact_values(PARTITIONS)
    assert remote.n == values.size
    levels = [0.01, 0.25, 0.5, 0.75, 0.99]
    estimates = np.asarray(remote.quantiles(levels), dtype=np.float64)
    for level, value in zip(levels, estimates, strict=True):
        rank = np.searchsorted(values, value, side="right") / values.size
        assert abs(rank - level) <= 2 * remote.rank_error


@pytest.mark.dask
def test_cluster_numeric_summary_exact_parts_match(dask_client: Any) -> None:
    fn = functools.partial(build, "NumericSummary")
    local = reduce_partitions(fn, PARTITIONS).result()
    remote = reduce_partitions(fn, PARTITIONS, client=dask_client).result()
    for key in ["count", "missing", "mean", "var", "std", "sum", "min", "max"]:
        assert remote[key] == local[key]
    assert remote["distinct"] == local["distinct"]  # HLL hashing is deterministic
    assert sum(remote["histogram"]["counts"]) == remote["count"] - remote["missing"]


@pytest.mark.dask
@pytest.mark.parametrize("n", [1, 6, 9])
def test_cluster_uses_the_same_tree_shape(dask_client: Any, n: int) -> None:
    local = reduce_partitions(leaf, list(range(n)))
    assert reduce_partitions(leaf, list(range(n)), client=dask_client).label == local.label


@pytest.mark.dask
def test_cluster_counts_repeated_partitions_twice(dask_client: Any) -> None:
    fn = functools.partial(build, "Count")
    count = reduce_partitions(fn, [PARTITIONS[0], PARTITIONS[0]], client=dask_client)
    assert count.result()["count"] == 2 * PARTITIONS[0][1]


@pytest.mark.dask
def test_cluster_reraises_partition_errors(dask_client: Any) -> None:
    with pytest.raises(RuntimeError, match="partition 2 is corrupt"):
        reduce_partitions(fail_on_two, [1, 2, 3], client=dask_client)


@pytest.mark.dask
def test_connect_to_running_scheduler(dask_client: Any) -> None:
    other = connect(dask_client.scheduler.address)
    try:
        assert reduce_partitions(leaf, [0, 1, 2], client=other).label == "((0 1) 2)"
    finally:
        other.close()


@pytest.mark.dask
def test_connect_unreachable_address_is_invalid_parameter() -> None:
    pytest.importorskip("distributed")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(InvalidParameter, match="Cannot reach the Dask scheduler"):
        connect(f"tcp://127.0.0.1:{port}", timeout_s=1.0)
