"""The array-level label-quality functions: label issues, outliers, near-duplicates, CROWDLAB."""

from __future__ import annotations

import numpy as np
import pytest
from qualitykit import oof_knn_probs
from sklearn.datasets import load_digits

from assay.errors import InvalidParameter
from assay.labels.matrix import MISSING, LabelMatrix
from assay.quality import find_data_issues, find_label_issues
from assay.quality.issues import given_labels, nearest_neighbours


def _flip(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(y), round(fraction * len(y)), replace=False)
    noisy = y.copy()
    noisy[rows] = (y[rows] + rng.integers(1, 10, len(rows))) % 10
    return noisy, rows


@pytest.mark.parametrize("seed", [0, 1])
def test_flipped_digits_are_found(seed: int) -> None:
    y = load_digits().target
    noisy, rows = _flip(y, 0.1, seed)
    result = find_label_issues(noisy, oof_knn_probs(noisy, seed))
    flagged = set(np.flatnonzero(result.is_issue).tolist())
    hits = len(flagged & set(rows.tolist()))
    assert hits / len(rows) > 0.85  # recall (0.88 and 0.90 with these seeds)
    assert hits / len(flagged) > 0.9  # precision
    # every issue suggests another class, with the model's confidence in it
    assert (result.suggested[result.is_issue] != noisy[result.is_issue]).all()
    assert np.all((result.quality >= 0) & (result.quality <= 1))
    assert (
        result.quality[rows].mean() < 0.2 < result.quality[~np.isin(np.arange(len(y)), rows)].mean()
    )


def test_clean_labels_flag_almost_nothing() -> None:
    y = load_digits().target
    result = find_label_issues(y, oof_knn_probs(y))
    assert result.is_issue.sum() <= 0.005 * len(y)


def test_quality_with_two_classes_is_the_probability_of_the_given_label() -> None:
    # The default's quality is the mean of self-confidence and normalized margin: with two
    # classes both equal the probability of the given label.
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    result = find_label_issues(np.array([0, 0, 1]), probs)
    np.testing.assert_allclose(result.quality, [0.9, 0.2, 0.4])
    np.testing.assert_array_equal(result.suggested, [0, 1, 0])
    np.testing.assert_allclose(result.confidence, [0.9, 0.8, 0.6])


@pytest.mark.parametrize(
    ("labels", "probs", "message"),
    [
        ([0, 1], [[0.5, 0.5]], "one entry per row"),
        ([0, 3], [[0.5, 0.5], [0.5, 0.5]], "class codes in 0..1"),
        ([0, 1], [[0.5, 0.6], [0.5, 0.5]], "must sum to 1"),
        ([0, 1], [[np.nan, 1.0], [0.5, 0.5]], "finite"),
        ([0], [[1.0]], "at least 2 class columns"),
        ([0, 1], [0.5, 0.5], "2-D"),
    ],
)
def test_bad_arrays_are_refused(labels: list[int], probs: list, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        find_label_issues(np.array(labels), np.array(probs))


def test_outliers_and_near_duplicates() -> None:
    digits = load_digits()
    X = digits.data[:300] / 16
    rng = np.random.default_rng(0)
    X = np.vstack([X, X[7] + 1e-4, rng.uniform(0, 1, (1, 64)) * np.tile([1, -1], 32)])  # 300, 301
    labels = np.concatenate([digits.target[:300], [digits.target[7], 0]])
    found = find_data_issues(X, labels)
    assert found.duplicate_of[300] == 7 and found.duplicate_of[7] == 300
    assert found.is_outlier[301] and found.outlier_score[301] == found.outlier_score.min()
    assert found.neighbours.shape == (302, 10)
    assert found.neighbours[300, 0] == 7  # nearest first, itself left out
    assert not (found.neighbours == np.arange(302)[:, None]).any()


def test_tiny_data_gets_neighbours_but_no_flags() -> None:
    X = np.eye(4, dtype=np.float32) + 0.1
    found = find_data_issues(X, np.array([0, 1, 0, 1]))
    assert not found.is_outlier.any() and (found.duplicate_of == -1).all()
    assert found.neighbours.shape == (4, 3)


def test_bad_features_are_refused() -> None:
    with pytest.raises(InvalidParameter, match="one row per item"):
        find_data_issues(np.zeros((3, 2)), np.array([0, 1]))
    with pytest.raises(InvalidParameter, match="finite"):
        find_data_issues(np.array([[np.inf, 0.0], [1.0, 0.0]]), np.array([0, 1]))


def test_nearest_neighbours_by_cosine_or_euclidean() -> None:
    X = np.array([[1.0, 0.0, 0.0, 0.0], [10.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    indices, distances = nearest_neighbours(X, k=5)
    assert indices.shape == (3, 2)
    assert indices[0, 0] == 1  # same direction (cosine), though far away
    assert distances[0, 0] < distances[0, 1]
    # few features: Euclidean (on a line every point has the same direction)
    line = np.array([[1.0], [2.0], [10.0], [11.0]])
    assert nearest_neighbours(line, k=1)[0][:, 0].tolist() == [1, 0, 3, 2]


def test_crowdlab_replaces_labels_of_multiply_labeled_items() -> None:
    # 60 items, 3 classes; annotators a and b are right, c is wrong on items 0..29. Item 0 to
    # 29 have all three labels, item 30 to 59 only c's.
    truth = np.arange(60) % 3
    codes = np.full((60, 3), MISSING, dtype=np.int16)
    codes[:30, 0] = truth[:30]
    codes[:30, 1] = truth[:30]
    codes[:, 2] = (truth + 1) % 3
    matrix = LabelMatrix(np.arange(60, dtype=np.int64), ["a", "b", "c"], ["x", "y", "z"], codes)
    probs = np.full((60, 3), 0.1)
    probs[np.arange(60), truth] = 0.8
    labels = given_labels(matrix, probs)
    np.testing.assert_array_equal(labels[:30], truth[:30])  # the consensus
    np.testing.assert_array_equal(labels[30:], (truth[30:] + 1) % 3)  # the single label


def test_single_annotator_needs_no_probabilities() -> None:
    codes = np.array([[0], [1], [MISSING]], dtype=np.int16)
    matrix = LabelMatrix(np.arange(3, dtype=np.int64), ["a"], ["x", "y"], codes)
    np.testing.assert_array_equal(given_labels(matrix), [0, 1, -1])


def test_public_names_exist_and_are_sorted() -> None:
    import assay.quality

    assert all(hasattr(assay.quality, name) for name in assay.quality.__all__)
    assert list(assay.quality.__all__) == sorted(assay.quality.__all__)
