"""Simulated active learning: run the loop against labels that are known, hiding them.

For each seed the labeled items are split into a pool and a held-out set (stratified). A seed
set of ``seed_size`` pool items (the same for every strategy of that seed) is revealed; then,
for ``rounds`` rounds, the model is trained on what is revealed, scored on the held-out set,
and the strategy picks the next ``batch`` pool items whose labels are revealed. The result is
one learning curve (held-out accuracy vs number of labels) per strategy and seed, the
accuracy of the same model trained on the whole pool, and, per strategy, the labels needed to
reach ``target`` (95%) of that accuracy and their ratio to random sampling's.

The loop's model is the fast one of :mod:`assay.active.model` (logistic regression on
PCA-reduced features, refitted every round in well under a second); a CNN would be hundreds of
times slower per round on two cores.
"""

from __future__ import annotations

import statistics
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from assay.active import strategies as st
from assay.active.model import fit_reducer, make_loop_model, model_name, one_blas_thread
from assay.active.pool import align, check_classes, check_layer, label_matrix
from assay.errors import InvalidParameter
from assay.labels.matrix import MISSING
from assay.progress import ProgressCallback, no_progress

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

DEFAULT_STRATEGIES = ("random", "least-confidence", "margin", "entropy", "diverse", "kcenter")
TARGET = 0.95


@dataclass(frozen=True)
class Curve:
    """One learning curve: held-out accuracy after each round, for one strategy and seed."""

    strategy: str
    seed: int
    n_labels: list[int]
    accuracy: list[float]

    def labels_to_reach(self, accuracy: float) -> int | None:
        """The fewest labels at which the curve reached ``accuracy``; None if it never did."""
        for n, acc in zip(self.n_labels, self.accuracy, strict=True):
            if acc >= accuracy - 1e-12:
                return n
        return None


