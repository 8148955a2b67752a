"""Distribution shift between two summaries: population stability index and total variation.

The population stability index (PSI) compares the share of values in each bin::

    PSI = sum_i (a_i - e_i) * ln(a_i / e_i)

where ``e_i`` and ``a_i`` are the expected (reference) and actual proportions in bin ``i``. It
is symmetric, zero for identical distributions and grows with the shift. The usual reading:

- PSI < 0.1: no significant shift;
- 0.1 <= PSI <= 0.25: a moderate shift, worth a look;
- PSI > 0.25: a large shift.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assay.errors import InvalidParameter
from assay.stats.aggregators import Categories, NumericSummary

ArrayLike = Sequence[float] | np.ndarray


def population_stability_index(
    expected_counts: ArrayLike, actual_counts: ArrayLike, eps: float = 1e-4
) -> float:
    """Population stability index between two histograms over the same bins.

    Parameters
    ----------
    expected_counts : sequence of float
        Counts per bin of the reference (expected) distribution.
    actual_counts : sequence of float
        Counts per bin of the distribution to compare, same bins.
    eps : float, default 1e-4
        Floor on each bin's proportion, so that empty bins give a large but finite term.

    Returns
    -------
    float
        ``sum((a - e) * ln(a / e))`` over bin proportions; 0 for identical distributions.
        Read < 0.1 as no shift, 0.1-0.25 as moderate, > 0.25 as large.

    Raises
    ------
    InvalidParameter
        If the inputs differ in length, hold negative counts or sum to zero.

    Examples
    --------
    >>> round(population_stability_index([50, 50], [40, 60]), 4)
    0.0405
    """
    expected = _proportions(expected_counts, "expected_counts")
    actual = _proportions(actual_counts, "actual_counts")
    _check_same_bins(expected, actual)
    if eps <= 0:
        raise InvalidParameter(f"The 'eps' parameter must be a float > 0. Got {eps!r} instead.")
    expected = np.maximum(expected, eps)
    actual = np.maximum(actual, eps)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def total_variation(a_counts: ArrayLike, b_counts: ArrayLike) -> float:
    """Total variation distance between two histograms over the same bins.

    Parameters
    ----------
    a_counts, b_counts : sequence of float
        Counts per bin.

    Returns
    -------
    float
        ``0.5 * sum(|p_a - p_b|)`` over bin proportions, in [0, 1]: the largest difference in
        probability the two distributions give to any set of bins.

    Examples
    --------
    >>> round(total_variation([50, 50], [40, 60]), 4)
    0.1
    """
    a = _proportions(a_counts, "a_counts")
    b = _proportions(b_counts, "b_counts")
    _check_same_bins(a, b)
    return float(0.5 * np.sum(np.abs(a - b)))


def psi_from_summaries(a: NumericSummary, b: NumericSummary, bins: int = 10) -> float:
    """PSI of feature ``b`` against reference ``a``, binned at the reference's quantiles.

    The inner edges are ``a``'s quantiles at ``1/bins, 2/bins, ...`` (deciles by default), the
    outer edges the smallest and largest value on either side. If ``a``'s quantiles tie (a
    heavy point mass), equal-width bins over both ranges are used instead. Counts on each side
    come from its quantile sketch, so the result is approximate.

    Parameters
    ----------
    a : NumericSummary
        The reference (expected) distribution.
    b : NumericSummary
        The distribution to compare (actual).
    bins : int, default 10
        Number of bins.

    Returns
    -------
    float
        The population stability index; see :func:`population_stability_index`.

    Raises
    ------
    InvalidParameter
        If either summary has no values, or ``bins`` < 2.
    """
    if not isinstance(bins, int) or bins < 2:
        raise InvalidParameter(f"The 'bins' parameter must be an int >= 2. Got {bins!r} instead.")
    edges = _common_edges(a, b, bins)
    if edges is None:  # both sides are the same single value
        return 0.0
    return population_stability_index(a.quantiles.histogram(edges), b.quantiles.histogram(edges))


def categorical_psi(a: Categories, b: Categories, eps: float = 1e-4) -> float:
    """PSI between two category counts (class balance of ``b`` against reference ``a``).

    Categories are matched by name; a category seen on one side only counts as empty on the
    other. Each side's ``other`` count (categories past its cap) is one more bin.

    Parameters
    ----------
    a : Categories
        The reference (expected) counts.
    b : Categories
        The counts to compare (actual).
    eps : float, default 1e-4
        Floor on each bin's proportion.

    Returns
    -------
    float
        The population stability index; see :func:`population_stability_index`.
    """
    keys = sorted(set(a.counts) | set(b.counts))
    expected = [a.counts.get(key, 0) for key in keys] + [a.other]
    actual = [b.counts.get(key, 0) for key in keys] + [b.other]
    return population_stability_index(expected, actual, eps=eps)


def _common_edges(a: NumericSummary, b: NumericSummary, bins: int) -> np.ndarray | None:
    """Bin edges spanning both ranges, inner edges at ``a``'s quantiles when they are distinct."""
    (low_a, high_a), (low_b, high_b) = _value_range(a, "a"), _value_range(b, "b")
    low, high = min(low_a, low_b), max(high_a, high_b)
    if low == high:
        return None
    levels = np.arange(1, bins) / bins
    inner = np.unique(a.quantiles.sketch.get_quantiles(levels.tolist()))
    inner = inner[(inner > low) & (inner < high)]
    if inner.size < bins - 1:
        return np.linspace(low, high, bins + 1)
    return np.concatenate([[low], inner, [high]])


def _value_range(summary: NumericSummary, name: str) -> tuple[float, float]:
    low, high = summary.minmax.min, summary.minmax.max
    if low is None or high is None:
        raise InvalidParameter(f"Cannot compute PSI: summary {name!r} has no non-missing values.")
    return low, high


def _proportions(counts: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(counts, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise InvalidParameter(f"{name!r} must be a non-empty 1-D list of counts.")
    if np.any(array < 0) or not np.all(np.isfinite(array)):
        raise InvalidParameter(f"{name!r} must hold finite counts >= 0, got {array.tolist()!r}.")
    total = array.sum()
    if total == 0:
        raise InvalidParameter(f"{name!r} sums to zero: there is nothing to compare.")
    return array / total


def _check_same_bins(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise InvalidParameter(
            f"Both histograms must have the same bins: got {a.size} and {b.size} counts."
        )
