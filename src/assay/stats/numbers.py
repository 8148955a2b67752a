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

from typing import TYPE_CHECKING, Any

import numpy as np

from assay.stats.layer_scan import kind_layer, partitioned_statistics

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

    def add(self, rows: Any) -> NumberStats:
        """Add a chunk of ``(item_id, width, height, value)`` rows (value: JSON or None)."""
        values = [float(r[3]) for r in rows if r[3] is not None and r[3] != "null"]
        return self.add_values(np.asarray(values, dtype=np.float64), len(rows) - len(values))

    def add_values(self, values: np.ndarray, n_missing: int = 0) -> NumberStats:
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
    row = kind_layer(dataset, layer, "number", "not numbers.")
    options = dict(row.options or {})

    def run(lo: float | None, hi: float | None) -> NumberStats:
        stats: NumberStats = partitioned_statistics(
            dataset, row, filter, NumberStats, (lo, hi), dask=dask, partition_rows=partition_rows
        )
        return stats

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
