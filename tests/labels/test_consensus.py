"""Consensus methods on simulated annotators with known truth, plus alignment and edge cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from assay.errors import InvalidParameter
from assay.labels.consensus import METHODS, consensus
from assay.labels.matrix import MISSING, LabelMatrix
from assay.labels.simulate import simulate

K = 10
DIGITS = [str(c) for c in range(K)]
NAMES = ["careful", "confuser_1", "confuser_2", "hasty", "spammer"]


@pytest.fixture(scope="module")
def crowd() -> tuple[LabelMatrix, np.ndarray, np.ndarray]:
    """500 digit-like items, five simulated annotators, and a 80%-accurate model's probs."""
    rng = np.random.default_rng(0)
    n = 500
    truth = rng.integers(0, K, n)
    profiles = ["careful", "confuser", "confuser", "hasty", "spammer"]
    codes = simulate(truth, K, profiles, seed=0)
    matrix = LabelMatrix(np.arange(n), NAMES, DIGITS, codes)
    logits = rng.normal(0.0, 1.0, (n, K))
    predicted = np.where(rng.random(n) < 0.8, truth, rng.integers(0, K, n))
    logits[np.arange(n), predicted] += 3.0
    pred_probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return matrix, truth, pred_probs


def _accuracy(label: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(label == truth))


def test_dawid_skene_beats_majority_vote_with_a_confuser_and_a_spammer(crowd) -> None:
    matrix, truth, _ = crowd
    mv = consensus(matrix, "majority-vote")
    ds = consensus(matrix, "dawid-skene")
    assert _accuracy(ds.label, truth) >= _accuracy(mv.label, truth) + 0.03
    assert _accuracy(ds.label, truth) > 0.95
    # DS learns who is reliable: the careful annotator first, the spammer at about chance.
    ranked = sorted(ds.annotator_quality, key=ds.annotator_quality.__getitem__)
    assert ranked[0] == "spammer" and ranked[-1] == "careful"
    assert ds.annotator_quality["spammer"] < 0.2
    assert ds.probs is not None and ds.probs.shape == (500, K)
    np.testing.assert_allclose(ds.probs.sum(axis=1), 1.0)
    np.testing.assert_allclose(ds.confidence, ds.probs[np.arange(500), ds.label])


def test_majority_vote_confidence_and_quality(crowd) -> None:
    matrix, _, _ = crowd
    mv = consensus(matrix, "majority-vote")
    votes = np.stack([(matrix.codes == c).sum(axis=1) for c in range(K)], axis=1)
    np.testing.assert_allclose(mv.confidence, votes.max(axis=1) / votes.sum(axis=1))
    np.testing.assert_array_equal(mv.label, votes.argmax(axis=1))
    careful = matrix.codes[:, 0]
    assert mv.annotator_quality["careful"] == pytest.approx(np.mean(careful == mv.label))


def test_majority_vote_ties_go_to_the_lowest_class_index() -> None:
    # each row is a tie; the columns (annotators) are permuted below
    codes = np.array([[2, 0, 2, 0], [5, 3, 3, 5], [1, 4, 7, 9], [6, 6, 8, 8]], dtype=np.int16)
    expected = [0, 3, 1, 6]
    for order in ([0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]):
        matrix = LabelMatrix(np.arange(4), list("abcd"), DIGITS, codes[:, order])
        result = consensus(matrix, "majority-vote")
        np.testing.assert_array_equal(result.label, expected)
        np.testing.assert_allclose(result.confidence, [0.5, 0.5, 0.25, 0.5])


def test_crowdlab_ranks_the_spammer_last(crowd) -> None:
    matrix, truth, pred_probs = crowd
    result = consensus(matrix, "crowdlab", pred_probs=pred_probs)
    mv = consensus(matrix, "majority-vote")
    assert result.probs is None
    assert _accuracy(result.label, truth) >= _accuracy(mv.label, truth)
    quality = result.annotator_quality
    assert min(quality, key=quality.__getitem__) == "spammer"
    assert max(quality, key=quality.__getitem__) == "careful"
    assert ((result.confidence >= 0) & (result.confidence <= 1)).all()
    # confidence is informative: wrong consensus labels score lower on average
    right = result.label == truth
    assert result.confidence[right].mean() > result.confidence[~right].mean()


