"""Properties of the label-issue methods on random probability matrices (hypothesis,
derandomized so every run draws the same examples)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.errors import InvalidParameter
from assay.quality.issues import find_label_issues
from assay.quality.methods import DEFAULT_METHOD, METHODS, check_method

SETTINGS = settings(
    derandomize=True,
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
CONFIDENT = 0.9


@st.composite
def problems(draw: st.DrawFn, confident: bool) -> tuple[np.ndarray, np.ndarray]:
    """(labels, pred_probs): 2 to 6 classes of 5 to 20 items each. With ``confident``, each
    label is its row's most probable class, at a probability of at least 0.9; otherwise the
    rows are random (Dirichlet) and the labels drawn from them."""
    k = draw(st.integers(2, 6))
    counts = draw(st.lists(st.integers(5, 20), min_size=k, max_size=k))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = sum(counts)
    if not confident:
        probs = rng.dirichlet(np.ones(k), size=n)
        labels = np.repeat(np.arange(k), counts)  # every class present enough times
        return labels, probs
    labels = rng.permutation(np.repeat(np.arange(k), counts))
    top = rng.uniform(CONFIDENT, 1.0, size=n)
    rest = rng.dirichlet(np.ones(k - 1), size=n) * (1.0 - top)[:, None]
    probs = np.empty((n, k))
    for i, label in enumerate(labels):
        probs[i] = np.insert(rest[i], label, top[i])
    return labels, probs


@SETTINGS
@given(problems(confident=True))
def test_the_default_flags_nothing_when_labels_are_the_confident_predictions(
    problem: tuple[np.ndarray, np.ndarray],
) -> None:
    labels, probs = problem
    assert (probs.argmax(axis=1) == labels).all() and (probs.max(axis=1) >= CONFIDENT).all()
    found = find_label_issues(labels, probs)
    assert found.method == DEFAULT_METHOD
    assert not found.is_issue.any()


@settings(SETTINGS, max_examples=8)  # every method per example: cleanlab's pools are slow
@given(problems(confident=False))
def test_every_method_gives_a_quality_in_0_1_per_item(
    problem: tuple[np.ndarray, np.ndarray],
) -> None:
    labels, probs = problem
    for method in METHODS:
        found = find_label_issues(labels, probs, method=method)
        assert found.method == method
        assert found.quality.shape == found.is_issue.shape == labels.shape
        assert found.quality.dtype == np.float64 and found.is_issue.dtype == bool
        assert ((found.quality >= 0) & (found.quality <= 1)).all(), method


def test_an_unknown_method_is_refused_with_the_list() -> None:
    with pytest.raises(InvalidParameter, match="Unknown label-issue method 'nope'") as info:
        check_method("nope")
    assert all(name in str(info.value) for name in METHODS)
    with pytest.raises(InvalidParameter, match="nope"):
        find_label_issues(np.array([0, 1]), np.eye(2), method="nope")
