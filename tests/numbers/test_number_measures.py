"""Number agreement, consensus, disagreements and statistics as computations (no store)."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest

from assay.labels.kinds import get_kind
from assay.labels.number_agreement import (
    NumberTable,
    combine_numbers,
    icc21,
    number_agreement,
    number_disagreements,
    tolerance_of,
)
from assay.stats.numbers import NumberStats


def _table(values: dict[str, dict[int, float]], options: dict | None = None) -> NumberTable:
    items = sorted({i for v in values.values() for i in v})
    return NumberTable("number", items, list(values), values, options or {})


def test_alpha_matches_krippendorff_and_pairs_give_mean_abs_difference() -> None:
    rng = np.random.default_rng(1)
    truth = rng.uniform(0, 10, 30)
    a = {i: float(v) for i, v in enumerate(truth)}
    b = {i: float(v + rng.normal(0, 0.5)) for i, v in enumerate(truth) if i != 3}
    c = {i: float(v + 2.0) for i, v in enumerate(truth)}
    report = number_agreement(_table({"a": a, "b": b, "c": c})).to_dict()
    data = np.array([[d.get(i, np.nan) for i in range(30)] for d in (a, b, c)])
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="interval")
    assert report["krippendorff_alpha_interval"] == pytest.approx(expected)
    ac = next(p for p in report["pairs"] if (p["a"], p["b"]) == ("a", "c"))
    assert ac["mean_abs_difference"] == pytest.approx(2.0)
    assert ac["n_items"] == 30
    ab = next(p for p in report["pairs"] if (p["a"], p["b"]) == ("a", "b"))
    assert ab["n_items"] == 29 and ab["alpha"] > ac["alpha"]
    assert 0.5 < report["icc_2_1"] < 1.0


def test_icc_is_one_for_identical_raters_and_low_for_noise() -> None:
    x = np.arange(10, dtype=float)
    assert icc21(np.vstack([x, x])) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    assert icc21(rng.normal(size=(2, 50))) < 0.3


def test_consensus_median_resists_one_wild_value_and_scores_spread() -> None:
    table = _table(
        {"a": {1: 10.0, 2: 50.0}, "b": {1: 10.0, 2: 52.0}, "c": {1: 10.0, 2: 95.0}},
        {"a": {"min": 0, "max": 100}},
    )
    median = combine_numbers(table, "median")
    mean = combine_numbers(table, "mean")
    assert median.values[2] == 52.0 and mean.values[2] == pytest.approx(65.666, abs=1e-2)
    assert median.confidences[1] == 1.0 and median.confidences[2] < 1.0
    assert median.annotator_quality["c"] < median.annotator_quality["a"]
    writes = get_kind("number").consensus_writes(table, median)
    assert [(w.item_id, w.value) for w in writes] == [(1, 10.0), (2, 52.0)]
    with pytest.raises(Exception, match="trimmed-mean"):
        combine_numbers(table, "vote")


def test_disagreements_past_the_tolerance_only() -> None:
    # Range 0..100: tolerance 5 by default, 20 when the layer says so.
    values = {"a": {1: 10.0, 2: 40.0}, "b": {1: 13.0, 2: 60.0}}
    found = list(number_disagreements(_table(values, {"a": {"min": 0, "max": 100}})))
    assert [d.item_id for d in found] == [2]
    assert found[0].evidence["values"] == {"a": 40.0, "b": 60.0}
    assert found[0].evidence["value_kind"] == "number"
    wide = _table(values, {"a": {"min": 0, "max": 100, "tolerance": 25}})
    assert tolerance_of(wide) == 25 and not list(number_disagreements(wide))


def test_histogram_merged_by_partitions_equals_one_pass() -> None:
    rng = np.random.default_rng(3)
    values = rng.gamma(2.0, 10.0, 1000)
    whole = NumberStats(0.0, 200.0).add_values(values, n_missing=7).result()
    parts = [NumberStats(0.0, 200.0).add_values(chunk) for chunk in np.array_split(values, 7)]
    merged = parts[0]
    for p in parts[1:]:
        merged.merge(p)
    merged.add_values(np.zeros(0), n_missing=7)
    got = merged.result()
    assert got["histogram"] == whole["histogram"] and got["quantiles"] == whole["quantiles"]
    assert got["mean"] == pytest.approx(values.mean()) and got["std"] == pytest.approx(values.std())
    assert got["n_not_annotated"] == 7
    assert abs(got["quantiles"]["0.5"] - np.median(values)) <= 200.0 / 40
