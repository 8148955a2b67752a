"""Active-learning strategies as pure functions over arrays: which pool items to label next.

Every strategy picks ``batch`` positions of the pool and returns a :class:`Selection`: the
positions in the order to ask (first = ask first), a priority score for each (higher = ask
sooner) and a one-line reason a person can read. Only the picked items get a reason, so
ranking a pool of 1,000,000 costs one vectorized pass plus a partial sort.

* ``random`` - the baseline every other strategy is measured against.
* ``least-confidence``, ``margin``, ``entropy`` - uncertainty of the model's probabilities.
* ``diverse`` - uncertainty *and* diversity: the most uncertain ``prefilter x batch`` items are
  clustered into ``batch`` clusters by k-means on the embeddings, weighted by uncertainty, and
  the item nearest each centre is picked (Zhdanov 2019, "Diverse mini-batch Active Learning";
  the same idea as Cluster-Margin, Citovsky et al. 2021): a batch does not spend many labels
  on near-copies of one confusing example.
* ``kcenter`` - pure diversity (the core-set of Sener & Savarese 2018): each pick is the item
  farthest from everything labeled or picked so far. Needs no model.
* ``cold-start`` - nothing (or one class) labeled yet: representative items, the item nearest
  each centre of a k-means of the pool, biggest clusters first.
* ``activelab`` - items that already have labels from several annotators: cleanlab's ActiveLab
  scores say which item (labeled or not) would gain most from one more label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.errors import InvalidParameter

UNCERTAINTY = ("least-confidence", "margin", "entropy")
STRATEGIES = ("random", *UNCERTAINTY, "diverse", "kcenter", "cold-start", "activelab")
# Strategies of layers of other kinds, by kind (``assay.active.kinds.register`` fills it:
# boxes' box-uncertainty from predicted boxes' scores, ...).
KIND_STRATEGIES: dict[str, tuple[str, ...]] = {}


def known_strategies() -> tuple[str, ...]:
    """Every strategy name, of class layers and of every registered kind, each once."""
    return tuple(dict.fromkeys((*STRATEGIES, *(s for v in KIND_STRATEGIES.values() for s in v))))


# Strategies that rank by a model's class probabilities (without a model: cold start).
NEEDS_PROBS = frozenset({*UNCERTAINTY, "diverse", "activelab"})
# Strategies that need feature vectors (embeddings).
NEEDS_FEATURES = frozenset({"diverse", "kcenter", "cold-start"})
# What "auto" means once a model can be trained. On the MNIST and digits learning curves
# (benchmarks/bench_active.py) ``diverse`` and ``margin`` need about the same labels at batch
# 20 (under half of random's on MNIST); ``diverse`` was ahead on digits and, unlike margin, does
# not fill a big batch with near-copies of one confusing example.
DEFAULT = "diverse"

CHUNK = 65_536  # pool rows scored at a time: memory stays flat for wide probability matrices
PREFILTER = 10  # ``diverse`` clusters the top PREFILTER x batch most uncertain items
COLD_START_FIT = 100_000  # k-means of the cold start is fitted on at most this many items


@dataclass(frozen=True)
class Selection:
    """The picked pool positions, first to ask first, with a score and a reason for each."""

    strategy: str
    positions: np.ndarray  # int64 positions into the pool, in the order to ask
    scores: np.ndarray  # float64, higher = ask sooner
    reasons: list[str]

    def __len__(self) -> int:
        return len(self.positions)


# ---------------------------------------------------------------------------------------------
# Uncertainty scores: one per pool row, in [0, 1], higher = more uncertain
# ---------------------------------------------------------------------------------------------


def least_confidence(pred_probs: np.ndarray) -> np.ndarray:
    """``1 - max_k p_k``: how unsure the model is of its top class."""
    return _rowwise(pred_probs, lambda p: 1.0 - p.max(axis=1))


def margin(pred_probs: np.ndarray) -> np.ndarray:
    """``1 - (p_top - p_second)``: how close the two most probable classes are."""

    def score(p: np.ndarray) -> np.ndarray:
        if p.shape[1] < 2:
            return np.zeros(len(p))
        top2 = np.partition(p, p.shape[1] - 2, axis=1)[:, -2:]
        return 1.0 - (top2[:, 1] - top2[:, 0])

    return _rowwise(pred_probs, score)


def entropy(pred_probs: np.ndarray) -> np.ndarray:
    """Shannon entropy of the probabilities, divided by ``log(n_classes)`` to land in [0, 1]."""
    n_classes = pred_probs.shape[1]
    scale = math.log(n_classes) if n_classes > 1 else 1.0

    def score(p: np.ndarray) -> np.ndarray:
        logs = np.log(np.clip(p, 1e-12, 1.0))
        return np.clip(-(p * logs).sum(axis=1) / scale, 0.0, 1.0)

    return _rowwise(pred_probs, score)


UNCERTAINTY_SCORES = {"least-confidence": least_confidence, "margin": margin, "entropy": entropy}


def _rowwise(pred_probs: np.ndarray, fn: object) -> np.ndarray:
    """Apply ``fn`` to chunks of rows (bounded temporaries); float64 scores, one per row."""
    probs = check_pred_probs(pred_probs)
    out = np.empty(len(probs), dtype=np.float64)
    for start in range(0, len(probs), CHUNK):
        out[start : start + CHUNK] = fn(probs[start : start + CHUNK])  # type: ignore[operator]
    return out


def check_pred_probs(pred_probs: np.ndarray) -> np.ndarray:
    """Validate an (n_samples, n_classes) probability matrix; returns it as an array."""
    probs = np.asarray(pred_probs)
    if probs.ndim != 2 or probs.shape[1] < 1:
        raise InvalidParameter(
            f"pred_probs must be a 2-D array (n_samples, n_classes); got shape {probs.shape}."
        )
    if not np.issubdtype(probs.dtype, np.floating):
        probs = probs.astype(np.float64)
    return probs


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest scores, highest first; ties keep pool order.

    A partial sort (``argpartition``) then a sort of the ``k`` picked: O(n + k log k).
    """
    n = len(scores)
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k < n:
        # The k-th highest score; everything strictly above is in, ties at the cut by position.
        cut = np.partition(scores, n - k)[n - k]
        above = np.flatnonzero(scores > cut)
        tied = np.flatnonzero(scores == cut)[: k - len(above)]
        candidates = np.concatenate([above, tied])
    else:
        candidates = np.arange(n)
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order].astype(np.int64)


