"""The model the active-learning loop retrains after every batch, and the features it sees.

The loop refits after every batch, so its model must train in about a second on two cores:
``auto`` is logistic regression (the ``logreg`` model of :mod:`assay.models.estimators`:
standardized features, multinomial logistic regression) on the dataset's features reduced to
at most ``LOOP_DIM`` dimensions by PCA. The PCA is fitted on every item of the slice, labeled
or not (it uses no label, so the unlabeled pool may shape it). On MNIST's 784 raw pixels a
refit took 25x longer for one point more accuracy (0.909 vs 0.899 on the whole 8,000-item
pool). The same reduced vectors are the embeddings the diversity strategies cluster. The
CNN would be far too slow to retrain per batch here; pass ``model="cnn"`` only for small
pools.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.models.estimators import make_estimator, resolve_model
from assay.models.training import probs_in_columns

LOOP_DIM = 50  # PCA components the loop's model and the diversity strategies work on
PCA_FIT = 50_000  # the PCA is fitted on an even random sample of at most this many items
CHUNK = 65_536
# Regularization of ``auto``: chosen on the digits and MNIST learning curves (benchmarks/
# bench_active.py); stronger than the logreg default would under-fit the full pool, weaker
# over-fits the first few dozen labels.
AUTO_PARAMS = {"C": 0.3}


class Reducer:
    """A PCA fitted on (a sample of) the items; ``transform`` maps rows in chunks to float32."""

    def __init__(self, pca: Any | None) -> None:
        self.pca = pca

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The rows projected on the principal components (as float32 if no PCA was needed)."""
        X = np.asarray(X, dtype=np.float32)
        if self.pca is None:
            return X
        out = np.empty((len(X), self.pca.n_components_), dtype=np.float32)
        for start in range(0, len(X), CHUNK):
            out[start : start + CHUNK] = self.pca.transform(X[start : start + CHUNK])
        return out


def fit_reducer(X: np.ndarray, *, dim: int = LOOP_DIM, random_state: int = 0) -> Reducer:
    """A PCA to ``dim`` components fitted on ``X`` (no PCA if ``X`` is that narrow already)."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] <= dim or len(X) <= dim:
        return Reducer(None)
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(random_state)
    sample = np.sort(rng.choice(len(X), size=min(len(X), PCA_FIT), replace=False))
    pca = PCA(n_components=dim, svd_solver="randomized", random_state=random_state)
    return Reducer(pca.fit(np.asarray(X[sample], dtype=np.float32)))


def reduce_features(X: np.ndarray, *, dim: int = LOOP_DIM, random_state: int = 0) -> np.ndarray:
    """``X`` projected on its first ``dim`` principal components (float32); as is if narrower."""
    return fit_reducer(X, dim=dim, random_state=random_state).transform(X)


def model_name(model: str | Any) -> str:
    """How a model is recorded on a suggestion list: ``logreg``, a dotted path, a class name."""
    if isinstance(model, str):
        return "logreg" if model == "auto" else model
    return type(model).__name__


def make_loop_model(
    model: str | Any, *, seed: int = 0, kind: str | None = None, image_shape: Any = None
) -> Any:
    """An unfitted estimator for the loop: ``auto`` is the fast logistic regression."""
    if isinstance(model, str) and model == "auto":
        return make_estimator("logreg", params=AUTO_PARAMS, seed=seed)
    return make_estimator(model, seed=seed, kind=kind, image_shape=image_shape)


def uses_raw_features(model: str | Any, kind: str | None) -> bool:
    """The CNN needs the images' pixels, not the reduced vectors."""
    return resolve_model(model, kind) == "cnn"


def one_blas_thread() -> Any:
    """A context that runs BLAS on one thread.

    The loop's fits are small (hundreds of rows): multi-threaded BLAS inside scipy's L-BFGS
    spends its time synchronizing threads, and on a busy two-core machine one logistic
    regression on 1,400 digits took 3 s instead of 0.08 s. One thread is faster here.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def fit_probs(
    estimator: Any, X_train: np.ndarray, y_train: np.ndarray, X_pool: np.ndarray, n_classes: int
) -> np.ndarray:
    """Fit on the labeled items; class probabilities of the pool, (n_pool, n_classes)."""
    with one_blas_thread():
        estimator.fit(X_train, y_train)
        out = np.empty((len(X_pool), n_classes), dtype=np.float64)
        for start in range(0, len(X_pool), CHUNK):
            out[start : start + CHUNK] = probs_in_columns(
                estimator, X_pool[start : start + CHUNK], n_classes
            )
    return out