@pytest.mark.parametrize("method", METHODS)
def test_outputs_follow_item_ids_when_ids_are_sparse_and_unsorted(method: str) -> None:
    item_ids = np.array([907, 12, 5000, 3, 77, 640])
    wanted = item_ids % K  # every annotator agrees on this label, so it must come back
    rows = [
        (int(i), w, int(c)) for w in ("a", "b", "c") for i, c in zip(item_ids, wanted, strict=True)
    ]
    rows[0] = (907, "a", 3)  # one dissenting vote
    frame = pd.DataFrame(rows, columns=["task", "worker", "label"]).sample(frac=1, random_state=1)
    from_long = LabelMatrix.from_long(frame, DIGITS)  # sorted item ids
    shuffled = LabelMatrix(  # hand-built, ids in the original (unsorted) order
        item_ids,
        ["a", "b", "c"],
        DIGITS,
        np.stack([wanted] * 3, axis=1).astype(np.int16),
    )
    for matrix in (from_long, shuffled):
        pred_probs = np.full((matrix.n_items, K), 0.1)
        result = consensus(matrix, method, pred_probs=pred_probs)
        np.testing.assert_array_equal(result.item_ids, matrix.item_ids)
        np.testing.assert_array_equal(result.label, matrix.item_ids % K)


@pytest.mark.parametrize("method", METHODS)
def test_items_and_annotators_without_labels(method: str) -> None:
    codes = np.array(
        [
            [0, 0, MISSING, MISSING],
            [MISSING, MISSING, MISSING, MISSING],  # nobody labeled this item
            [1, 1, 1, MISSING],
            [2, 1, 2, MISSING],
            [MISSING, 2, MISSING, MISSING],
        ],
        dtype=np.int16,
    )  # annotator "d" labeled nothing
    matrix = LabelMatrix(np.array([10, 20, 30, 40, 50]), list("abcd"), ["x", "y", "z"], codes)
    pred_probs = np.array(
        [[0.8, 0.1, 0.1], [0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.1, 0.1, 0.8]]
    )
    result = consensus(matrix, method, pred_probs=pred_probs)
    np.testing.assert_array_equal(result.label, [0, MISSING, 1, 2, 2])
    assert result.confidence[1] == 0.0
    assert (result.confidence[[0, 2, 3, 4]] > 0).all()
    if result.probs is not None:
        np.testing.assert_array_equal(result.probs[1], 0.0)
    assert math.isnan(result.annotator_quality["d"])
    assert not math.isnan(result.annotator_quality["a"])
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["annotator_quality"]["d"] is None
    assert payload["item_ids"] == [10, 20, 30, 40, 50]


@pytest.mark.parametrize("method", ["majority-vote", "dawid-skene"])
def test_no_labels_at_all(method: str) -> None:
    codes = np.full((3, 2), MISSING, dtype=np.int16)
    result = consensus(LabelMatrix(np.arange(3), ["a", "b"], ["x", "y"], codes), method)
    np.testing.assert_array_equal(result.label, [MISSING] * 3)
    np.testing.assert_array_equal(result.confidence, 0.0)


def test_bad_input_is_rejected(crowd) -> None:
    matrix, _, pred_probs = crowd
    with pytest.raises(InvalidParameter, match="majority-vote, dawid-skene, crowdlab"):
        consensus(matrix, "glad")
    with pytest.raises(InvalidParameter, match="needs pred_probs"):
        consensus(matrix, "crowdlab")
    with pytest.raises(InvalidParameter, match="pred_probs has shape"):
        consensus(matrix, "crowdlab", pred_probs=pred_probs[:, :5])
    with pytest.raises(InvalidParameter, match="finite and non-negative"):
        consensus(matrix, "crowdlab", pred_probs=-pred_probs)
    bad = LabelMatrix(np.arange(2), ["a", "b"], ["x", "y"], np.array([[0, 5], [1, 1]], np.int16))
    with pytest.raises(InvalidParameter, match="label codes"):
        consensus(bad, "majority-vote")
    disjoint = np.array([[0, MISSING], [MISSING, 1]], np.int16)
    single = LabelMatrix(np.arange(2), ["a", "b"], ["x", "y"], disjoint)
    with pytest.raises(InvalidParameter, match="an item with 2 labels"):
        consensus(single, "crowdlab", pred_probs=np.full((2, 2), 0.5))