def rank(scores: np.ndarray) -> np.ndarray:
    """Every position, highest score first (ties keep pool order)."""
    return np.lexsort((np.arange(len(scores)), -np.asarray(scores))).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------


def random_batch(n_pool: int, batch: int, *, random_state: int = 0) -> Selection:
    """``batch`` pool positions drawn uniformly without replacement (the baseline)."""
    rng = np.random.default_rng(random_state)
    k = min(batch, n_pool)
    positions = np.sort(rng.choice(n_pool, size=k, replace=False)).astype(np.int64)
    rng.shuffle(positions)
    return Selection("random", positions, np.full(k, 0.5), ["random pick (baseline)"] * k)


def uncertainty_batch(
    strategy: str,
    pred_probs: np.ndarray,
    batch: int,
    *,
    classes: Sequence[str] | None = None,
) -> Selection:
    """The ``batch`` most uncertain items by ``least-confidence``, ``margin`` or ``entropy``."""
    try:
        score_fn = UNCERTAINTY_SCORES[strategy]
    except KeyError:
        raise InvalidParameter(
            f"Unknown uncertainty strategy {strategy!r}; use one of {', '.join(UNCERTAINTY)}."
        ) from None
    scores = score_fn(pred_probs)
    positions = top_k(scores, batch)
    reasons = [_uncertainty_reason(strategy, pred_probs[i], scores[i], classes) for i in positions]
    return Selection(strategy, positions, scores[positions], reasons)


def _uncertainty_reason(
    strategy: str, probs: np.ndarray, score: float, classes: Sequence[str] | None
) -> str:
    """e.g. "margin 0.04: '3' 0.49 vs '5' 0.45"."""
    order = np.argsort(-probs, kind="stable")[:2]
    top = [f"{_name(int(k), classes)!r} {probs[k]:.2f}" for k in order]
    if strategy == "margin":
        return f"margin {1.0 - score:.3f}: {' vs '.join(top)}"
    if strategy == "entropy":
        return f"entropy {score:.2f} of max; top {', '.join(top)}"
    return f"top class only {top[0]}"


def _name(code: int, classes: Sequence[str] | None) -> str:
    return classes[code] if classes is not None and code < len(classes) else str(code)


