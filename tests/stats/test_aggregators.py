"""Each aggregator against numpy or exact counts, on one batch and merged over many."""

from __future__ import annotations

import json
import math
import pickle
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd
import pytest

from assay.errors import InvalidParameter
from assay.stats import (
    Aggregator,
    Categories,
    Count,
    Distinct,
    Histogram,
    MinMax,
    Moments,
    NumericSummary,
    Quantiles,
)
from assay.stats.aggregators import QUANTILE_LEVELS, quantile_key

CHUNK = 50_000
A = TypeVar("A", bound=Aggregator)


@pytest.fixture(scope="module")
def large_mean() -> np.ndarray:
    """1,000,000 values with mean 1e9 and standard deviation 1."""
    return np.random.default_rng(7).normal(1e9, 1.0, 1_000_000)


def merged(factory: Callable[[], A], values: np.ndarray, chunk: int) -> A:
    """One aggregator per chunk, merged left to right."""
    parts = [factory().add(values[i : i + chunk]) for i in range(0, values.size, chunk)]
    total = parts[0]
    for part in parts[1:]:
        total.merge(part)
    return total


def exact_rank(sorted_values: np.ndarray, value: float) -> float:
    """Fraction of values <= ``value``."""
    return np.searchsorted(sorted_values, value, side="right") / sorted_values.size


# -- Count ----------------------------------------------------------------------------------


def test_count_numeric_with_nan() -> None:
    result = Count().add(np.array([1.0, np.nan, 3.0])).add([np.nan]).result()
    assert result == {"count": 4, "missing": 2}


def test_count_objects_treats_none_and_nan_as_missing() -> None:
    values = np.array(["a", None, float("nan"), "b", pd.NA], dtype=object)
    assert Count().add(values).result() == {"count": 5, "missing": 3}


def test_count_strings_and_ints_have_no_missing() -> None:
    count = Count().add(np.array(["x", "y"])).merge(Count().add(np.arange(5)))
    assert count.result() == {"count": 7, "missing": 0}


def test_count_rejects_two_dimensional_batch() -> None:
    with pytest.raises(InvalidParameter, match="1-D"):
        Count().add(np.zeros((2, 3)))


# -- Moments --------------------------------------------------------------------------------


def test_moments_match_numpy() -> None:
    values = np.random.default_rng(0).exponential(3.0, 10_001)
    result = merged(Moments, values, 999).result()
    assert result["count"] == values.size
    assert result["mean"] == pytest.approx(np.mean(values), rel=1e-12)
    assert result["var"] == pytest.approx(np.var(values), rel=1e-12)
    assert result["var_ddof1"] == pytest.approx(np.var(values, ddof=1), rel=1e-12)
    assert result["std"] == pytest.approx(np.std(values, ddof=1), rel=1e-12)
    assert result["sum"] == pytest.approx(np.sum(values), rel=1e-12)


def test_moments_ignore_nan_and_none() -> None:
    result = Moments().add([1.0, None, 3.0, float("nan")]).result()
    assert result["count"] == 2
    assert result["mean"] == 2.0
    assert result["var"] == 1.0


def test_moments_undefined_values_are_none() -> None:
    assert Moments().result()["mean"] is None
    one = Moments().add([5.0]).result()
    assert (one["mean"], one["var"], one["var_ddof1"], one["std"]) == (5.0, 0.0, None, None)


def test_moments_merge_with_empty_is_identity() -> None:
    moments = Moments().add([1.0, 2.0, 4.0])
    before = moments.result()
    assert moments.merge(Moments()).result() == before
    assert Moments().merge(moments).result() == before


def test_moments_reject_text() -> None:
    with pytest.raises(InvalidParameter, match="Expected numeric values"):
        Moments().add(["a", "b"])