@dataclass(frozen=True)
class SimulationResult:
    """Learning curves of several strategies over several seeds, and what they add up to."""

    layer: str
    model: str
    featurizer: str
    classes: list[str]
    n_pool: int
    n_holdout: int
    seed_size: int
    batch: int
    rounds: int
    seeds: list[int]
    target: float  # fraction of the full-pool accuracy a strategy must reach
    full_pool_accuracy: dict[int, float]  # per seed: the model trained on the whole pool
    curves: list[Curve] = field(default_factory=list)

    @property
    def strategies(self) -> list[str]:
        return list(dict.fromkeys(c.strategy for c in self.curves))

    def labels_to_target(self, strategy: str) -> list[int | None]:
        """Per seed: labels needed to reach ``target`` x that seed's full-pool accuracy."""
        return [
            c.labels_to_reach(self.target * self.full_pool_accuracy[c.seed])
            for c in self.curves
            if c.strategy == strategy
        ]

    def median_labels_to_target(self, strategy: str) -> float | None:
        """Median over seeds (a seed that never reached the target counts as infinite)."""
        values = [float("inf") if v is None else float(v) for v in self.labels_to_target(strategy)]
        if not values:
            return None
        median = statistics.median(values)
        return None if median == float("inf") else median

    def labels_ratio_vs_random(self) -> dict[str, float | None]:
        """Median labels to target of each strategy divided by random's (None if either is
        unknown: not simulated, or not reached within the rounds)."""
        base = self.median_labels_to_target("random") if "random" in self.strategies else None
        out: dict[str, float | None] = {}
        for strategy in self.strategies:
            mine = self.median_labels_to_target(strategy)
            out[strategy] = None if base is None or mine is None else mine / base
        return out

    def mean_curve(self, strategy: str) -> tuple[list[int], list[float]]:
        """The strategy's accuracy averaged over seeds at each number of labels."""
        mine = [c for c in self.curves if c.strategy == strategy]
        n = min(len(c.n_labels) for c in mine)
        acc = np.mean([c.accuracy[:n] for c in mine], axis=0)
        return mine[0].n_labels[:n], [float(a) for a in acc]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON: settings, curves, labels to target and ratios vs random."""
        out = asdict(self)
        out["full_pool_accuracy"] = {str(k): v for k, v in self.full_pool_accuracy.items()}
        out["mean_full_pool_accuracy"] = float(np.mean(list(self.full_pool_accuracy.values())))
        out["curves"] = {
            s: {
                "n_labels": self.mean_curve(s)[0],
                "accuracy_mean": self.mean_curve(s)[1],
                "per_seed": {str(c.seed): c.accuracy for c in self.curves if c.strategy == s},
            }
            for s in self.strategies
        }
        out["labels_to_target"] = {
            s: {"per_seed": self.labels_to_target(s), "median": self.median_labels_to_target(s)}
            for s in self.strategies
        }
        out["labels_ratio_vs_random"] = self.labels_ratio_vs_random()
        return out


def simulate_al(
    ds: Dataset,
    *,
    layer: str = "ground_truth",
    strategies: Sequence[str] = DEFAULT_STRATEGIES,
    seed_size: int = 20,
    batch: int = 20,
    rounds: int = 20,
    holdout: float | int = 0.2,
    seeds: Sequence[int] = (0, 1, 2),
    model: str | Any = "auto",
    featurizer: str = "auto",
    filter: str | None = None,
    target: float = TARGET,
    progress: ProgressCallback | None = None,
) -> SimulationResult:
    """Simulate the active-learning loop on a layer whose labels are known.

    Parameters
    ----------
    ds : Dataset
    layer : str, default "ground_truth"
        The known labels; only items labeled there take part.
    strategies : sequence of str
        Any of ``auto``, ``random``, ``least-confidence``, ``margin``, ``entropy``,
        ``diverse``, ``kcenter``, ``cold-start``. Include ``random`` for the ratios.
    seed_size : int, default 20
        Labels revealed before the first round (random pool items, the same for every
        strategy of a seed).
    batch : int, default 20
        Labels revealed per round.
    rounds : int, default 20
        Rounds after the seed set: each curve has ``rounds + 1`` points.
    holdout : float or int, default 0.2
        The held-out share (float in (0, 1)) or count (int) of the labeled items.
    seeds : sequence of int, default (0, 1, 2)
        One split, seed set and model seed each.
    model : str, default "auto"
        The loop's model (see :mod:`assay.active.model`).
    filter : str, optional
        Simulate on a slice only.
    target : float, default 0.95
        Fraction of the full-pool accuracy that "labels to target" measures.

    Returns
    -------
    SimulationResult

    Raises
    ------
    LayerNotFound
        No such layer.
    InvalidParameter
        Unknown strategy, bad sizes, fewer than two classes or too few labeled items.
    """
    from assay.models.features import featurize

    classes = check_classes(ds)
    check_layer(ds, layer)
    feats = featurize(ds, filter, featurizer=featurizer, progress=progress)
    codes = align(label_matrix(ds, [layer], filter), feats.item_ids)[:, 0]
    keep = codes != MISSING
    return simulate_arrays(
        feats.X[keep],
        codes[keep],
        classes,
        layer=layer,
        strategies=strategies,
        seed_size=seed_size,
        batch=batch,
        rounds=rounds,
        holdout=holdout,
        seeds=seeds,
        model=model,
        featurizer=feats.name,
        target=target,
        progress=progress,
    )


def simulate_arrays(
    X: np.ndarray,
    y: np.ndarray,
    classes: Sequence[str],
    *,
    layer: str = "arrays",
    strategies: Sequence[str] = DEFAULT_STRATEGIES,
    seed_size: int = 20,
    batch: int = 20,
    rounds: int = 20,
    holdout: float | int = 0.2,
    seeds: Sequence[int] = (0, 1, 2),
    model: str | Any = "auto",
    featurizer: str = "arrays",
    target: float = TARGET,
    progress: ProgressCallback | None = None,
) -> SimulationResult:
    """:func:`simulate_al` on arrays: features ``X`` and class codes ``y`` (see there)."""
    X, y = np.asarray(X), np.asarray(y, dtype=np.int64)
    names = _check_simulation(X, y, classes, strategies, seed_size, batch, rounds, seeds, target)
    report = progress or no_progress
    splits = {s: _split(y, holdout, s) for s in seeds}
    n_pool = len(next(iter(splits.values()))[0])
    if seed_size + batch * rounds > n_pool:
        raise InvalidParameter(
            f"seed_size + batch x rounds = {seed_size + batch * rounds} labels, more than the "
            f"pool of {n_pool} items: use fewer rounds or a smaller batch."
        )
    result = SimulationResult(
        layer=layer,
        model=model_name(model),
        featurizer=featurizer,
        classes=list(classes),
        n_pool=n_pool,
        n_holdout=len(y) - n_pool,
        seed_size=seed_size,
        batch=batch,
        rounds=rounds,
        seeds=list(seeds),
        target=target,
        full_pool_accuracy={},
    )
    total = len(seeds) * (len(names) * (rounds + 1) + 1)
    with one_blas_thread():
        _run_seeds(result, X, y, splits, names, model, report, total)
    return result


def _run_seeds(
    result: SimulationResult,
    X: np.ndarray,
    y: np.ndarray,
    splits: dict[int, tuple[np.ndarray, np.ndarray]],
    names: list[str],
    model: str | Any,
    report: ProgressCallback,
    total: int,
) -> None:
    """Fill ``result`` with the full-pool accuracy and the curves of every seed and strategy."""
    done = 0
    seed_size, batch, rounds = result.seed_size, result.batch, result.rounds
    for seed in result.seeds:
        pool, held = splits[seed]
        run = _SeedRun(X, y, len(result.classes), pool, held, model, seed)
        result.full_pool_accuracy[seed] = run.full_pool_accuracy()
        done += 1
        report(done, total, f"seed {seed}: whole pool")
        first = np.random.default_rng(seed).choice(len(pool), size=seed_size, replace=False)
        for strategy in names:
            n_labels, accuracy = [], []
            for n, acc in run.curve(strategy, first, batch, rounds):
                n_labels.append(n)
                accuracy.append(acc)
                done += 1
                report(done, total, f"seed {seed}: {strategy}, {n} labels")
            result.curves.append(Curve(strategy, seed, n_labels, accuracy))


def _check_simulation(
    X: np.ndarray,
    y: np.ndarray,
    classes: Sequence[str],
    strategies: Sequence[str],
    seed_size: int,
    batch: int,
    rounds: int,
    seeds: Sequence[int],
    target: float,
) -> list[str]:
    """Validate the settings; returns the strategy names (unique, in order)."""
    if X.ndim != 2 or len(X) != len(y):
        raise InvalidParameter(
            f"X must be (n_samples, n_features) with one row per label; got "
            f"{X.shape} for {len(y)} labels."
        )
    names = list(dict.fromkeys(strategies))
    allowed = ("auto", *(s for s in st.STRATEGIES if s != "activelab"))
    bad = [s for s in names if s not in allowed]
    if bad or not names:
        raise InvalidParameter(
            f"Unknown or unsupported strategies for the simulation: {', '.join(bad) or '(none)'}."
            f" Use some of: {', '.join(allowed)} (activelab needs several annotators' labels)."
        )
    for name, value, low in (
        ("seed_size", seed_size, 2),
        ("batch", batch, 1),
        ("rounds", rounds, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InvalidParameter(
                f"The {name!r} parameter must be an int in the range [{low}, inf). "
                f"Got {value!r} instead."
            )
    if not seeds:
        raise InvalidParameter("Give at least one seed.")
    if not 0 < target <= 1:
        raise InvalidParameter(f"The 'target' parameter must be in (0, 1]. Got {target!r}.")
    if len(np.unique(y)) < 2:
        raise InvalidParameter(
            f"The simulation needs labels of at least two classes; found {len(np.unique(y))} "
            f"among {len(y)} labeled items."
        )
    if len(classes) and y.max() >= len(classes):
        raise InvalidParameter(
            f"Label code {int(y.max())} is out of range for {len(classes)} classes."
        )
    return names


def _split(y: np.ndarray, holdout: float | int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(pool, held-out) positions: stratified when every class has two items, else plain."""
    from sklearn.model_selection import train_test_split

    n = len(y)
    if isinstance(holdout, bool) or not (
        (isinstance(holdout, float) and 0 < holdout < 1)
        or (isinstance(holdout, int) and 0 < holdout < n - 1)
    ):
        raise InvalidParameter(
            f"The 'holdout' parameter must be a float in (0, 1) or an int in [1, {n - 2}] "
            f"(the labeled items number {n}). Got {holdout!r} instead."
        )
    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 else None
    try:
        pool, held = train_test_split(
            np.arange(n), test_size=holdout, stratify=stratify, random_state=seed
        )
    except ValueError:  # too few held-out items to hold every class: split plainly
        pool, held = train_test_split(np.arange(n), test_size=holdout, random_state=seed)
    return np.sort(pool), np.sort(held)