def diverse_batch(
    X: np.ndarray,
    pred_probs: np.ndarray,
    batch: int,
    *,
    prefilter: int = PREFILTER,
    random_state: int = 0,
    classes: Sequence[str] | None = None,
) -> Selection:
    """Uncertain *and* diverse: one item per k-means cluster of the most uncertain items.

    The ``prefilter x batch`` items with the highest margin uncertainty are clustered into
    ``batch`` clusters (scikit-learn's k-means, weighted by uncertainty, so centres lean to the
    most uncertain); the item nearest each centre is picked. The picks are ordered by their
    uncertainty. With a pool smaller than ``prefilter x batch`` all of it is clustered.
    """
    from sklearn.cluster import KMeans, kmeans_plusplus

    X = _check_features(X, len(pred_probs))
    scores = margin(pred_probs)
    k = min(batch, len(scores))
    candidates = top_k(scores, max(k * prefilter, k))
    if len(candidates) <= k:
        return _with_cluster_reasons(candidates, scores, pred_probs, classes, len(candidates))
    weights = np.maximum(scores[candidates], 1e-6)
    # float64, and k-means++ with one trial per centre: for 1,000 clusters of 10,000 float32
    # rows scikit-learn's default init (8 greedy trials, upcast in chunks) took 15 s of 16.
    Xc = np.asarray(X[candidates], dtype=np.float64)
    init, _ = kmeans_plusplus(
        Xc, k, sample_weight=weights, n_local_trials=1, random_state=random_state
    )
    km = KMeans(n_clusters=k, init=init, n_init=1, random_state=random_state)
    labels = km.fit_predict(Xc, sample_weight=weights)
    distances = km.transform(Xc)[np.arange(len(candidates)), labels]
    picks = candidates[_nearest_per_cluster(labels, distances, k)]
    if len(picks) < k:  # a cluster came out empty (duplicate rows): next most uncertain
        extra = candidates[~np.isin(candidates, picks)][: k - len(picks)]
        picks = np.concatenate([picks, extra])
    return _with_cluster_reasons(picks, scores, pred_probs, classes, len(candidates))


