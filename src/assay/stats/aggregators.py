"""Mergeable aggregators: small values with ``add(batch)`` and ``merge(other)`` for streamed stats.

Every aggregator here can summarise one chunk, many chunks in any order, or partitions on a Dask
cluster, and give the same answer: ``a.add(x).add(y)`` equals ``a.add(x).merge(b.add(y))``.
Exact aggregators (:class:`Count`, :class:`Moments`, :class:`MinMax`, :class:`Histogram`,
:class:`Categories` below its cap) agree exactly, up to float rounding; sketch-based ones
(:class:`Quantiles`, :class:`Distinct`) agree within the sketch's stated error.

All of them pickle: the datasketches objects they wrap are stored as their serialized bytes.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, Self

import datasketches
import numpy as np
import pandas as pd

from assay.errors import InvalidParameter

QUANTILE_LEVELS: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
"""The quantiles :class:`Quantiles` and :class:`NumericSummary` report."""

SUMMARY_HISTOGRAM_BINS = 20
"""Number of equal-width bins in :meth:`NumericSummary.result`'s histogram."""


# -- array helpers ----------------------------------------------------------------------------


def as_1d(batch: Any) -> np.ndarray:
    """Turn a batch (array, Series or sequence) into a 1-D numpy array without copying if possible.

    A sequence of tuples becomes an object array of tuples, not a 2-D array.
    """
    if isinstance(batch, (pd.Series, pd.Index)):
        batch = batch.to_numpy()
    if isinstance(batch, np.ndarray):
        if batch.ndim != 1:
            raise InvalidParameter(
                f"Aggregators take one column at a time: expected a 1-D array, "
                f"got shape {batch.shape}. Pass each column separately."
            )
        return batch
    items = list(batch)
    if not items:
        return np.empty(0, dtype=np.float64)
    # pandas infers a 1-D dtype without numpy's surprises: [0, ""] stays mixed rather than
    # becoming the strings ["0", ""], and tuples stay tuples rather than becoming a 2-D array.
    return pd.Series(items).to_numpy()


def missing_mask(values: np.ndarray) -> np.ndarray:
    """Boolean mask of missing values: NaN for floats; None, NaN, NA and NaT for objects."""
    if values.dtype.kind in "fc":
        return np.isnan(values)
    if values.dtype.kind in "OMm":
        return np.asarray(pd.isna(values), dtype=bool)
    return np.zeros(values.shape, dtype=bool)


def as_float(batch: Any) -> np.ndarray:
    """Convert a batch to float64, with missing values (None, NA) as NaN."""
    values = as_1d(batch)
    if values.dtype == np.float64:
        return values
    if values.dtype.kind in "biuf":
        return values.astype(np.float64)
    if values.dtype.kind != "O":
        raise _not_numeric(values)
    out = np.full(values.shape, np.nan)
    present = ~missing_mask(values)
    try:
        out[present] = values[present].astype(np.float64)
    except (TypeError, ValueError) as error:
        raise _not_numeric(values) from error
    return out


def _not_numeric(values: np.ndarray) -> InvalidParameter:
    sample = values[:3].tolist()
    return InvalidParameter(
        f"Expected numeric values, got dtype {values.dtype} (first values: {sample!r}). "
        "Use Categories or Distinct for text and other non-numeric columns."
    )


def _present_values(batch: Any) -> np.ndarray:
    """The non-missing values of a numeric batch, as float64."""
    values = as_float(batch)
    return values[~np.isnan(values)]


def _check_edges(edges: Iterable[float]) -> np.ndarray:
    """Validate bin edges: 1-D, at least two, finite and strictly increasing."""
    array = np.asarray(list(edges), dtype=np.float64)
    if array.ndim != 1 or array.size < 2:
        raise InvalidParameter(f"Bin edges must be a list of at least 2 numbers, got {array!r}.")
    if not np.all(np.isfinite(array)) or not np.all(np.diff(array) > 0):
        raise InvalidParameter(
            f"Bin edges must be finite and strictly increasing, got {array.tolist()!r}."
        )
    return array


