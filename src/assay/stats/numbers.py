"""Statistics of a number layer: the distribution of its values, mergeable by partitions.

The distribution is a fixed-range histogram (:data:`BINS` equal bins over the layer's
``min``/``max`` options, or over the values' own minimum and maximum, found by a first cheap
pass when the layer has no range) with the count, mean and variance (merged by Chan's
parallel formula), minimum, maximum and the items the layer has not annotated. Quantiles are
read off the merged histogram (linear within a bin: off by at most one bin width).

Why not a KLL or t-digest sketch (``datasketches`` is installed): both are randomized or
order-dependent, so the quantiles of a layer merged from partitions (or from a Dask cluster)
would differ from those computed in one go; counts in fixed bins merge exactly, so every
partitioning gives the same answer, which the tests check, at the price of one more pass
when the layer gives no range.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from assay.store import Store, filters, queries

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

__all__ = ["BINS", "NumberStats", "number_statistics"]

BINS = 40
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


class NumberStats:
    """Mergeable statistics of number values within ``[lo, hi]`` (``bins`` equal bins; values
    outside land in the end bins, which only a layer without a range and a stale first pass
    could produce)."""

    def __init__(self, lo: float | None, hi: float | None, bins: int = BINS) -> None:
        self.lo, self.hi, self.bins = lo, hi, bins
        self.counts = np.zeros(bins, dtype=np.int64)
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.min = np.inf
        self.max = -np.inf
        self.n_missing = 0

    def _edges(self) -> np.ndarray | None:
        if self.lo is None or self.hi is None:
            return None
        hi = self.hi if self.hi > self.lo else self.lo + 1.0
        return np.linspace(self.lo, hi, self.bins + 1)

    def add(self, values: np.ndarray, n_missing: int = 0) -> NumberStats:
        """Add a chunk of values (float array) and the chunk's items without a value."""
        self.n_missing += n_missing
        if not len(values):
            return self
        other = NumberStats(self.lo, self.hi, self.bins)
        other.n = len(values)
        other.mean = float(values.mean())
        other.m2 = float(((values - other.mean) ** 2).sum())
        other.min, other.max = float(values.min()), float(values.max())
        edges = self._edges()
        if edges is not None:
            idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, self.bins - 1)
            other.counts = np.bincount(idx, minlength=self.bins).astype(np.int64)
        return self.merge(other)

    def merge(self, other: NumberStats) -> NumberStats:
        """Merge ``other`` (the same bins) into this one (Chan et al.'s pairwise update)."""
        if other.n:
            n = self.n + other.n
            delta = other.mean - self.mean
            self.mean += delta * other.n / n
            self.m2 += other.m2 + delta * delta * self.n * other.n / n
            self.n = n
            self.min, self.max = min(self.min, other.min), max(self.max, other.max)
            self.counts = self.counts + other.counts
        self.n_missing += other.n_missing
        return self

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile read off the histogram (None without values or bins)."""
        edges = self._edges()
        if not self.n or edges is None:
            return None
        cum = np.cumsum(self.counts)
        target = q * self.n
        k = int(np.searchsorted(cum, target, side="left"))
        k = min(k, self.bins - 1)
        before = cum[k - 1] if k else 0
        inside = self.counts[k]
        frac = 0.0 if inside == 0 else (target - before) / inside
        value = float(edges[k] + frac * (edges[k + 1] - edges[k]))
        return float(min(max(value, self.min), self.max))

    def result(self) -> dict[str, Any]:
        edges = self._edges()
        return {
            "n_values": self.n,
            "n_not_annotated": self.n_missing,
            "mean": self.mean if self.n else None,
            "std": float(np.sqrt(self.m2 / self.n)) if self.n else None,
            "min": float(self.min) if self.n else None,
            "max": float(self.max) if self.n else None,
            "quantiles": {f"{q:g}": self.quantile(q) for q in QUANTILES},
            "histogram": {
                "edges": [] if edges is None else [float(e) for e in edges],
                "counts": self.counts.tolist(),
            },
        }


@dataclass(frozen=True)
class NumberScanSpec:
    """One partition of a number layer's statistics; picklable so Dask can ship it."""

    url: str
    dataset_id: int
    filter: str | None
    layer_id: int
    id_range: tuple[int, int]
    lo: float | None
    hi: float | None


def _chunks(conn: Any, spec: NumberScanSpec) -> Iterable[tuple[np.ndarray, int]]:
    from assay.stats.boxes import iter_layer_values

    where = filters.compile_filter(conn, spec.dataset_id, spec.filter)
    for rows in iter_layer_values(
        conn, spec.dataset_id, spec.layer_id, where=where, id_range=spec.id_range
    ):
        values = [float(r[3]) for r in rows if r[3] is not None and r[3] != "null"]
        yield np.asarray(values, dtype=np.float64), len(rows) - len(values)


def scan_number_partition(spec: NumberScanSpec, store: Store | None = None) -> NumberStats:
    """The statistics of one partition (opens its own store when run on a worker)."""
    own = store is None
    store = store or Store(spec.url)
    try:
        stats = NumberStats(spec.lo, spec.hi)
        with store.read() as conn:
            for values, missing in _chunks(conn, spec):
                stats.add(values, missing)
        return stats
    finally:
        if own:
            store.close()


def number_statistics(
    dataset: Dataset,
    layer: str,
    filter: str | None = None,
    *,
    dask: Any = None,
    partition_rows: int | None = None,
) -> dict[str, Any]:
    """The distribution of number layer ``layer``'s values over the dataset or the slice
    ``filter`` selects, as JSON (``name``, ``kind``, ``owner``, ``unit`` and
    :meth:`NumberStats.result`). Partitions as the inventory's, run here one after another or
    on a Dask cluster (``dask``), merged in order: the same result either way."""
    from assay.errors import InvalidParameter
    from assay.stats.distributed import connect, merge_pair, reduce_partitions, tree_reduce
    from assay.stats.inventory import PARTITION_ROWS, plan

    with dataset.store.read() as conn:
        row = queries.get_layer(conn, dataset.id, layer)
    if row.value_kind != "number":
        raise InvalidParameter(f"Layer {layer!r} holds {row.value_kind} labels, not numbers.")
    options = dict(row.options or {})
    parts = plan(dataset, filter, partition_rows or PARTITION_ROWS)

    def run(lo: float | None, hi: float | None) -> NumberStats:
        specs = [
            NumberScanSpec(dataset.store.url, dataset.id, filter, int(row.id), p.id_range, lo, hi)
            for p in parts
        ]
        if isinstance(dask, str):
            with connect(dask) as client:
                return reduce_partitions(scan_number_partition, specs, client=client)
        if dask is not None:
            return reduce_partitions(scan_number_partition, specs, client=dask)
        if not specs:
            return NumberStats(lo, hi)
        return tree_reduce((scan_number_partition(s, dataset.store) for s in specs), merge_pair)

    lo, hi = options.get("min"), options.get("max")
    if lo is None or hi is None:  # a first pass for the values' own range
        first = run(None, None)
        if first.n:
            lo = first.min if lo is None else lo
            hi = first.max if hi is None else hi
    stats = run(lo, hi)
    return {
        "name": row.name,
        "kind": row.kind,
        "owner": row.owner,
        "unit": options.get("unit"),
        "range": [options.get("min"), options.get("max")],
        **stats.result(),
    }