def test_moments_large_mean_merged_equals_single_pass_and_numpy(large_mean: np.ndarray) -> None:
    single = Moments().add(large_mean).result()
    chunked = merged(Moments, large_mean, CHUNK).result()
    added = Moments()
    for start in range(0, large_mean.size, CHUNK):
        added.add(large_mean[start : start + CHUNK])
    for result in (chunked, added.result()):
        assert result["mean"] == pytest.approx(single["mean"], rel=1e-9)
        assert result["var"] == pytest.approx(single["var"], rel=1e-9)
        assert result["mean"] == pytest.approx(np.mean(large_mean), rel=1e-9)
        assert result["var"] == pytest.approx(np.var(large_mean), rel=1e-9)
        assert result["var_ddof1"] == pytest.approx(np.var(large_mean, ddof=1), rel=1e-9)
    assert chunked["var"] == pytest.approx(1.0, rel=0.01)


def test_naive_sum_of_squares_fails_on_the_same_data(large_mean: np.ndarray) -> None:
    """The formula Moments avoids: E[x^2] - E[x]^2 cancels catastrophically at mean 1e9."""
    n, total, total_sq = 0, 0.0, 0.0
    for start in range(0, large_mean.size, CHUNK):
        chunk = large_mean[start : start + CHUNK]
        n, total, total_sq = n + chunk.size, total + chunk.sum(), total_sq + np.sum(chunk**2)
    naive_var = total_sq / n - (total / n) ** 2
    true_var = np.var(large_mean)
    assert abs(naive_var - true_var) / true_var > 1.0  # not one correct digit
    welford_var = merged(Moments, large_mean, CHUNK).result()["var"]
    assert abs(welford_var - true_var) / true_var < 1e-9


# -- MinMax ---------------------------------------------------------------------------------


def test_minmax_matches_numpy_and_ignores_nan() -> None:
    values = np.random.default_rng(1).normal(size=1000)
    values[::7] = np.nan
    result = merged(MinMax, values, 100).result()
    assert result == {"min": np.nanmin(values), "max": np.nanmax(values)}


def test_minmax_empty_and_all_nan_are_none() -> None:
    assert MinMax().result() == {"min": None, "max": None}
    assert MinMax().add([np.nan, np.nan]).result() == {"min": None, "max": None}
    assert MinMax().merge(MinMax().add([2.0])).result() == {"min": 2.0, "max": 2.0}


# -- Histogram ------------------------------------------------------------------------------


def test_histogram_matches_numpy_with_last_bin_closed() -> None:
    values = np.random.default_rng(2).uniform(-1, 11, 5000)
    values = np.concatenate([values, [0.0, 10.0, np.nan]])  # both outer edges, one NaN
    edges = np.linspace(0, 10, 11)
    result = merged(lambda: Histogram(edges), values, 700).result()
    assert result["counts"] == np.histogram(values[~np.isnan(values)], bins=edges)[0].tolist()
    assert result["below"] == int(np.sum(values < 0))
    assert result["above"] == int(np.sum(values > 10))
    assert result["missing"] == 1
    assert result["edges"] == edges.tolist()


def test_histogram_merge_requires_equal_edges() -> None:
    with pytest.raises(ValueError, match="different bin edges"):
        Histogram([0, 1, 2]).merge(Histogram([0, 1, 3]))


@pytest.mark.parametrize("edges", [[1.0], [0.0, 0.0, 1.0], [2.0, 1.0], [0.0, np.inf]])
def test_histogram_rejects_bad_edges(edges: list[float]) -> None:
    with pytest.raises(InvalidParameter, match="edges"):
        Histogram(edges)


# -- Categories -----------------------------------------------------------------------------


def test_categories_exact_counts_sorted_by_count() -> None:
    labels = np.random.default_rng(3).choice(["cat", "dog", "bird"], size=3000, p=[0.5, 0.3, 0.2])
    result = merged(Categories, labels, 400).result()
    expected = Counter(labels.tolist())
    assert result["counts"] == dict(expected)
    assert list(result["counts"].values()) == sorted(expected.values(), reverse=True)
    assert (result["total"], result["other"], result["missing"]) == (3000, 0, 0)