# -- the protocol -----------------------------------------------------------------------------


class Aggregator(ABC):
    """A mergeable summary: ``add`` a batch, ``merge`` another summary, read ``result``.

    ``merge`` is in place and returns ``self`` so reductions can chain. ``result`` returns
    plain JSON-able Python values (dicts, lists, ints, floats, strings, None).
    """

    @abstractmethod
    def add(self, batch: Any) -> Self:
        """Fold one batch (a 1-D array or sequence of one column) into the summary."""

    @abstractmethod
    def merge(self, other: Self) -> Self:
        """Fold another summary of the same kind into this one, in place."""

    @abstractmethod
    def result(self) -> dict[str, Any]:
        """The summary as plain JSON-able Python values."""

    def _check_mergeable(self, other: object) -> None:
        if type(other) is not type(self):
            raise TypeError(
                f"Cannot merge {type(other).__name__} into {type(self).__name__}: "
                "only aggregators of the same kind merge."
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.result()!r})"


# -- exact aggregators ------------------------------------------------------------------------


class Count(Aggregator):
    """Number of values seen, and how many of them were missing (NaN, None, NA)."""

    def __init__(self) -> None:
        self.count = 0
        self.missing = 0

    def add(self, batch: Any) -> Self:
        """Count the values of ``batch`` and its missing values."""
        values = as_1d(batch)
        self.count += int(values.size)
        self.missing += int(np.count_nonzero(missing_mask(values)))
        return self

    def merge(self, other: Self) -> Self:
        """Add the other side's counts."""
        self._check_mergeable(other)
        self.count += other.count
        self.missing += other.missing
        return self

    def result(self) -> dict[str, Any]:
        """``{"count": int, "missing": int}``."""
        return {"count": self.count, "missing": self.missing}


class Moments(Aggregator):
    """Count, sum, mean and variance, merged with the parallel Welford update.

    Each batch is summarised in two passes (its mean, then the sum of squared deviations from
    it), and summaries are combined with the formula of Chan, Golub and LeVeque (1979)::

        delta = mean_b - mean_a
        mean  = mean_a + delta * n_b / n
        M2    = M2_a + M2_b + delta**2 * n_a * n_b / n

    This stays accurate when the mean is large compared with the spread, where the naive
    ``sum(x**2) / n - mean**2`` loses every significant digit. NaNs are ignored.
    """

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.total = 0.0

    def add(self, batch: Any) -> Self:
        """Fold in the non-missing values of ``batch``."""
        values = _present_values(batch)
        if values.size == 0:
            return self
        mean = float(values.mean())
        m2 = float(np.sum(np.square(values - mean)))
        return self._combine(int(values.size), mean, m2, float(values.sum()))

    def merge(self, other: Self) -> Self:
        """Combine with another ``Moments`` by the Chan et al. formula."""
        self._check_mergeable(other)
        return self._combine(other.n, other.mean, other.m2, other.total)

    def _combine(self, n_b: int, mean_b: float, m2_b: float, total_b: float) -> Self:
        if n_b == 0:
            return self
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.m2 += m2_b + delta * delta * self.n * n_b / n
        self.n = n
        self.total += total_b
        return self

    @property
    def var(self) -> float | None:
        """Population variance (``ddof=0``), None when empty."""
        return self.m2 / self.n if self.n else None

    @property
    def var_ddof1(self) -> float | None:
        """Sample variance (``ddof=1``), None with fewer than two values."""
        return self.m2 / (self.n - 1) if self.n > 1 else None

    @property
    def std(self) -> float | None:
        """Sample standard deviation (``ddof=1``), as pandas reports it."""
        var = self.var_ddof1
        return math.sqrt(var) if var is not None else None

    def result(self) -> dict[str, Any]:
        """``{"count", "sum", "mean", "var", "var_ddof1", "std"}``; None where undefined."""
        return {
            "count": self.n,
            "sum": self.total,
            "mean": self.mean if self.n else None,
            "var": self.var,
            "var_ddof1": self.var_ddof1,
            "std": self.std,
        }