def _nearest_per_cluster(labels: np.ndarray, distances: np.ndarray, k: int) -> np.ndarray:
    """For each non-empty cluster, the position of its member nearest the centre."""
    order = np.lexsort((distances, labels))  # by cluster, then distance
    first = np.ones(len(order), dtype=bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    return order[first][:k]


def _with_cluster_reasons(
    positions: np.ndarray,
    scores: np.ndarray,
    pred_probs: np.ndarray,
    classes: Sequence[str] | None,
    n_candidates: int,
) -> Selection:
    positions = positions[np.lexsort((positions, -scores[positions]))].astype(np.int64)
    reasons = [
        _uncertainty_reason("margin", pred_probs[i], scores[i], classes)
        + f"; nearest to one of {len(positions)} cluster centres among the "
        f"{n_candidates} most uncertain"
        for i in positions
    ]
    return Selection("diverse", positions, scores[positions], reasons)


def kcenter_greedy(
    X: np.ndarray,
    batch: int,
    *,
    X_labeled: np.ndarray | None = None,
    random_state: int = 0,
) -> Selection:
    """Core-set batch: each pick is the pool item farthest from everything labeled or picked.

    The exact greedy k-center of Sener & Savarese (2018), hand-written rather than taken from
    scikit-activeml's ``CoreSet``: that one recomputes the distances to every centre chosen
    so far at each step and keeps a batch x n_pool utility matrix (8 GB for 1,000 picks from
    1,000,000 items). Here the distances to new centres are applied lazily: the running
    minimum distance of every item is refreshed only when the current candidates (the
    ``KCENTER_CANDIDATES`` farthest items, kept exact after every pick) can no longer beat the
    bound on all the others, and then for all pending centres at once as one matrix product.
    Same picks as the plain loop, but a few BLAS-3 passes instead of one memory-bound pass
    over the pool per pick. The distances to the labeled items come from scikit-learn's
    chunked ``pairwise_distances_argmin_min`` (O(n_pool x n_labeled x dim)).
    """
    X = _check_features(X).astype(np.float32, copy=False)
    n, k = len(X), min(batch, len(X))
    sq_norms = np.einsum("ij,ij->i", X, X)
    first = None
    if X_labeled is not None and len(X_labeled):
        from sklearn.metrics import pairwise_distances_argmin_min

        labeled = _check_features(X_labeled).astype(np.float32, copy=False)
        min_sq = (pairwise_distances_argmin_min(X, labeled)[1] ** 2).astype(np.float32)
    else:
        min_sq = np.full(n, np.inf, dtype=np.float32)
        first = int(np.random.default_rng(random_state).integers(n)) if n else None
    lazy = _LazyDistances(X, sq_norms, min_sq)
    picks = np.zeros(k, dtype=np.int64)
    gaps = np.zeros(k, dtype=np.float64)
    for j in range(k):
        i, gap_sq = (first, np.inf) if (j == 0 and first is not None) else lazy.farthest()
        picks[j], gaps[j] = i, math.sqrt(max(float(gap_sq), 0.0))
        lazy.add_centre(i)
    reasons = [
        "first pick (nothing labeled yet)"
        if math.isinf(g)
        else f"distance {g:.3g} to the nearest labeled or already picked item"
        for g in gaps
    ]
    scores = np.where(np.isinf(gaps), np.nan, gaps)
    top = np.nanmax(scores) if np.isfinite(scores).any() else 1.0
    return Selection("kcenter", picks, np.nan_to_num(scores, nan=top), reasons)


KCENTER_CANDIDATES = 8_192


class _LazyDistances:
    """Squared distance from every item to its nearest centre, with new centres applied lazily.

    ``min_sq`` is exact for the centres applied so far and an upper bound otherwise (distances
    only shrink). The candidates are the items with the largest ``min_sq`` at the last refresh,
    kept exact after every new centre; every other item is at most ``bound`` away. So the best
    candidate is the true farthest item while it is at least ``bound``; when it falls below,
    the pending centres are applied to all items (one chunked matrix product) and the
    candidates are chosen again.
    """

    def __init__(self, X: np.ndarray, sq_norms: np.ndarray, min_sq: np.ndarray) -> None:
        self.X, self.sq_norms, self.min_sq = X, sq_norms, min_sq
        self.pending: list[int] = []
        self._choose_candidates()

    def _choose_candidates(self) -> None:
        n = len(self.min_sq)
        m = min(KCENTER_CANDIDATES, n)
        self.cand = np.argpartition(self.min_sq, n - m)[n - m :] if m < n else np.arange(n)
        rest = np.ones(n, dtype=bool)
        rest[self.cand] = False
        self.bound = float(self.min_sq[rest].max()) if rest.any() else -np.inf
        self.cand_sq = self.min_sq[self.cand].copy()

    def farthest(self) -> tuple[int, float]:
        """The item farthest from every centre so far, and its squared distance."""
        t = int(np.argmax(self.cand_sq))
        if self.cand_sq[t] < self.bound:
            self._refresh()
            t = int(np.argmax(self.cand_sq))
        return int(self.cand[t]), float(self.cand_sq[t])

    def add_centre(self, i: int) -> None:
        """Take item ``i`` as a centre: exact for the candidates now, for the rest later."""
        d = self.sq_norms[self.cand] - 2.0 * (self.X[self.cand] @ self.X[i]) + self.sq_norms[i]
        np.minimum(self.cand_sq, d, out=self.cand_sq)
        self.cand_sq[self.cand == i] = -1.0  # never picked twice
        self.min_sq[i] = -1.0
        self.pending.append(i)

    def _refresh(self) -> None:
        centres = np.asarray(self.pending)
        C, c_sq = self.X[centres], self.sq_norms[centres]
        for start in range(0, len(self.X), 16_384):
            rows = slice(start, start + 16_384)
            d = self.sq_norms[rows, None] - 2.0 * (self.X[rows] @ C.T) + c_sq[None, :]
            np.minimum(self.min_sq[rows], d.min(axis=1), out=self.min_sq[rows])
        self.min_sq[centres] = -1.0
        self.pending = []
        self._choose_candidates()


def cold_start(X: np.ndarray, batch: int, *, random_state: int = 0) -> Selection:
    """Representative items when nothing is labeled yet: k-means of the pool, ``batch`` clusters.

    The item nearest each centre is picked, the biggest clusters first, so the first labels
    cover the bulk of the data. scikit-learn's MiniBatchKMeans is fitted on at most
    ``COLD_START_FIT`` items (an even random sample), then assigns the whole pool.
    """
    from sklearn.cluster import MiniBatchKMeans, kmeans_plusplus

    X = _check_features(X)
    n = len(X)
    k = min(batch, n)
    if k == n:
        positions = np.arange(n, dtype=np.int64)
        reasons = ["the pool is no bigger than the batch: every item"] * n
        return Selection("cold-start", positions, np.ones(n), reasons)
    rng = np.random.default_rng(random_state)
    sample = np.sort(rng.choice(n, size=min(n, max(COLD_START_FIT, 3 * k)), replace=False))
    fit_rows = np.asarray(X[sample], dtype=np.float64)
    # k-means++ with one trial per centre on a random subset, in float64: scikit-learn's
    # default init (8 greedy trials on 3 x batch_size float32 rows, upcast in chunks) took
    # 40 s for k = 1,000.
    subset = rng.choice(len(fit_rows), size=min(len(fit_rows), max(3 * k, 10_000)), replace=False)
    init, _ = kmeans_plusplus(fit_rows[subset], k, n_local_trials=1, random_state=random_state)
    km = MiniBatchKMeans(
        n_clusters=k,
        init=init,
        n_init=1,
        random_state=random_state,
        batch_size=max(1024, 3 * k),
    ).fit(fit_rows)
    labels, distances = _assign(km, X)
    picks = _nearest_per_cluster(labels, distances, k)
    sizes = np.bincount(labels, minlength=k)[labels[picks]]
    order = np.lexsort((picks, -sizes))
    picks, sizes = picks[order].astype(np.int64), sizes[order]
    reasons = [
        f"nearest to the centre of a cluster of {s} items ({100 * s / n:.1f}% of the pool)"
        for s in sizes
    ]
    selection = Selection("cold-start", picks, sizes / n, reasons)
    return _fill(selection, distances, k)


def _fill(selection: Selection, distances: np.ndarray, k: int) -> Selection:
    """Top up a batch that came out short (k-means left a cluster empty) with the items
    farthest from their cluster's centre: the ones the picks represent worst."""
    missing = k - len(selection)
    if missing <= 0:
        return selection
    far = np.argsort(-distances, kind="stable")
    extra = far[~np.isin(far, selection.positions)][:missing].astype(np.int64)
    low = float(selection.scores.min()) if len(selection) else 0.0
    return Selection(
        selection.strategy,
        np.concatenate([selection.positions, extra]),
        np.concatenate([selection.scores, np.full(len(extra), low)]),
        [*selection.reasons, *["filling the batch: far from every cluster centre"] * len(extra)],
    )


def _assign(km: Any, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cluster of every row and its distance to that centre, in chunks (bounded memory)."""
    labels = np.empty(len(X), dtype=np.int64)
    distances = np.empty(len(X), dtype=np.float64)
    centres = km.cluster_centers_
    for start in range(0, len(X), CHUNK):
        rows = np.asarray(X[start : start + CHUNK], dtype=centres.dtype)
        part = km.predict(rows)
        labels[start : start + CHUNK] = part
        distances[start : start + CHUNK] = np.linalg.norm(rows - centres[part], axis=1)
    return labels, distances


def activelab_scores(
    labels_multiannotator: np.ndarray,
    pred_probs: np.ndarray,
    pred_probs_unlabeled: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """cleanlab's ActiveLab scores (lower = one more label helps more): (labeled, unlabeled).

    ``labels_multiannotator`` is (n_labeled, n_annotators) of class codes with -1 where an
    annotator gave no label; ``pred_probs`` are the model's (ideally out-of-fold) probabilities
    for those items, ``pred_probs_unlabeled`` for the items nobody labeled.
    """
    import warnings

    from cleanlab.multiannotator import get_active_learning_scores

    codes = np.asarray(labels_multiannotator, dtype=np.float64)
    codes[codes < 0] = np.nan
    with warnings.catch_warnings():
        # cleanlab warns about annotators who labeled few items; the scores are still defined.
        warnings.simplefilter("ignore", UserWarning)
        labeled, unlabeled = get_active_learning_scores(
            codes if len(codes) else None,
            pred_probs if len(codes) else None,
            pred_probs_unlabeled if len(pred_probs_unlabeled) else None,
        )
    return np.asarray(labeled, dtype=np.float64), np.asarray(unlabeled, dtype=np.float64)


def activelab_batch(
    labels_multiannotator: np.ndarray,
    pred_probs: np.ndarray,
    pred_probs_unlabeled: np.ndarray,
    batch: int,
    *,
    eligible: np.ndarray | None = None,
    classes: Sequence[str] | None = None,
) -> Selection:
    """The ``batch`` items (labeled by some annotators, or by none) that gain most from one
    more label, lowest ActiveLab score first.

    Positions count the labeled items first, then the unlabeled ones. ``eligible`` (a boolean
    mask over those positions) restricts the picks, e.g. to items the next annotator has not
    labeled yet; every item still informs the scores.
    """
    labeled, unlabeled = activelab_scores(labels_multiannotator, pred_probs, pred_probs_unlabeled)
    priority = 1.0 - np.concatenate([labeled, unlabeled])
    allowed = np.ones(len(priority), bool) if eligible is None else np.asarray(eligible, bool)
    positions = np.flatnonzero(allowed)[top_k(priority[allowed], batch)]
    codes = np.asarray(labels_multiannotator)
    reasons = [_activelab_reason(int(i), priority[i], codes, classes) for i in positions]
    return Selection("activelab", positions, priority[positions], reasons)


def _activelab_reason(
    i: int, priority: float, codes: np.ndarray, classes: Sequence[str] | None
) -> str:
    if i >= len(codes):
        return f"ActiveLab score {1 - priority:.3f}: no label yet"
    given = [_name(int(c), classes) for c in codes[i] if c >= 0]
    agree = "agree" if len(set(given)) <= 1 else "disagree"
    return (
        f"ActiveLab score {1 - priority:.3f}: {len(given)} label(s) so far "
        f"({', '.join(given)}) that {agree}"
    )


def select(
    strategy: str,
    batch: int,
    *,
    pred_probs: np.ndarray | None = None,
    X: np.ndarray | None = None,
    X_labeled: np.ndarray | None = None,
    random_state: int = 0,
    classes: Sequence[str] | None = None,
) -> Selection:
    """Run one pool strategy (any but ``activelab``) on arrays over the pool.

    Parameters
    ----------
    strategy : str
        ``random``, ``least-confidence``, ``margin``, ``entropy``, ``diverse``, ``kcenter`` or
        ``cold-start``.
    batch : int
        How many pool items to pick.
    pred_probs : ndarray of shape (n_pool, n_classes), optional
        The model's probabilities for the pool (uncertainty strategies and ``diverse``).
    X : ndarray of shape (n_pool, n_features), optional
        Embeddings of the pool (``diverse``, ``kcenter``, ``cold-start``).
    X_labeled : ndarray of shape (n_labeled, n_features), optional
        Embeddings of the labeled items (``kcenter`` keeps away from them).
    random_state : int
        Seeds ``random``, k-means and the first ``kcenter`` pick.
    classes : sequence of str, optional
        Class names for the reasons.

    Returns
    -------
    Selection
        Positions into the pool, first to ask first, with scores and reasons.
    """
    if strategy == "random":
        n = len(pred_probs) if pred_probs is not None else len(_need(X, "X", strategy))
        return random_batch(n, batch, random_state=random_state)
    if strategy in UNCERTAINTY:
        probs = _need(pred_probs, "pred_probs", strategy)
        return uncertainty_batch(strategy, probs, batch, classes=classes)
    if strategy == "diverse":
        probs = _need(pred_probs, "pred_probs", strategy)
        return diverse_batch(
            _need(X, "X", strategy), probs, batch, random_state=random_state, classes=classes
        )
    if strategy == "kcenter":
        return kcenter_greedy(
            _need(X, "X", strategy), batch, X_labeled=X_labeled, random_state=random_state
        )
    if strategy == "cold-start":
        return cold_start(_need(X, "X", strategy), batch, random_state=random_state)
    raise InvalidParameter(
        f"Unknown strategy {strategy!r} for select(); use one of "
        f"{', '.join(s for s in STRATEGIES if s != 'activelab')} (activelab: activelab_batch)."
    )


def _need(value: np.ndarray | None, name: str, strategy: str) -> np.ndarray:
    if value is None:
        raise InvalidParameter(f"The {strategy!r} strategy needs {name}.")
    return value


def _check_features(X: np.ndarray, n_rows: int | None = None) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise InvalidParameter(
            f"Features must be a 2-D array (n_samples, n_features); got shape {X.shape}."
        )
    if n_rows is not None and len(X) != n_rows:
        raise InvalidParameter(
            f"Features and probabilities must cover the same pool: {len(X)} rows of features, "
            f"{n_rows} of probabilities."
        )
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float32)
    return X
