"""Out-of-fold probabilities: every item predicted by a model that never saw it.

Label-quality methods (confident learning in cleanlab) need, for each labeled item, predicted
class probabilities from a model that was not trained on that item; otherwise the model has
memorized the given label and cannot point at it. ``oof_probs`` trains K models on stratified
folds and stitches their held-out predictions together.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from assay.errors import InvalidParameter
from assay.models.estimators import make_estimator
from assay.progress import ProgressCallback, no_progress

PARALLEL_MIN_VALUES = 2_000_000  # n_samples * n_features from which folds run in parallel


def check_training_data(
    X: np.ndarray,
    y: np.ndarray,
    *,
    folds: int | None = None,
    n_classes: int | None = None,
    class_names: Sequence[str] | None = None,
) -> int:
    """Validate features and integer labels for (cross-)training; returns ``n_classes``.

    Raises InvalidParameter for a feature matrix that is not 2-D, a length mismatch, labels
    outside ``[0, n_classes)``, fewer than two classes, or a class with fewer items than folds.
    """
    if X.ndim != 2:
        raise InvalidParameter(
            f"Features must be a 2-D array (n_samples, n_features); got shape {X.shape}."
        )
    if y.ndim != 1 or len(y) != len(X):
        raise InvalidParameter(
            f"Labels must be a 1-D array with one label per row of X: X has {len(X)} rows, "
            f"labels have shape {y.shape}."
        )
    if len(y) and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0):
        raise InvalidParameter("Labels must be non-negative integer class codes.")
    if n_classes is None:
        n_classes = int(y.max()) + 1 if len(y) else 0
    elif len(y) and y.max() >= n_classes:
        raise InvalidParameter(
            f"Label code {int(y.max())} is out of range for {n_classes} classes."
        )
    counts = np.bincount(y, minlength=n_classes)
    present = np.flatnonzero(counts)
    if len(present) < 2:
        name = f" (only {_class_name(int(present[0]), class_names)!r})" if len(present) else ""
        raise InvalidParameter(
            f"Training needs labels of at least two classes; found {len(present)}{name} among "
            f"{len(y)} labeled items. Label more items or pick another layer or filter."
        )
    if folds is not None:
        check_folds(folds)
        short = [(int(c), int(counts[c])) for c in present if counts[c] < folds]
        if short:
            listed = ", ".join(f"{_class_name(c, class_names)!r} has {n}" for c, n in short[:10])
            raise InvalidParameter(
                f"{folds}-fold cross-validation needs at least {folds} labeled items per class: "
                f"{listed}. Label more items of those classes, or use fewer folds "
                f"(--cv {max(2, min(n for _, n in short))} at most) if that is at least 2."
            )
    return n_classes


def check_folds(folds: Any) -> int:
    """``folds`` as an int of at least 2, or InvalidParameter in the house format."""
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise InvalidParameter(
            f"The 'folds' parameter must be an int in the range [2, inf). Got {folds!r} instead."
        )
    return folds


def _class_name(code: int, class_names: Sequence[str] | None) -> str:
    if class_names is not None and 0 <= code < len(class_names):
        return class_names[code]
    return str(code)


def probs_in_columns(estimator: Any, X: np.ndarray, n_classes: int) -> np.ndarray:
    """``predict_proba`` mapped from the estimator's ``classes_`` onto all ``n_classes`` codes."""
    raw = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    classes = np.asarray(estimator.classes_, dtype=np.int64)
    out = np.zeros((len(X), n_classes), dtype=np.float64)
    out[:, classes] = raw
    total = out.sum(axis=1, keepdims=True)
    np.divide(out, total, out=out, where=total > 0)
    return out