def test_categories_tuples_numbers_and_missing() -> None:
    sizes = [(28, 28), (28, 28), (32, 32), None]
    result = Categories().add(sizes).merge(Categories().add(np.array([3, 3, 4]))).result()
    assert result["counts"] == {"(28, 28)": 2, "3": 2, "(32, 32)": 1, "4": 1}
    assert result["missing"] == 1


def test_categories_cap_folds_rarest_into_other() -> None:
    values = ["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d"] * 2 + ["e"]
    categories = (
        Categories(max_categories=2)
        .add(values[:7])
        .merge(Categories(max_categories=2).add(values[7:]))
    )
    result = categories.result()
    assert result["counts"] == {"a": 5, "b": 4}
    assert result["other"] == 6
    assert result["total"] == len(values)


def test_categories_rejects_bad_cap() -> None:
    with pytest.raises(InvalidParameter, match="max_categories"):
        Categories(max_categories=0)


# -- Quantiles ------------------------------------------------------------------------------


def test_quantiles_within_rank_error() -> None:
    values = np.random.default_rng(4).lognormal(size=200_000)
    quantiles = merged(Quantiles, values, CHUNK)
    result = quantiles.result()
    ordered = np.sort(values)
    # The stated error is the 99th percentile of the worst error; twice it keeps the test stable.
    tolerance = 2 * result["rank_error"]
    assert result["n"] == values.size
    for level in QUANTILE_LEVELS:
        value = result["quantiles"][quantile_key(level)]
        assert abs(exact_rank(ordered, value) - level) <= tolerance


def test_quantiles_cdf_and_histogram_within_error() -> None:
    values = np.random.default_rng(5).normal(size=100_000)
    quantiles = merged(Quantiles, values, 10_000)
    points = [1.0, -1.0, 0.0, 1.0]
    ordered = np.sort(values)
    for point, rank in zip(points, quantiles.cdf(points), strict=True):
        assert abs(rank - exact_rank(ordered, point)) <= 2 * quantiles.rank_error
    edges = np.linspace(-3, 3, 13)
    approximate = np.array(quantiles.histogram(edges))
    exact = np.histogram(values, bins=edges)[0]
    assert np.all(np.abs(approximate - exact) <= 2 * quantiles.pmf_rank_error * values.size)


def test_quantiles_exact_on_small_data() -> None:
    values = np.array([5.0, 1.0, 3.0, 3.0, 9.0, np.nan])
    quantiles = Quantiles().add(values)
    assert quantiles.n == 5
    assert quantiles.histogram([1, 3, 9]) == np.histogram(values[:5], bins=[1, 3, 9])[0].tolist()
    assert quantiles.cdf([3.0, 0.0]) == [0.6, 0.0]
    assert quantiles.quantiles([0.0, 0.5, 1.0]) == [1.0, 3.0, 9.0]


def test_quantiles_empty() -> None:
    empty = Quantiles()
    assert empty.result()["quantiles"]["p50"] is None
    assert empty.histogram([0, 1, 2]) == [0, 0]
    assert empty.cdf([0.5]) == [0.0]


# -- Distinct -------------------------------------------------------------------------------


def test_distinct_numbers_within_bounds() -> None:
    values = np.random.default_rng(6).integers(0, 50_000, size=300_000)
    truth = np.unique(values).size
    result = merged(Distinct, values, CHUNK).result()
    assert result["lower_bound"] <= truth <= result["upper_bound"]
    assert result["estimate"] == pytest.approx(truth, rel=0.05)


def test_distinct_strings_and_small_counts_are_exact() -> None:
    distinct = Distinct().add(["a", "b", None, "a"]).merge(Distinct().add(np.array(["b", "c"])))
    assert distinct.result()["estimate"] == 3


