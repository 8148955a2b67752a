"""One round of the loop over a pool: train on the labels so far, then rank the unlabeled items.

Shared by :class:`assay.active.api.Suggestions` (which stores the result) and the simulation.
Every fallback or clamp is said twice: as a ``UserWarning`` and as a note kept with the list.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay.active import strategies as st
from assay.active.model import (
    fit_probs,
    make_loop_model,
    model_name,
    reduce_features,
    uses_raw_features,
)
from assay.active.pool import EmptyPool, PoolData
from assay.errors import InvalidParameter
from assay.labels.matrix import MISSING

DEFAULT_BATCH = 20
MAX_BATCH = 100_000


@dataclass(frozen=True)
class Ranked:
    """The picks of one round: pool items to label, in order, and how they were chosen."""

    selection: st.Selection
    item_ids: np.ndarray  # of the picks, in the order to ask
    strategy: str  # what ranked them (after any fallback)
    model: str | None  # whose probabilities; None for strategies without a model
    n_pool: int
    n_labeled: int
    notes: list[str] = field(default_factory=list)


def check_strategy(strategy: str) -> str:
    """``auto`` or a known strategy name, else InvalidParameter listing them."""
    if strategy != "auto" and strategy not in st.known_strategies():
        raise InvalidParameter(
            f"Unknown strategy {strategy!r}. Use auto or one of: "
            f"{', '.join(st.known_strategies())}."
        )
    return strategy


def check_batch(batch: int) -> int:
    """A batch size in [1, MAX_BATCH]."""
    if (
        isinstance(batch, bool)
        or not isinstance(batch, (int, np.integer))
        or not (1 <= batch <= MAX_BATCH)
    ):
        raise InvalidParameter(
            f"The 'batch' parameter must be an int in the range [1, {MAX_BATCH}]. "
            f"Got {batch!r} instead."
        )
    return int(batch)


def rank_pool(
    data: PoolData,
    *,
    layer: str,
    strategy: str = "auto",
    batch: int = 20,
    model: str | Any = "auto",
    seed: int = 0,
    annotators: tuple[list[str], np.ndarray] | None = None,
    embeddings: np.ndarray | None = None,
) -> Ranked:
    """Rank the pool of ``data`` with ``strategy`` and pick ``batch`` items.

    ``annotators`` (layer names and their codes per item) feeds ``activelab``;
    ``embeddings`` (default: the features reduced by PCA) feed the diversity strategies and
    the model.

    Raises
    ------
    EmptyPool
        Every item is labeled in ``layer``.
    InvalidParameter
        Unknown strategy, a bad batch size, ActiveLab without annotator labels.
    """
    check_strategy(strategy)
    batch = check_batch(batch)
    pool = data.pool
    if len(pool) == 0:
        raise EmptyPool(
            f"Nothing left to suggest: all {len(data.codes)} items"
            f" are labeled in layer {layer!r}. Pick another layer or a wider filter."
        )
    notes: list[str] = []
    if batch > len(pool):
        _note(
            notes,
            f"The batch ({batch}) is larger than the pool of unlabeled items "
            f"({len(pool)}): suggesting all {len(pool)}.",
        )
        batch = len(pool)
    chosen = _resolve(strategy, data, layer, annotators, notes)
    Z = reduce_features(data.X, random_state=seed) if embeddings is None else embeddings
    selection, used_model = _select(chosen, data, Z, pool, batch, model, seed, annotators)
    if chosen == "activelab":
        item_ids = _activelab_items(data, annotators, selection)
    else:
        item_ids = data.item_ids[pool[selection.positions]]
    return Ranked(selection, item_ids, chosen, used_model, len(pool), len(data.labeled), notes)


def _note(notes: list[str], message: str) -> None:
    notes.append(message)
    warnings.warn(message, UserWarning, stacklevel=4)


def _resolve(
    strategy: str,
    data: PoolData,
    layer: str,
    annotators: tuple[list[str], np.ndarray] | None,
    notes: list[str],
) -> str:
    """The strategy that will run: ``auto`` and model-less fallbacks resolved to a name."""
    n_classes = data.n_label_classes()
    source = f"layer {layer!r} has"
    if strategy == "activelab":
        if annotators is None or not (annotators[1] != MISSING).any():
            found = (
                "none were named"
                if annotators is None
                else (f"{', '.join(annotators[0])} have no labels in this slice")
            )
            raise InvalidParameter(f"ActiveLab needs items labeled by annotator layers; {found}.")
        if len(np.unique(annotators[1][annotators[1] != MISSING])) >= 2:
            return strategy
        n_classes, source = 1, f"the annotator layers {', '.join(annotators[0])} have"
    if strategy == "auto":
        if n_classes >= 2:
            return st.DEFAULT
        notes.append(  # the expected start of the loop: a note, not a warning
            f"auto: layer {layer!r} has labels of fewer than two classes, so no model can be "
            "trained yet: ranked by cold start (representative items)."
        )
        return "cold-start"
    if strategy in st.NEEDS_PROBS and n_classes < 2:
        found = "no labels" if n_classes == 0 else "labels of only one class"
        _note(
            notes,
            f"{strategy} ranks by a model's probabilities, but {source} "
            f"{found} to train one on (two classes needed): ranked by cold start "
            "(representative items) instead.",
        )
        return "cold-start"
    return strategy


def _select(
    strategy: str,
    data: PoolData,
    Z: np.ndarray,
    pool: np.ndarray,
    batch: int,
    model: str | Any,
    seed: int,
    annotators: tuple[list[str], np.ndarray] | None,
) -> tuple[st.Selection, str | None]:
    """Run one strategy over the pool: (selection, the model used or None)."""
    if strategy == "activelab":
        assert annotators is not None
        return _activelab(data, Z, annotators[1], batch, model, seed), model_name(model)
    probs = None
    if strategy in st.NEEDS_PROBS:
        probs = pool_probs(data, Z, pool, model, seed)
    selection = st.select(
        strategy,
        batch,
        pred_probs=probs,
        X=Z[pool],
        X_labeled=Z[data.labeled],
        random_state=seed,
        classes=data.classes,
    )
    return selection, None if probs is None else model_name(model)


def pool_probs(
    data: PoolData, Z: np.ndarray, pool: np.ndarray, model: str | Any, seed: int
) -> np.ndarray:
    """Train on the labeled items; class probabilities of the ``pool`` positions."""
    features = data.X if uses_raw_features(model, data.kind) else Z
    labeled = data.labeled
    estimator = make_loop_model(model, seed=seed, kind=data.kind, image_shape=data.image_shape)
    return fit_probs(
        estimator, features[labeled], data.codes[labeled], features[pool], len(data.classes)
    )


def _activelab(
    data: PoolData, Z: np.ndarray, codes: np.ndarray, batch: int, model: str | Any, seed: int
) -> st.Selection:
    """ActiveLab over every item: annotator-labeled ones first, then the rest (see strategies).

    The model learns the annotators' majority vote; labeled items get out-of-fold
    probabilities (so the model cannot just echo their labels) when every class has at least
    two of them, else in-sample ones.
    """
    has = (codes != MISSING).any(axis=1)
    labeled, unlabeled = np.flatnonzero(has), np.flatnonzero(~has)
    votes = majority_vote(codes[labeled], len(data.classes))
    probs_labeled = _oof_or_fit(Z[labeled], votes, model, seed, len(data.classes))
    estimator = make_loop_model(model, seed=seed, kind=data.kind)
    probs_unlabeled = fit_probs(estimator, Z[labeled], votes, Z[unlabeled], len(data.classes))
    order = np.concatenate([labeled, unlabeled])
    eligible = data.codes[order] == MISSING
    return st.activelab_batch(
        codes[labeled],
        probs_labeled,
        probs_unlabeled,
        batch,
        eligible=eligible,
        classes=data.classes,
    )


def _activelab_items(
    data: PoolData, annotators: tuple[list[str], np.ndarray] | None, selection: st.Selection
) -> np.ndarray:
    """Item ids of ActiveLab picks (positions count annotator-labeled items first)."""
    assert annotators is not None
    has = (annotators[1] != MISSING).any(axis=1)
    order = np.concatenate([np.flatnonzero(has), np.flatnonzero(~has)])
    return data.item_ids[order[selection.positions]]


def majority_vote(codes: np.ndarray, n_classes: int) -> np.ndarray:
    """Most frequent code per row (ties to the lowest code); rows need at least one label."""
    counts = np.zeros((len(codes), n_classes), dtype=np.int64)
    rows, cols = np.nonzero(codes != MISSING)
    np.add.at(counts, (rows, codes[rows, cols]), 1)
    return counts.argmax(axis=1)


def _oof_or_fit(
    X: np.ndarray, y: np.ndarray, model: str | Any, seed: int, n_classes: int
) -> np.ndarray:
    from assay.models.training import oof_probs

    counts = np.bincount(y, minlength=n_classes)
    present = counts[counts > 0]
    if len(present) >= 2 and present.min() >= 2:
        estimator = make_loop_model(model, seed=seed)
        return oof_probs(
            X, y, model=estimator, folds=int(min(5, present.min())), seed=seed, n_classes=n_classes
        )
    return fit_probs(make_loop_model(model, seed=seed), X, y, X, n_classes)