def oof_probs(
    X: np.ndarray,
    y: np.ndarray,
    *,
    model: str | Any = "auto",
    folds: int = 5,
    seed: int = 0,
    n_classes: int | None = None,
    progress: ProgressCallback | None = None,
    params: Mapping[str, Any] | None = None,
    kind: str | None = None,
    image_shape: tuple[int, int] | None = None,
    class_names: Sequence[str] | None = None,
    n_jobs: int | None = None,
    dask: Any = None,
) -> np.ndarray:
    """Stratified K-fold out-of-fold class probabilities.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Features (see :func:`assay.models.features.featurize`).
    y : ndarray of shape (n_samples,)
        Integer class codes in ``[0, n_classes)``.
    model : str or estimator, default "auto"
        ``logreg``, ``hgb``, ``cnn``, ``auto`` (by ``kind``; logistic regression when ``kind``
        is None), an import path such as ``sklearn.svm.SVC``, or an unfitted estimator.
    folds : int, default 5
        Number of stratified folds K; each class needs at least K items.
    seed : int, default 0
        Seeds the fold split and the models.
    n_classes : int, optional
        Width of the output (classes absent from ``y`` get probability 0); default ``max(y)+1``.
    progress : callable, optional
        Called as ``progress(done_folds, folds, message)``.
    params : mapping, optional
        Model parameters (``set_params`` names, or constructor arguments for an import path).
    kind : {"image", "text", "tabular"}, optional
        Feature kind, used to resolve ``auto``.
    image_shape : (height, width), optional
        For the CNN: the image shape behind each flattened row (default: a square).
    class_names : sequence of str, optional
        Used in error messages only.
    n_jobs : int, optional
        Folds trained at once, each in its own worker process. Default: one per CPU core (at
        most ``folds``) for large problems, else 1 (see :func:`plan_threads`).
    dask : str or distributed.Client, optional
        Train the folds on a Dask cluster (a scheduler address such as
        ``"tcp://10.0.0.5:8786"``, or a Client): ``X`` and ``y`` are sent to the workers once
        and each fold is one task. The folds, seeds and models are the same, so the result is
        the one the in-process run gives.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        Row ``i`` comes from the fold model that did not see item ``i``; rows sum to 1.

    Raises
    ------
    InvalidParameter
        Fewer than two classes, a class with fewer than ``folds`` items, bad shapes or model.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    n_classes = check_training_data(X, y, folds=folds, n_classes=n_classes, class_names=class_names)
    report = progress or no_progress
    template = make_estimator(model, params=params, seed=seed, kind=kind, image_shape=image_shape)
    splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(X, y))
    jobs, threads = plan_threads(X, folds, n_jobs)
    out = np.zeros((len(y), n_classes), dtype=np.float64)
    report(0, folds, "cross-validating")
    if dask is not None:
        return _dask_folds(dask, template, X, y, splits, n_classes, out, report)
    if jobs == 1:
        for k, (train, test) in enumerate(splits):
            out[test] = _fold(clone(template), X, y, train, test, n_classes, threads)
            report(k + 1, folds, f"fold {k + 1}/{folds}")
        return out
    # A process pool of our own rather than joblib's reusable loky executor: leaving the
    # ``with`` block joins the workers and the pool's manager thread, so no thread outlives
    # the call (a process with extra threads may not fork: a later import here would lose its
    # writer process). loky keeps its executor for reuse and its shutdown left threads behind.
    # "spawn": forking a process that may run threads (a web server's) is unsafe.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [
            pool.submit(_fold, clone(template), X, y, train, test, n_classes, threads)
            for train, test in splits
        ]
        try:
            for k, ((_, test), future) in enumerate(zip(splits, futures, strict=True)):
                out[test] = future.result()
                report(k + 1, folds, f"fold {k + 1}/{folds}")
        finally:
            for future in futures:
                future.cancel()
    return out


def _dask_folds(
    dask: Any,
    template: Any,
    X: np.ndarray,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    n_classes: int,
    out: np.ndarray,
    report: ProgressCallback,
) -> np.ndarray:
    """The folds as tasks on a Dask cluster, gathered into ``out`` in fold order."""
    from assay.stats.distributed import connect

    if isinstance(dask, str):
        with connect(dask) as client:
            return _dask_folds(client, template, X, y, splits, n_classes, out, report)
    client = dask
    X_remote, y_remote = client.scatter([X, y], broadcast=True)
    futures = [
        # pure=False: the same arguments twice (a retry) must still train, not reuse a result
        client.submit(
            _fold, clone(template), X_remote, y_remote, train, test, n_classes, 1, pure=False
        )
        for train, test in splits
    ]
    try:
        for k, ((_, test), future) in enumerate(zip(splits, futures, strict=True)):
            out[test] = future.result()
            report(k + 1, len(splits), f"fold {k + 1}/{len(splits)} (dask)")
    finally:
        client.cancel(futures)
    return out


def plan_threads(X: np.ndarray, folds: int = 1, n_jobs: int | None = None) -> tuple[int, int]:
    """How many folds to train at once (worker processes) and CPU threads for each.

    Small problems run in this process on one thread: BLAS and OpenMP threads contending for
    busy cores made a logistic regression on the digits 25x slower here (6.4 s, not 0.23 s).
    Large ones (at least ``PARALLEL_MIN_VALUES`` feature values) train one fold per core,
    each with the cores left over, so the cores are used without oversubscribing them.
    """
    cores = os.cpu_count() or 1
    big = X.size >= PARALLEL_MIN_VALUES
    if n_jobs is None:
        jobs = min(folds, cores) if big else 1
    elif isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise InvalidParameter(f"The 'n_jobs' parameter must be an int >= 1. Got {n_jobs!r}.")
    else:
        jobs = min(n_jobs, folds)
    threads = max(1, cores // jobs) if big else 1
    return jobs, threads


def fit_with_threads(estimator: Any, X: np.ndarray, y: np.ndarray, threads: int) -> Any:
    """``estimator.fit(X, y)`` using at most ``threads`` CPU threads (BLAS, OpenMP, torch)."""
    from threadpoolctl import threadpool_limits

    if "n_threads" in estimator.get_params():
        estimator.set_params(n_threads=threads)
    with threadpool_limits(threads):
        return estimator.fit(X, y)


def _fold(
    estimator: Any,
    X: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    n_classes: int,
    threads: int,
) -> np.ndarray:
    """Fit on ``train`` and predict ``test`` (also run in worker processes)."""
    from threadpoolctl import threadpool_limits

    fit_with_threads(estimator, X[train], y[train], threads)
    with threadpool_limits(threads):
        return probs_in_columns(estimator, X[test], n_classes)