def test_distinct_ints_and_floats_hash_alike() -> None:
    distinct = Distinct().add(np.array([1, 2, 3])).add(np.array([1.0, 2.0, -0.0, np.nan]))
    assert distinct.result()["estimate"] == 4


# -- NumericSummary -------------------------------------------------------------------------


def test_numeric_summary_matches_numpy() -> None:
    values = np.random.default_rng(8).normal(10, 2, 100_000)
    values[:100] = np.nan
    result = merged(NumericSummary, values, 20_000).result()
    present = values[~np.isnan(values)]
    assert (result["count"], result["missing"]) == (100_000, 100)
    assert result["mean"] == pytest.approx(present.mean(), rel=1e-12)
    assert result["std"] == pytest.approx(present.std(ddof=1), rel=1e-12)
    assert result["var"] == pytest.approx(present.var(), rel=1e-12)
    assert (result["min"], result["max"]) == (present.min(), present.max())
    assert result["p50"] == pytest.approx(np.median(present), abs=0.1)
    assert result["distinct_lower"] <= present.size <= result["distinct_upper"]
    histogram = result["histogram"]
    assert len(histogram["edges"]) == 21
    assert (histogram["edges"][0], histogram["edges"][-1]) == (present.min(), present.max())
    assert sum(histogram["counts"]) == present.size
    json.dumps(result)  # plain Python values only


def test_numeric_summary_constant_and_empty() -> None:
    constant = NumericSummary().add([4.0, 4.0, None]).result()
    assert constant["histogram"] == {"edges": [4.0, 4.0], "counts": [2]}
    assert constant["distinct"] == 1
    empty = NumericSummary().add([None, None]).result()
    assert (empty["count"], empty["missing"], empty["mean"]) == (2, 2, None)
    assert empty["histogram"] == {"edges": [], "counts": []}


# -- protocol -------------------------------------------------------------------------------

FACTORIES: dict[str, Callable[[], Aggregator]] = {
    "Count": Count,
    "Moments": Moments,
    "MinMax": MinMax,
    "Histogram": lambda: Histogram(np.linspace(-3, 3, 7)),
    "Categories": Categories,
    "Quantiles": Quantiles,
    "Distinct": Distinct,
    "NumericSummary": NumericSummary,
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_pickle_round_trip(name: str) -> None:
    values = np.round(np.random.default_rng(9).normal(size=5000), 2)
    aggregator = FACTORIES[name]().add(values)
    before = aggregator.result()
    restored = pickle.loads(pickle.dumps(aggregator))
    assert type(restored) is type(aggregator)
    assert restored.result() == before
    # The copy still works and is independent of the original.
    restored.add(values + 100).merge(pickle.loads(pickle.dumps(aggregator)))
    assert restored.result() != before
    assert aggregator.result() == before


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_results_are_json_and_merge_returns_self(name: str) -> None:
    aggregator = FACTORIES[name]().add(np.array([0.5, 1.5, np.nan]))
    assert aggregator.merge(FACTORIES[name]()) is aggregator
    json.dumps(aggregator.result())


def test_merge_rejects_other_kinds() -> None:
    with pytest.raises(TypeError, match="Cannot merge MinMax into Count"):
        Count().merge(MinMax())  # type: ignore[arg-type]


def test_moments_constant_data_has_tiny_nonnegative_variance() -> None:
    moments = merged(Moments, np.full(10_000, 1e9 + 0.1), 333)
    assert 0.0 <= moments.result()["var"] < 1e-12
    assert math.isclose(moments.result()["mean"], 1e9 + 0.1, rel_tol=1e-15)


def test_categories_add_counts_matches_add() -> None:
    from assay.stats.aggregators import Categories

    tallied = Categories().add_counts({"a": 3, "b": 1})
    one_by_one = Categories().add(np.array(["a", "b", "a", "a"], dtype=object))
    assert tallied.result() == one_by_one.result()
