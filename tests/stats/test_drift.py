"""Population stability index and total variation, on counts and on summaries."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.errors import InvalidParameter
from assay.stats import (
    Categories,
    NumericSummary,
    categorical_psi,
    population_stability_index,
    psi_from_summaries,
    total_variation,
)


def summary(values: np.ndarray, chunk: int = 25_000) -> NumericSummary:
    total = NumericSummary()
    for start in range(0, values.size, chunk):
        total.merge(NumericSummary().add(values[start : start + chunk]))
    return total


def test_psi_textbook_example() -> None:
    # expected shares 0.1, 0.2, 0.3, 0.4; actual 0.2, 0.2, 0.3, 0.3:
    #   (0.2 - 0.1) * ln(0.2 / 0.1) = 0.1 * 0.693147 = 0.0693147
    #   (0.3 - 0.4) * ln(0.3 / 0.4) = 0.1 * 0.287682 = 0.0287682
    #   the two middle bins are unchanged and give 0; total 0.0980829
    psi = population_stability_index([10, 20, 30, 40], [40, 40, 60, 60])
    assert psi == pytest.approx(0.0980829, abs=1e-7)


def test_psi_is_symmetric_and_zero_for_identical_counts() -> None:
    expected, actual = [5, 10, 85], [30, 30, 40]
    assert population_stability_index(expected, expected) == 0.0
    assert population_stability_index([1, 2, 3], [10, 20, 30]) == pytest.approx(0.0, abs=1e-15)
    forward = population_stability_index(expected, actual)
    assert forward == pytest.approx(population_stability_index(actual, expected))


def test_psi_smooths_empty_bins() -> None:
    psi = population_stability_index([50, 50, 0], [50, 40, 10], eps=1e-4)
    by_hand = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.1 - 1e-4) * math.log(0.1 / 1e-4)
    assert psi == pytest.approx(by_hand, rel=1e-12)
    assert population_stability_index([1, 0], [1, 0]) == 0.0


@pytest.mark.parametrize(
    ("expected", "actual", "message"),
    [
        ([1, 2], [1, 2, 3], "same bins"),
        ([0, 0], [1, 2], "sums to zero"),
        ([1, -1], [1, 2], ">= 0"),
        ([], [], "non-empty"),
    ],
)
def test_psi_rejects_bad_counts(expected: list[int], actual: list[int], message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        population_stability_index(expected, actual)


def test_total_variation_known_values() -> None:
    assert total_variation([50, 50], [40, 60]) == pytest.approx(0.1)
    assert total_variation([1, 0], [0, 1]) == 1.0
    assert total_variation([3, 1], [6, 2]) == 0.0


def test_psi_from_summaries_identical_distribution_is_near_zero() -> None:
    rng = np.random.default_rng(0)
    reference = summary(rng.normal(size=100_000))
    same = summary(rng.normal(size=100_000))
    assert psi_from_summaries(reference, same) < 0.01
    assert psi_from_summaries(reference, reference) == pytest.approx(0.0, abs=1e-12)


def test_psi_from_summaries_shifted_normal_is_large() -> None:
    rng = np.random.default_rng(1)
    reference = summary(rng.normal(size=100_000))
    slight = psi_from_summaries(reference, summary(rng.normal(0.1, 1.0, 100_000)))
    shifted = psi_from_summaries(reference, summary(rng.normal(1.0, 1.0, 100_000)))
    assert slight < 0.1
    assert shifted > 0.25
    # A one-sigma shift of a normal has PSI close to 1 with decile bins.
    assert shifted == pytest.approx(1.0, abs=0.25)


def test_psi_from_summaries_falls_back_to_equal_width_for_tied_quantiles() -> None:
    reference = NumericSummary().add(np.repeat([0.0, 1.0], 500))  # deciles tie at 0 and 1
    same = NumericSummary().add(np.repeat([0.0, 1.0], 50))
    moved = NumericSummary().add(np.repeat([0.0, 1.0], [100, 900]))
    assert psi_from_summaries(reference, same) < 0.01
    # With decile edges alone there would be one bin [0, 1] and a PSI of 0 whatever moved.
    assert psi_from_summaries(reference, moved) > 0.25


def test_psi_from_summaries_constant_features() -> None:
    four = NumericSummary().add([4.0] * 10)
    assert psi_from_summaries(four, NumericSummary().add([4.0] * 3)) == 0.0
    assert psi_from_summaries(four, NumericSummary().add([5.0] * 3)) > 0.25


def test_psi_from_summaries_rejects_empty_summary_and_bad_bins() -> None:
    full = NumericSummary().add([1.0, 2.0])
    with pytest.raises(InvalidParameter, match="no non-missing values"):
        psi_from_summaries(full, NumericSummary().add([None]))
    with pytest.raises(InvalidParameter, match="bins"):
        psi_from_summaries(full, full, bins=1)


def test_categorical_psi_class_balance() -> None:
    reference = Categories().add(["cat"] * 50 + ["dog"] * 50)
    assert categorical_psi(reference, Categories().add(["cat", "dog"])) == 0.0
    shifted = Categories().add(["cat"] * 40 + ["dog"] * 60)
    assert categorical_psi(reference, shifted) == pytest.approx(
        population_stability_index([50, 50], [40, 60])
    )


def test_categorical_psi_new_class_is_a_large_shift() -> None:
    reference = Categories().add(["cat"] * 50 + ["dog"] * 50)
    with_bird = Categories().add(["cat"] * 40 + ["dog"] * 40 + ["bird"] * 20)
    assert categorical_psi(reference, with_bird) > 0.25
    assert math.isfinite(categorical_psi(reference, with_bird))
