"""Simulated annotators with known, different error patterns, for the demo and the benchmarks.

Consensus methods differ in what noise they can undo: majority vote treats every vote alike,
Dawid-Skene learns a confusion matrix per annotator, CROWDLAB weighs annotators against a
model. To show (and measure) that, this module labels items whose true class is known with
annotators whose errors are stated up front.

Each annotator draws from its own child of ``numpy.random.SeedSequence(seed)``, so its labels
depend only on the seed, its position and its profile, never on the other annotators.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assay.errors import InvalidParameter
from assay.labels.matrix import MISSING

__all__ = ["DIGIT_CONFUSIONS", "PROFILES", "Profile", "noisy_annotators", "simulate"]


@dataclass(frozen=True)
class Profile:
    """How a simulated annotator errs.

    For an item of true class ``t``: with probability ``skip_rate`` no label at all; otherwise,
    if ``t`` has an entry ``(t, d, rate)`` in ``confusions``, class ``d`` with probability
    ``rate``; otherwise a uniformly wrong class (any class but ``t``) with probability
    ``error_rate``, else ``t``. With ``spam`` set, the label is uniform over all classes
    whatever ``t`` is. Classes are indices, so the confusions can name any class pair.
    """

    description: str
    error_rate: float = 0.0
    skip_rate: float = 0.0
    confusions: tuple[tuple[int, int, float], ...] = ()
    spam: bool = False

    def __post_init__(self) -> None:
        rates = [self.error_rate, self.skip_rate, *(r for _, _, r in self.confusions)]
        if any(not 0.0 <= r <= 1.0 for r in rates):
            raise InvalidParameter(f"rates must be within [0, 1], got {rates}")
        sources = [s for s, _, _ in self.confusions]
        if len(set(sources)) != len(sources):
            raise InvalidParameter("at most one confusion per true class")


# Digit pairs people (and models) mix up in sklearn's digits / MNIST.
DIGIT_CONFUSIONS: tuple[tuple[int, int, float], ...] = (
    (3, 5, 0.4),
    (5, 3, 0.4),
    (4, 9, 0.4),
    (9, 4, 0.4),
    (7, 1, 0.4),
)

PROFILES: dict[str, Profile] = {
    "careful": Profile("careful: about 3% of labels wrong, uniformly at random", error_rate=0.03),
    "confuser": Profile(
        "confuser: about 3% random errors, but labels 40% of 3s as 5 and of 5s as 3, of 4s as 9 "
        "and of 9s as 4, and of 7s as 1",
        error_rate=0.03,
        confusions=DIGIT_CONFUSIONS,
    ),
    "hasty": Profile(
        "hasty: about 25% of labels wrong, uniformly at random, and skips about 10% of items",
        error_rate=0.25,
        skip_rate=0.10,
    ),
    "spammer": Profile("spammer: picks a class uniformly at random, ignoring the item", spam=True),
}


def _check_truth(truth: np.ndarray, n_classes: int) -> np.ndarray:
    truth = np.asarray(truth)
    if truth.ndim != 1 or not np.issubdtype(truth.dtype, np.integer):
        raise InvalidParameter("truth must be a 1-d array of integer class codes")
    if n_classes < 2:
        raise InvalidParameter(f"need at least 2 classes, got {n_classes}")
    if len(truth) and (truth.min() < 0 or truth.max() >= n_classes):
        raise InvalidParameter(f"truth codes must be within 0..{n_classes - 1}")
    return truth.astype(np.int64)


def _wrong(rng: np.random.Generator, truth: np.ndarray, n_classes: int) -> np.ndarray:
    """A uniformly random class other than ``truth``, per item."""
    return (truth + rng.integers(1, n_classes, size=len(truth))) % n_classes


def _label(
    rng: np.random.Generator, truth: np.ndarray, n_classes: int, profile: Profile
) -> np.ndarray:
    for source, target, _ in profile.confusions:
        if not (0 <= source < n_classes and 0 <= target < n_classes):
            raise InvalidParameter(
                f"confusion {source}->{target} names a class outside 0..{n_classes - 1}"
            )
    n = len(truth)
    # Draw every random stream unconditionally so the result depends only on the seed.
    u_err, u_conf, u_skip = rng.random(n), rng.random(n), rng.random(n)
    wrong = _wrong(rng, truth, n_classes)
    if profile.spam:
        out = rng.integers(0, n_classes, size=n)
    else:
        out = np.where(u_err < profile.error_rate, wrong, truth)
        for source, target, rate in profile.confusions:
            hit = (truth == source) & (u_conf < rate)
            out[hit] = target
    out[u_skip < profile.skip_rate] = MISSING
    return out


def simulate(
    truth: np.ndarray, n_classes: int, profiles: Sequence[str | Profile], seed: int
) -> np.ndarray:
    """Labels of one simulated annotator per profile: ``(n_items, len(profiles))`` int16.

    ``profiles`` are names from :data:`PROFILES` or :class:`Profile` objects; -1 marks a
    skipped item. Deterministic for a given seed.
    """
    truth = _check_truth(truth, n_classes)
    resolved = []
    for p in profiles:
        if isinstance(p, Profile):
            resolved.append(p)
        elif p in PROFILES:
            resolved.append(PROFILES[p])
        else:
            raise InvalidParameter(
                f"unknown annotator profile {p!r}; known: {', '.join(sorted(PROFILES))}"
            )
    children = np.random.SeedSequence(seed).spawn(len(resolved))
    codes = np.full((len(truth), len(resolved)), MISSING, dtype=np.int16)
    for j, (profile, child) in enumerate(zip(resolved, children, strict=True)):
        codes[:, j] = _label(np.random.default_rng(child), truth, n_classes, profile)
    return codes


def noisy_annotators(
    truth: np.ndarray,
    n_classes: int,
    n_annotators: int,
    accuracy_range: tuple[float, float],
    seed: int,
    missing: float = 0.0,
) -> np.ndarray:
    """``n_annotators`` annotators with uniform errors, for benchmarks: ``(n_items, n)`` int16.

    Accuracies are evenly spaced from the high end of ``accuracy_range`` down to the low end
    (annotator 0 is the best); a wrong label is uniform over the other classes. Each label is
    independently missing (-1) with probability ``missing``, so some items may get none.
    """
    lo, hi = sorted(accuracy_range)
    if not 0.0 <= lo <= hi <= 1.0:
        raise InvalidParameter(f"accuracy_range must lie within [0, 1], got {accuracy_range}")
    if n_annotators < 1:
        raise InvalidParameter(f"need at least 1 annotator, got {n_annotators}")
    accuracies = np.linspace(hi, lo, n_annotators)
    profiles = [
        Profile(f"uniform errors, accuracy {a:.2f}", error_rate=1.0 - a, skip_rate=missing)
        for a in accuracies
    ]
    return simulate(truth, n_classes, profiles, seed)
