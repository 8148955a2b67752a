"""Label noise as it occurs in real data sets, for ``bench_label_issues.py``.

Each generator takes the true labels, the number of classes, a noise level, a random
generator and out-of-fold probabilities of a model trained on the *true* labels (which say
which classes and items are confusable), and returns the noisy labels. The kinds:

* ``uniform`` - a share of the labels moved to another class at random (the easy case the
  label-issue default was once tuned on);
* ``class-conditional`` - each flipped label goes to a class the model confuses with the true
  one, drawn from the out-of-fold confusion matrix (3s become 5s, not 0s);
* ``ambiguous`` - instance-dependent: items the model is unsure of are the likelier to be
  flipped, each to a class its own probabilities favour (errors on ambiguous items);
* ``annotators`` - every item labeled once by one of three simulated annotators with their own
  confusion matrices (:mod:`assay.labels.simulate`: a careful one with 3% random errors, a
  confuser who labels 40% of each class as its most confusable class, a hasty one with 25%
  random errors); the level is not used.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Noise = Callable[[np.ndarray, int, float, np.random.Generator, np.ndarray], np.ndarray]


def confusion_targets(y: np.ndarray, k: int, clean_probs: np.ndarray) -> np.ndarray:
    """Row-normalized off-diagonal confusion (true x predicted) of the clean model."""
    counts = np.zeros((k, k))
    np.add.at(counts, (y, clean_probs.argmax(axis=1)), 1.0)
    counts += 0.5  # every wrong class stays possible, if unlikely
    np.fill_diagonal(counts, 0.0)
    return counts / counts.sum(axis=1, keepdims=True)


def uniform(
    y: np.ndarray, k: int, level: float, rng: np.random.Generator, _p: np.ndarray
) -> np.ndarray:
    rows = rng.choice(len(y), round(level * len(y)), replace=False)
    noisy = y.copy()
    noisy[rows] = (y[rows] + rng.integers(1, k, len(rows))) % k
    return noisy


def class_conditional(
    y: np.ndarray, k: int, level: float, rng: np.random.Generator, clean_probs: np.ndarray
) -> np.ndarray:
    targets = confusion_targets(y, k, clean_probs)
    rows = rng.choice(len(y), round(level * len(y)), replace=False)
    noisy = y.copy()
    for r in rows:
        noisy[r] = rng.choice(k, p=targets[y[r]])
    return noisy


def ambiguous(
    y: np.ndarray, k: int, level: float, rng: np.random.Generator, clean_probs: np.ndarray
) -> np.ndarray:
    doubt = 1.0 - clean_probs[np.arange(len(y)), y] + 0.02
    rows = rng.choice(len(y), round(level * len(y)), replace=False, p=doubt / doubt.sum())
    noisy = y.copy()
    for r in rows:
        weights = clean_probs[r] + 1e-3
        weights[y[r]] = 0.0
        noisy[r] = rng.choice(k, p=weights / weights.sum())
    return noisy


def annotators(
    y: np.ndarray, k: int, _level: float, rng: np.random.Generator, clean_probs: np.ndarray
) -> np.ndarray:
    from assay.labels.simulate import PROFILES, Profile, simulate

    targets = confusion_targets(y, k, clean_probs)
    confuser = Profile(
        "confuser: 3% random errors, 40% of each class as its most confusable class",
        error_rate=0.03,
        confusions=tuple((c, int(targets[c].argmax()), 0.4) for c in range(k)),
    )
    hasty = Profile("hasty: 25% random errors", error_rate=0.25)
    labels = simulate(y, k, [PROFILES["careful"], confuser, hasty], int(rng.integers(2**31)))
    who = rng.integers(0, 3, len(y))
    return labels[np.arange(len(y)), who].astype(np.int64)


KINDS: dict[str, tuple[Noise, tuple[float, ...]]] = {
    "uniform": (uniform, (0.10, 0.25)),
    "class-conditional": (class_conditional, (0.05, 0.10, 0.25)),
    "ambiguous": (ambiguous, (0.10,)),
    "annotators": (annotators, (0.0,)),
}
