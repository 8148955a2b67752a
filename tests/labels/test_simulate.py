"""Simulated annotators make the errors their profiles state, deterministically."""

from __future__ import annotations

import numpy as np
import pytest

from assay.errors import InvalidParameter
from assay.labels.matrix import MISSING
from assay.labels.simulate import PROFILES, Profile, noisy_annotators, simulate

N = 20_000
K = 10


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    return np.random.default_rng(0).integers(0, K, N)


def test_profiles_describe_themselves() -> None:
    assert {"careful", "confuser", "hasty", "spammer"} <= set(PROFILES)
    assert all(p.description for p in PROFILES.values())


def test_same_seed_same_labels_and_annotators_are_independent(truth: np.ndarray) -> None:
    a = simulate(truth, K, ["careful", "hasty"], seed=7)
    b = simulate(truth, K, ["careful", "hasty"], seed=7)
    c = simulate(truth, K, ["careful", "spammer"], seed=7)
    d = simulate(truth, K, ["careful", "hasty"], seed=8)
    assert a.dtype == np.int16 and a.shape == (N, 2)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[:, 0], c[:, 0])  # changing annotator 2 leaves 1 alone
    assert (a[:, 1] != d[:, 1]).any()


def test_careful_and_hasty_error_and_skip_rates(truth: np.ndarray) -> None:
    codes = simulate(truth, K, ["careful", "hasty"], seed=1)
    careful, hasty = codes[:, 0], codes[:, 1]
    assert (careful == MISSING).sum() == 0
    assert np.mean(careful != truth) == pytest.approx(0.03, abs=0.006)
    assert np.mean(hasty == MISSING) == pytest.approx(0.10, abs=0.01)
    labeled = hasty != MISSING
    assert np.mean(hasty[labeled] != truth[labeled]) == pytest.approx(0.25, abs=0.015)
    # uniform errors: every wrong class gets about the same share
    wrong = hasty[labeled & (hasty != truth)]
    shares = np.bincount((wrong - truth[labeled & (hasty != truth)]) % K, minlength=K)[1:]
    assert shares.min() / shares.max() > 0.8


def test_confuser_swaps_the_stated_digit_pairs(truth: np.ndarray) -> None:
    labels = simulate(truth, K, ["confuser"], seed=2)[:, 0]

    def rate(true: int, said: int) -> float:
        return float(np.mean(labels[truth == true] == said))

    for true, said in [(3, 5), (5, 3), (4, 9), (9, 4), (7, 1)]:
        assert rate(true, said) == pytest.approx(0.4, abs=0.04)
    assert rate(1, 7) < 0.02  # 7 -> 1 is one-way
    for c in (0, 2, 6, 8):
        assert rate(c, c) == pytest.approx(0.97, abs=0.015)


def test_spammer_is_at_chance(truth: np.ndarray) -> None:
    labels = simulate(truth, K, ["spammer"], seed=3)[:, 0]
    assert np.mean(labels == truth) == pytest.approx(1 / K, abs=0.01)


def test_custom_profile_confuses_any_class_pair() -> None:
    truth = np.array([0, 1, 2, 0, 1, 2] * 50)
    always = Profile("says 2 for every 0", confusions=((0, 2, 1.0),))
    labels = simulate(truth, 3, [always], seed=0)[:, 0]
    np.testing.assert_array_equal(labels, np.where(truth == 0, 2, truth))


def test_noisy_annotators_spread_accuracy_and_drop_labels(truth: np.ndarray) -> None:
    codes = noisy_annotators(truth, K, 5, (0.55, 0.95), seed=4, missing=0.3)
    assert codes.shape == (N, 5)
    assert np.mean(codes == MISSING) == pytest.approx(0.3, abs=0.01)
    accuracy = [
        np.mean(codes[codes[:, j] != MISSING, j] == truth[codes[:, j] != MISSING]) for j in range(5)
    ]
    np.testing.assert_allclose(accuracy, [0.95, 0.85, 0.75, 0.65, 0.55], atol=0.015)
    np.testing.assert_array_equal(
        codes, noisy_annotators(truth, K, 5, (0.95, 0.55), seed=4, missing=0.3)
    )


def test_bad_input_is_rejected() -> None:
    truth = np.array([0, 1, 2])
    with pytest.raises(InvalidParameter, match="unknown annotator profile 'sloppy'"):
        simulate(truth, 3, ["sloppy"], seed=0)
    with pytest.raises(InvalidParameter, match=r"within 0\.\.1"):
        simulate(truth, 2, ["careful"], seed=0)
    with pytest.raises(InvalidParameter, match="integer class codes"):
        simulate(truth.astype(float), 3, ["careful"], seed=0)
    with pytest.raises(InvalidParameter, match="names a class outside"):
        simulate(truth, 3, ["confuser"], seed=0)  # confuses digit classes 3..9
    with pytest.raises(InvalidParameter, match="rates must be within"):
        Profile("bad", error_rate=1.5)
    with pytest.raises(InvalidParameter, match="accuracy_range"):
        noisy_annotators(truth, 3, 2, (0.5, 1.2), seed=0)