class _SeedRun:
    """One seed's split with features reduced once (PCA fitted on the pool, no labels)."""

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        n_classes: int,
        pool: np.ndarray,
        held: np.ndarray,
        model: str | Any,
        seed: int,
    ) -> None:
        reducer = fit_reducer(X[pool], random_state=seed)
        self.Z, self.Z_held = reducer.transform(X[pool]), reducer.transform(X[held])
        self.y, self.y_held = y[pool], y[held]
        self.n_classes, self.model, self.seed = n_classes, model, seed

    def full_pool_accuracy(self) -> float:
        return self._fit(np.arange(len(self.y)))[1]

    def _fit(self, labeled: np.ndarray) -> tuple[Any, float]:
        estimator = make_loop_model(self.model, seed=self.seed)
        estimator.fit(self.Z[labeled], self.y[labeled])
        accuracy = float(np.mean(estimator.predict(self.Z_held) == self.y_held))
        return estimator, accuracy

    def curve(self, strategy: str, first: np.ndarray, batch: int, rounds: int) -> Any:
        """Yield (labels, held-out accuracy) after the seed set and after each round."""
        from assay.models.training import probs_in_columns

        revealed = np.zeros(len(self.y), dtype=bool)
        revealed[first] = True
        for r in range(rounds + 1):
            labeled = np.flatnonzero(revealed)
            one_class = len(np.unique(self.y[labeled])) < 2
            estimator, accuracy = (
                (None, _majority_accuracy(self.y[labeled], self.y_held))
                if (one_class)
                else self._fit(labeled)
            )
            yield len(labeled), accuracy
            if r == rounds:
                return
            unlabeled = np.flatnonzero(~revealed)
            name = _round_strategy(strategy, estimator is None)
            probs = None
            if name in st.NEEDS_PROBS and estimator is not None:
                probs = probs_in_columns(estimator, self.Z[unlabeled], self.n_classes)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                selection = st.select(
                    name,
                    batch,
                    pred_probs=probs,
                    X=self.Z[unlabeled],
                    X_labeled=self.Z[labeled],
                    random_state=self.seed * 1_000_003 + r,
                )
            revealed[unlabeled[selection.positions]] = True


def _round_strategy(strategy: str, no_model: bool) -> str:
    """``auto`` and probability strategies without a model fall back to the cold start."""
    if strategy == "auto":
        return "cold-start" if no_model else st.DEFAULT
    if strategy in st.NEEDS_PROBS and no_model:
        return "cold-start"
    return strategy


def _majority_accuracy(y_labeled: np.ndarray, y_held: np.ndarray) -> float:
    """Accuracy of always answering the one class seen so far (no model can be trained)."""
    return float(np.mean(y_held == y_labeled[0])) if len(y_labeled) else 0.0