class MinMax(Aggregator):
    """Smallest and largest value, NaNs ignored; both None until a value is seen."""

    def __init__(self) -> None:
        self.min: float | None = None
        self.max: float | None = None

    def add(self, batch: Any) -> Self:
        """Fold in the non-missing values of ``batch``."""
        values = _present_values(batch)
        if values.size:
            self._update(float(values.min()), float(values.max()))
        return self

    def merge(self, other: Self) -> Self:
        """Keep the smaller minimum and the larger maximum."""
        self._check_mergeable(other)
        if other.min is not None and other.max is not None:
            self._update(other.min, other.max)
        return self

    def _update(self, low: float, high: float) -> None:
        self.min = low if self.min is None else min(self.min, low)
        self.max = high if self.max is None else max(self.max, high)

    def result(self) -> dict[str, Any]:
        """``{"min": float | None, "max": float | None}``."""
        return {"min": self.min, "max": self.max}


class Histogram(Aggregator):
    """Exact counts in fixed bins, as :func:`numpy.histogram` (the last bin is closed).

    Values below the first edge or above the last are counted in ``below`` and ``above``;
    NaNs in ``missing``. Two histograms merge only if their edges are equal.

    Parameters
    ----------
    edges : sequence of float
        At least two finite, strictly increasing bin edges.
    """

    def __init__(self, edges: Sequence[float] | np.ndarray) -> None:
        self.edges = _check_edges(edges)
        self.counts = np.zeros(self.edges.size - 1, dtype=np.int64)
        self.below = 0
        self.above = 0
        self.missing = 0

    def add(self, batch: Any) -> Self:
        """Count the values of ``batch`` into the bins."""
        values = as_float(batch)
        nan = np.isnan(values)
        values = values[~nan]
        self.missing += int(np.count_nonzero(nan))
        self.below += int(np.count_nonzero(values < self.edges[0]))
        self.above += int(np.count_nonzero(values > self.edges[-1]))
        self.counts += np.histogram(values, bins=self.edges)[0]
        return self

    def merge(self, other: Self) -> Self:
        """Add the other side's counts; raise ``InvalidParameter`` if the edges differ."""
        self._check_mergeable(other)
        if not np.array_equal(self.edges, other.edges):
            raise InvalidParameter(
                "Cannot merge histograms with different bin edges: "
                f"{self.edges.tolist()!r} and {other.edges.tolist()!r}. "
                "Build every partial histogram with the same edges."
            )
        self.counts += other.counts
        self.below += other.below
        self.above += other.above
        self.missing += other.missing
        return self

    def result(self) -> dict[str, Any]:
        """``{"edges", "counts", "below", "above", "missing"}``."""
        return {
            "edges": self.edges.tolist(),
            "counts": self.counts.tolist(),
            "below": self.below,
            "above": self.above,
            "missing": self.missing,
        }


