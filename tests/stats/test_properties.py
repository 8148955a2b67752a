"""Hypothesis properties: merge is associative and commutative and matches one pass."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.stats import (
    Aggregator,
    Categories,
    Count,
    Distinct,
    Histogram,
    MinMax,
    Moments,
    Quantiles,
)

A = TypeVar("A", bound=Aggregator)
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)

values = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(math.nan))
chunks = st.lists(st.lists(values, max_size=30), min_size=3, max_size=3)
labels = st.lists(st.lists(st.sampled_from(["a", "b", "c", "d", None]), max_size=30), min_size=3)

EXACT: dict[str, Callable[[], Aggregator]] = {
    "Count": Count,
    "MinMax": MinMax,
    "Histogram": lambda: Histogram([-1e5, -10.0, 0.0, 10.0, 1e5]),
}


def build(factory: Callable[[], A], batches: list[list[Any]]) -> list[A]:
    return [factory().add(batch) for batch in batches]


def one_pass(factory: Callable[[], A], batches: list[list[Any]]) -> A:
    return factory().add([value for batch in batches for value in batch])


def orders(factory: Callable[[], A], batches: list[Any]) -> list[A]:
    """The same three batches merged as (a+b)+c, a+(b+c), (c+b)+a and in one pass."""
    a, b, c = build(factory, batches)
    left = a.merge(b).merge(c)
    a, b, c = build(factory, batches)
    right = a.merge(b.merge(c))
    a, b, c = build(factory, batches)
    reversed_ = c.merge(b).merge(a)
    return [left, right, reversed_, one_pass(factory, batches)]


@PROPERTY_SETTINGS
@given(batches=chunks)
def test_exact_aggregators_merge_in_any_order(batches: list[list[float]]) -> None:
    for factory in EXACT.values():
        results = [aggregator.result() for aggregator in orders(factory, batches)]
        assert all(result == results[0] for result in results)


@PROPERTY_SETTINGS
@given(batches=labels)
def test_categories_merge_in_any_order(batches: list[list[str | None]]) -> None:
    batches = batches[:3]
    results = [aggregator.result() for aggregator in orders(Categories, batches)]
    assert all(result == results[0] for result in results)
    flat = [value for batch in batches for value in batch if value is not None]
    assert results[0]["total"] == len(flat)


@PROPERTY_SETTINGS
@given(batches=chunks)
def test_moments_merge_in_any_order_to_1e_9(batches: list[list[float]]) -> None:
    results = [aggregator.result() for aggregator in orders(Moments, batches)]
    present = np.array([v for batch in batches for v in batch if not math.isnan(v)])
    assert all(result["count"] == present.size for result in results)
    if present.size == 0:
        return
    scale = float(np.max(np.abs(present))) + 1.0
    for result in results:
        assert math.isclose(result["mean"], np.mean(present), rel_tol=1e-9, abs_tol=1e-9 * scale)
        assert math.isclose(result["var"], np.var(present), rel_tol=1e-9, abs_tol=1e-9 * scale**2)
        assert result["var"] >= 0.0


@PROPERTY_SETTINGS
@given(batches=chunks)
def test_quantiles_exact_below_sketch_size_in_any_order(batches: list[list[float]]) -> None:
    """Under k=200 values the KLL sketch keeps everything, so merges are exact."""
    levels = [0.0, 0.1, 0.5, 0.9, 1.0]
    results = [q.quantiles(levels) for q in orders(Quantiles, batches)]
    assert all(result == results[0] for result in results)
    present = np.sort([v for batch in batches for v in batch if not math.isnan(v)])
    if present.size:
        assert results[0][0] == present[0]
        assert results[0][-1] == present[-1]


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1), sizes=st.lists(st.integers(1, 20_000), min_size=3, max_size=3)
)
def test_quantiles_merge_within_rank_error(seed: int, sizes: list[int]) -> None:
    rng = np.random.default_rng(seed)
    batches = [rng.normal(rng.uniform(-5, 5), 1.0, size) for size in sizes]
    ordered = np.sort(np.concatenate(batches))
    levels = [0.05, 0.5, 0.95]
    for sketch in orders(Quantiles, batches):
        tolerance = 2 * sketch.rank_error
        estimates = np.asarray(sketch.quantiles(levels), dtype=np.float64)
        for level, value in zip(levels, estimates, strict=True):
            # The value's exact rank is anywhere from "fraction below" to "fraction at or below".
            below = np.searchsorted(ordered, value, side="left") / ordered.size
            upto = np.searchsorted(ordered, value, side="right") / ordered.size
            assert below - tolerance <= level <= upto + tolerance


@PROPERTY_SETTINGS
@given(
    batches=st.lists(
        st.lists(st.one_of(st.integers(-500, 500), st.text(max_size=3)), max_size=80),
        min_size=3,
        max_size=3,
    )
)
def test_distinct_merge_in_any_order_within_bounds(batches: list[list[int | str]]) -> None:
    truth = len({float(v) if isinstance(v, int) else v for batch in batches for v in batch})
    for distinct in orders(Distinct, batches):
        result = distinct.result()
        assert result["lower_bound"] <= truth <= result["upper_bound"]
        assert abs(result["estimate"] - truth) <= max(1, 0.02 * truth)