class Categories(Aggregator):
    """Exact counts per category value, for class balance, splits, kinds or image sizes.

    Values are keyed by their string form (``3`` and ``"3"`` are one category; a tuple such as
    ``(28, 28)`` becomes ``"(28, 28)"``); missing values are counted apart. Memory is bounded:
    when more than ``max_categories`` values are seen, the least frequent are folded into
    ``other`` (ties broken by key). Counts are exact as long as the cap is not reached.

    Parameters
    ----------
    max_categories : int, default 10_000
        The most categories kept by name.
    """

    def __init__(self, max_categories: int = 10_000) -> None:
        if not isinstance(max_categories, int) or max_categories < 1:
            raise InvalidParameter(
                "The 'max_categories' parameter of Categories must be an int >= 1. "
                f"Got {max_categories!r} instead."
            )
        self.max_categories = max_categories
        self.counts: dict[str, int] = {}
        self.other = 0
        self.missing = 0

    def add(self, batch: Any) -> Self:
        """Count the values of ``batch`` by category."""
        values = as_1d(batch)
        missing = missing_mask(values)
        self.missing += int(np.count_nonzero(missing))
        for key, count in _value_counts(values[~missing]):
            self._bump(key, count)
        return self._prune()

    def merge(self, other: Self) -> Self:
        """Add the other side's counts, then apply the cap."""
        self._check_mergeable(other)
        for key, count in other.counts.items():
            self._bump(key, count)
        self.other += other.other
        self.missing += other.missing
        return self._prune()

    def add_counts(self, counts: dict[str, int]) -> Self:
        """Add counts already tallied elsewhere (for example by a SQL ``GROUP BY``)."""
        for key, count in counts.items():
            self._bump(str(key), int(count))
        return self._prune()

    def _bump(self, key: str, count: int) -> None:
        self.counts[key] = self.counts.get(key, 0) + count

    def _prune(self) -> Self:
        if len(self.counts) > self.max_categories:
            ranked = self._ranked()
            self.counts = dict(ranked[: self.max_categories])
            self.other += sum(count for _, count in ranked[self.max_categories :])
        return self

    def _ranked(self) -> list[tuple[str, int]]:
        return sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))

    @property
    def total(self) -> int:
        """Number of non-missing values seen."""
        return sum(self.counts.values()) + self.other

    def result(self) -> dict[str, Any]:
        """``{"counts": {value: n} by count desc, "other", "missing", "total", "distinct"}``.

        ``distinct`` is the number of categories kept by name: a lower bound if ``other > 0``.
        """
        return {
            "counts": dict(self._ranked()),
            "other": self.other,
            "missing": self.missing,
            "total": self.total,
            "distinct": len(self.counts),
        }


def _value_counts(values: np.ndarray) -> list[tuple[str, int]]:
    """Count each value (vectorized), keyed by its string form."""
    if values.dtype.kind == "O":
        try:
            counts = pd.Series(values, dtype=object).value_counts(sort=False)
        except TypeError:  # unhashable values such as lists: count their string forms
            counts = pd.Series(_string_forms(values)).value_counts(sort=False)
    else:
        counts = pd.Series(values).value_counts(sort=False)
    return [(str(key), int(n)) for key, n in zip(counts.index, counts.to_numpy(), strict=True)]


# -- sketches ---------------------------------------------------------------------------------


class Quantiles(Aggregator):
    """Approximate quantiles, CDF and histograms from a KLL sketch (``kll_doubles_sketch``).

    The sketch keeps about ``k`` values per level, so memory is a few kilobytes whatever the
    stream length. Ranks are off by at most :attr:`rank_error` (as a fraction of ``n``) with 99%
    confidence; with ``k=200`` that is about 1.3%. The sketch is randomized, so two runs over the
    same data may differ slightly within that bound. NaNs are ignored.

    Parameters
    ----------
    k : int, default 200
        Sketch size: larger is more accurate and uses more memory.
    """

    def __init__(self, k: int = 200) -> None:
        self.sketch = datasketches.kll_doubles_sketch(k)

    def __getstate__(self) -> dict[str, Any]:
        return {"sketch": self.sketch.serialize()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.sketch = datasketches.kll_doubles_sketch.deserialize(state["sketch"])

    @property
    def n(self) -> int:
        """Number of values summarised."""
        return int(self.sketch.n)

    @property
    def rank_error(self) -> float:
        """Normalized rank error of single-sided queries (quantile, CDF), 99% confidence."""
        return float(self.sketch.normalized_rank_error(False))

    @property
    def pmf_rank_error(self) -> float:
        """Normalized rank error of each bin's share in :meth:`histogram`, 99% confidence."""
        return float(self.sketch.normalized_rank_error(True))

    def add(self, batch: Any) -> Self:
        """Fold in the non-missing values of ``batch`` (one vectorized sketch update)."""
        values = _present_values(batch)
        if values.size:
            self.sketch.update(np.ascontiguousarray(values))
        return self

    def merge(self, other: Self) -> Self:
        """Merge the other sketch into this one."""
        self._check_mergeable(other)
        self.sketch.merge(other.sketch)
        return self

    def quantiles(self, levels: Sequence[float] = QUANTILE_LEVELS) -> list[float | None]:
        """Approximate values at the given levels in [0, 1]; Nones when empty."""
        if self.sketch.is_empty():
            return [None] * len(levels)
        return [float(v) for v in self.sketch.get_quantiles(list(levels))]

    def cdf(self, points: Sequence[float] | np.ndarray) -> list[float]:
        """Approximate fraction of values ``<= p`` for each point (any order, repeats allowed).

        Parameters
        ----------
        points : sequence of float
            Where to evaluate the CDF.

        Returns
        -------
        list of float
            One fraction in [0, 1] per point; zeros when the sketch is empty.
        """
        points = np.asarray(points, dtype=np.float64)
        if self.sketch.is_empty() or points.size == 0:
            return [0.0] * points.size
        unique, inverse = np.unique(points, return_inverse=True)
        ranks = np.asarray(self.sketch.get_cdf(unique.tolist(), inclusive=True)[:-1])
        return ranks[inverse].tolist()

    def histogram(self, edges: Sequence[float] | np.ndarray) -> list[int]:
        """Approximate counts per bin, binned as :func:`numpy.histogram` (last bin closed).

        Derived from the sketch's ranks times ``n``, rounded so the counts are consistent
        (cumulative counts are rounded, then differenced). Each bin's count is within
        ``pmf_rank_error * n`` of the truth with 99% confidence.

        Parameters
        ----------
        edges : sequence of float
            At least two finite, strictly increasing bin edges.

        Returns
        -------
        list of int
            ``len(edges) - 1`` counts.
        """
        edges = _check_edges(edges)
        if self.sketch.is_empty():
            return [0] * (edges.size - 1)
        below = self.sketch.get_cdf(edges[:-1].tolist())[:-1]
        upto_last = self.sketch.get_cdf([float(edges[-1])], inclusive=True)[0]
        cumulative = np.rint(np.append(below, upto_last) * self.n).astype(np.int64)
        return np.diff(cumulative).tolist()

    def result(self) -> dict[str, Any]:
        """``{"n", "quantiles": {"p01": ..., "p99": ...}, "rank_error"}``."""
        values = self.quantiles(QUANTILE_LEVELS)
        return {
            "n": self.n,
            "quantiles": {quantile_key(q): v for q, v in zip(QUANTILE_LEVELS, values, strict=True)},
            "rank_error": self.rank_error,
        }


def quantile_key(level: float) -> str:
    """Name a quantile level: 0.05 -> ``"p05"``, 0.5 -> ``"p50"``."""
    return f"p{round(level * 100):02d}"


class Distinct(Aggregator):
    """Approximate number of distinct values, from a HyperLogLog sketch (``hll_sketch``).

    Works on numbers (all numeric types hash as float, so ``1`` and ``1.0`` are one value),
    strings and other values (hashed by their string form). Missing values are not counted.
    With ``lg_k=12`` the relative standard error is about 1.6%; :meth:`result` gives bounds at
    two standard deviations. Exact for small counts.

    Parameters
    ----------
    lg_k : int, default 12
        Log2 of the number of sketch buckets (7 to 21).
    """

    def __init__(self, lg_k: int = 12) -> None:
        self.lg_k = lg_k
        self.sketch = datasketches.hll_sketch(lg_k)

    def __getstate__(self) -> dict[str, Any]:
        return {"lg_k": self.lg_k, "sketch": self.sketch.serialize_compact()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.lg_k = state["lg_k"]
        self.sketch = datasketches.hll_sketch.deserialize(state["sketch"])

    def add(self, batch: Any) -> Self:
        """Fold in the distinct non-missing values of ``batch`` (deduplicated first)."""
        update = self.sketch.update
        for value in _hashable_uniques(as_1d(batch)):
            update(value)
        return self

    def merge(self, other: Self) -> Self:
        """Union the two sketches."""
        self._check_mergeable(other)
        union = datasketches.hll_union(max(self.lg_k, other.lg_k))
        union.update(self.sketch)
        union.update(other.sketch)
        self.sketch = union.get_result(datasketches.tgt_hll_type.HLL_8)
        self.lg_k = self.sketch.lg_config_k
        return self

    @property
    def estimate(self) -> int:
        """Estimated number of distinct values."""
        return round(self.sketch.get_estimate())

    def result(self) -> dict[str, Any]:
        """``{"estimate": int, "lower_bound": int, "upper_bound": int}`` (bounds at 2 std)."""
        return {
            "estimate": self.estimate,
            "lower_bound": math.floor(self.sketch.get_lower_bound(2)),
            "upper_bound": math.ceil(self.sketch.get_upper_bound(2)),
        }


_EMPTY_STRING = "\x00(empty string)"


def _hashable_uniques(values: np.ndarray) -> list[float | str]:
    """The unique non-missing values as Python floats or strings, ready for the HLL sketch."""
    if values.dtype.kind in "biuf":
        floats = values.astype(np.float64, copy=False)
        return pd.unique(floats[~np.isnan(floats)] + 0.0).tolist()  # + 0.0 folds -0.0 into 0.0
    if values.dtype.kind in "US":
        return [_hash_key(v) for v in pd.unique(values.astype(str))]
    values = values[~missing_mask(values)]
    try:
        uniques = pd.unique(values)
    except TypeError:  # unhashable values such as lists: dedupe after keying each value
        uniques = values
    return list(dict.fromkeys(_hash_key(v) for v in uniques))


def _string_forms(values: np.ndarray) -> np.ndarray:
    """``str(v)`` for each value, as an object array (numpy's ``astype(str)`` rejects lists)."""
    out = np.empty(values.size, dtype=object)
    out[:] = [str(value) for value in values]
    return out


def _hash_key(value: Any) -> float | str:
    if isinstance(value, str):
        return value or _EMPTY_STRING  # the HLL sketch ignores "", but it is a value

    if isinstance(value, (int, float, np.number)) and not isinstance(value, np.complexfloating):
        return float(value) + 0.0
    return str(value)


# -- the per-feature composite ----------------------------------------------------------------


class NumericSummary(Aggregator):
    """Everything reported per numeric feature: Count, Moments, MinMax, Quantiles and Distinct.

    Parameters
    ----------
    k : int, default 200
        Size of the KLL quantile sketch.
    lg_k : int, default 12
        Log2 size of the HyperLogLog distinct-count sketch.
    """

    def __init__(self, k: int = 200, lg_k: int = 12) -> None:
        self.count = Count()
        self.moments = Moments()
        self.minmax = MinMax()
        self.quantiles = Quantiles(k)
        self.distinct = Distinct(lg_k)

    def _parts(self) -> tuple[Aggregator, ...]:
        return (self.count, self.moments, self.minmax, self.quantiles, self.distinct)

    def add(self, batch: Any) -> Self:
        """Fold one numeric batch into every part (converted to float64 once)."""
        values = as_float(batch)
        self.count.add(values)
        present = values[~np.isnan(values)]
        for part in (self.moments, self.minmax, self.quantiles, self.distinct):
            part.add(present)
        return self

    def merge(self, other: Self) -> Self:
        """Merge every part with the other side's."""
        self._check_mergeable(other)
        for mine, theirs in zip(self._parts(), other._parts(), strict=True):
            mine.merge(theirs)
        return self

    def histogram(self, bins: int = SUMMARY_HISTOGRAM_BINS) -> dict[str, list[Any]]:
        """Approximate equal-width histogram between min and max, from the quantile sketch.

        Counts are derived from the KLL sketch, so each is within ``pmf_rank_error * n`` of the
        exact count (99% confidence). A constant feature gives one bin ``[v, v]``.
        """
        low, high = self.minmax.min, self.minmax.max
        if low is None or high is None:
            return {"edges": [], "counts": []}
        if low == high:
            return {"edges": [low, high], "counts": [self.quantiles.n]}
        edges = np.linspace(low, high, bins + 1)
        return {"edges": edges.tolist(), "counts": self.quantiles.histogram(edges)}

    def result(self) -> dict[str, Any]:
        """One flat dict for the feature.

        Keys: ``count`` (values seen, missing included), ``missing``, ``mean``, ``std``
        (``ddof=1``), ``var`` (``ddof=0``), ``sum``, ``min``, ``max``, ``p01`` ... ``p99``
        (approximate), ``quantile_rank_error``, ``distinct`` with ``distinct_lower`` and
        ``distinct_upper`` (approximate, 2 std), and ``histogram``: ``{"edges", "counts"}``,
        20 equal-width bins between min and max whose counts are *approximate* (from the
        quantile sketch).
        """
        moments = self.moments.result()
        distinct = self.distinct.result()
        levels = QUANTILE_LEVELS
        values = self.quantiles.quantiles(levels)
        return {
            **self.count.result(),
            "mean": moments["mean"],
            "std": moments["std"],
            "var": moments["var"],
            "sum": moments["sum"],
            **self.minmax.result(),
            **{quantile_key(q): v for q, v in zip(levels, values, strict=True)},
            "quantile_rank_error": self.quantiles.rank_error,
            # The sketch's estimate may overshoot slightly; there can't be more than n values.
            "distinct": min(distinct["estimate"], self.quantiles.n),
            "distinct_lower": distinct["lower_bound"],
            "distinct_upper": distinct["upper_bound"],
            "histogram": self.histogram(),
        }


class DuplicateGroups(Aggregator):
    """Exact duplicates: which items share a content hash.

    Keeps the item id and the first 64 bits of the content hash of every item (16 bytes per
    item, so 16 MB per million), because finding all duplicate groups exactly needs to see
    every hash; merging concatenates. A 64-bit prefix collides by chance with probability
    about n**2 / 2**65 (3e-8 at a million items). ``add`` takes ``(ids, hex_hashes)``.
    """

    def __init__(self) -> None:
        self._ids: list[np.ndarray] = []
        self._prefixes: list[np.ndarray] = []

    def add(self, batch: Any) -> Self:
        """Add a batch given as ``(ids, hex content hashes)``."""
        ids, hashes = batch
        if len(ids) == 0:
            return self
        self._ids.append(np.asarray(ids, dtype=np.int64))
        prefix = bytes.fromhex("".join(h[:16] for h in hashes))
        self._prefixes.append(np.frombuffer(prefix, dtype=">u8").astype(np.uint64))
        return self

    def merge(self, other: Self) -> Self:
        """Take the other side's ids and hashes."""
        self._check_mergeable(other)
        self._ids += other._ids
        self._prefixes += other._prefixes
        return self

    def groups(self) -> list[np.ndarray]:
        """Item ids of each duplicate group, biggest group first (ties: smallest id first)."""
        if not self._ids:
            return []
        ids, prefixes = np.concatenate(self._ids), np.concatenate(self._prefixes)
        order = np.lexsort((ids, prefixes))
        ids, prefixes = ids[order], prefixes[order]
        starts = np.flatnonzero(np.r_[True, prefixes[1:] != prefixes[:-1]])
        sizes = np.diff(np.r_[starts, len(prefixes)])
        found = [ids[s : s + n] for s, n in zip(starts, sizes, strict=True) if n > 1]
        return sorted(found, key=lambda g: (-len(g), int(g[0])))

    def result(self) -> dict[str, Any]:
        """``{"n_groups", "n_items"}``: how many groups, and how many items are in them."""
        groups = self.groups()
        return {"n_groups": len(groups), "n_items": int(sum(len(g) for g in groups))}
