"""Label issues, outliers and near-duplicates from arrays: the pure part of ``assay.quality``.

Everything here works on numpy arrays in one order (row ``i`` is one item) and knows nothing
of the store. The label check follows confident learning (cleanlab):

* **quality** of a label is a score in [0, 1] (low = likely wrong) that orders the full
  ranking, and the **issues** are the items flagged; both come from one registered method
  (:mod:`assay.quality.methods`, chosen per search, recorded with it);
* **how many** labels are wrong is also estimated from cleanlab's calibrated confident joint
  (``num_label_issues(..., estimation_method="off_diagonal_calibrated")``), for the summary.

Outliers and near-duplicates come from cleanlab's ``Datalab`` on feature vectors, with one
k-nearest-neighbour graph (scikit-learn) shared by both checks and by the neighbours shown as
evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assay.errors import InvalidParameter, MissingDependency
from assay.labels.matrix import MISSING, LabelMatrix
from assay.quality.methods import DEFAULT_METHOD, check_method, run_method

__all__ = [
    "DataIssues",
    "LabelIssues",
    "check_pred_probs",
    "find_data_issues",
    "find_label_issues",
    "given_labels",
    "nearest_neighbours",
]

PROB_SUM_TOLERANCE = 1e-3
N_NEIGHBOURS = 10  # neighbours for the outlier and near-duplicate checks (Datalab's default)


@dataclass(frozen=True)
class LabelIssues:
    """Per item (rows as given): label quality, whether it is an issue, and the suggestion."""

    quality: np.ndarray  # float64 in [0, 1]: probability of the given label; low = suspect
    is_issue: np.ndarray  # bool
    suggested: np.ndarray  # int64: the most probable class
    confidence: np.ndarray  # float64: the probability of the suggested class
    n_estimated: int  # cleanlab's estimate of the number of wrong labels
    method: str  # the method that scored and flagged (assay.quality.methods)


@dataclass(frozen=True)
class DataIssues:
    """Per item (rows as given): outlier score and flag, near-duplicate, and neighbours."""

    outlier_score: np.ndarray  # float64 in [0, 1]; low = far from the other items
    is_outlier: np.ndarray  # bool
    duplicate_of: np.ndarray  # int64 row of the nearest near-duplicate, -1 if none
    neighbours: np.ndarray  # int64 (n_items, k) rows of the nearest other items, nearest first


def check_pred_probs(labels: np.ndarray, pred_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels (int codes) and probabilities (one row per label, rows summing to 1).

    Returns them as int64 and float64 arrays; raises InvalidParameter saying what is wrong.
    """
    labels = np.asarray(labels)
    pred_probs = np.asarray(pred_probs, dtype=np.float64)
    if pred_probs.ndim != 2:
        raise InvalidParameter(
            f"pred_probs must be a 2-D array (n_items, n_classes); got shape {pred_probs.shape}."
        )
    n, k = pred_probs.shape
    if labels.shape != (n,):
        raise InvalidParameter(
            f"labels must have one entry per row of pred_probs: {n} rows, labels of shape "
            f"{labels.shape}."
        )
    if k < 2:
        raise InvalidParameter(f"pred_probs needs at least 2 class columns; got {k}.")
    if n and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= k):
        raise InvalidParameter(f"labels must be class codes in 0..{k - 1}.")
    if not np.isfinite(pred_probs).all() or (pred_probs < 0).any():
        raise InvalidParameter("pred_probs must be finite and non-negative.")
    sums = pred_probs.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > PROB_SUM_TOLERANCE)
    if len(bad):
        raise InvalidParameter(
            f"Each row of pred_probs must sum to 1; {len(bad)} rows do not (row {int(bad[0])} "
            f"sums to {sums[bad[0]]:.4g}). Were they written for a different set of classes?"
        )
    return labels.astype(np.int64), pred_probs


def find_label_issues(
    labels: np.ndarray, pred_probs: np.ndarray, method: str = DEFAULT_METHOD
) -> LabelIssues:
    """Label quality, label issues and suggested labels from out-of-fold probabilities.

    Parameters
    ----------
    labels : ndarray of shape (n_items,)
        Given class codes in ``[0, n_classes)``.
    pred_probs : ndarray of shape (n_items, n_classes)
        Out-of-fold class probabilities: row ``i`` from a model that never saw item ``i``.
    method : str, default :data:`assay.quality.methods.DEFAULT_METHOD`
        How to score and flag (:mod:`assay.quality.methods`).

    Returns
    -------
    LabelIssues
        See the module docstring for how quality and issues are defined.

    Raises
    ------
    InvalidParameter
        Shapes that do not match, labels out of range, rows that do not sum to 1, an unknown
        method.
    """
    check_method(method)
    labels, pred_probs = check_pred_probs(labels, pred_probs)
    n = len(labels)
    suggested = pred_probs.argmax(axis=1).astype(np.int64)
    confidence = pred_probs[np.arange(n), suggested]
    if n == 0:
        empty = np.zeros(0, dtype=np.float64)
        return LabelIssues(empty, np.zeros(0, bool), suggested, empty, 0, method)

    if len(np.unique(labels)) < 2:
        raise InvalidParameter(
            "Label quality needs labels of at least two classes to compare; these are all of "
            "one class. Check the whole dataset (or a wider slice) instead."
        )
    from cleanlab.count import num_label_issues

    verdict = run_method(method, labels, pred_probs)
    n_estimated = int(
        num_label_issues(labels, pred_probs, estimation_method="off_diagonal_calibrated")
    )
    return LabelIssues(
        verdict.quality, verdict.is_issue, suggested, confidence, n_estimated, method
    )


def given_labels(matrix: LabelMatrix, pred_probs: np.ndarray | None = None) -> np.ndarray:
    """One given label per item of ``matrix``: its label, or where several annotators (layers)
    labeled it, CROWDLAB's consensus of their labels and the model's ``pred_probs``.

    Items no layer labeled get -1. CROWDLAB runs over every labeled item (so each annotator's
    quality is estimated from all of their labels) but replaces only multiply-labeled ones.
    """
    from assay.labels.consensus import consensus

    codes = matrix.codes.astype(np.int64)
    labeled = codes != MISSING
    first = np.where(labeled.any(axis=1), codes[np.arange(len(codes)), labeled.argmax(axis=1)], -1)
    several = labeled.sum(axis=1) >= 2
    if not several.any():
        return first
    if pred_probs is None:
        raise InvalidParameter("Items with several annotators need pred_probs for CROWDLAB.")
    has = labeled.any(axis=1)
    result = consensus(matrix.rows(has), "crowdlab", pred_probs=np.asarray(pred_probs)[has])
    out = first.copy()
    crowd = np.full(len(codes), -1, dtype=np.int64)
    crowd[has] = result.label
    out[several] = crowd[several]
    return out


def nearest_neighbours(X: np.ndarray, k: int = N_NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other rows of each row of ``X``, nearest first.

    The distance is Datalab's default: cosine, or Euclidean for three features or fewer (in
    one or two dimensions most directions coincide). Returns (indices, distances), both of
    shape (n_items, k') with ``k' = min(k, n_items - 1)``.
    """
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(X, dtype=np.float32)
    k = min(k, len(X) - 1)
    if k < 1:
        return np.zeros((len(X), 0), np.int64), np.zeros((len(X), 0), np.float64)
    metric = "cosine" if X.shape[1] > 3 else "euclidean"
    index = NearestNeighbors(n_neighbors=k, metric=metric).fit(X)
    distances, indices = index.kneighbors()  # no argument: each row's own entry is left out
    return indices.astype(np.int64), np.maximum(distances, 0.0)


def find_data_issues(X: np.ndarray, labels: np.ndarray, k: int = N_NEIGHBOURS) -> DataIssues:
    """Outliers and near-duplicates among the rows of ``X`` (cleanlab ``Datalab``).

    Both checks share one k-nearest-neighbour graph; the neighbours are returned too,
    as evidence for a reviewer. Datalab needs a few more rows than neighbours; with fewer
    items (a toy dataset) nothing is flagged and only the neighbours are returned.

    Raises
    ------
    InvalidParameter
        ``X`` is not 2-D, has a row count other than ``labels``, or non-finite values.
    MissingDependency
        cleanlab's Datalab is not installed (``pip install 'cleanlab[datalab]'``).
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or len(X) != len(labels):
        raise InvalidParameter(
            f"Features must be a 2-D array with one row per item ({len(labels)}); "
            f"got shape {X.shape}."
        )
    if not np.isfinite(X).all():
        raise InvalidParameter("Features must be finite (no NaN or infinity).")
    n = len(X)
    indices, distances = nearest_neighbours(X, k)
    none = DataIssues(np.ones(n), np.zeros(n, bool), np.full(n, -1, np.int64), indices)
    if n <= 2 * k:
        return none
    from scipy.sparse import csr_matrix

    try:
        from cleanlab import Datalab
    except ImportError as exc:
        raise MissingDependency(
            f"Outliers and near-duplicates need cleanlab's Datalab: pip install "
            f"'cleanlab[datalab]' (or find issues with features=False). {exc}"
        ) from None
    width = indices.shape[1]
    graph = csr_matrix(
        (distances.ravel(), indices.ravel(), np.arange(0, n * width + 1, width)), shape=(n, n)
    )
    lab = Datalab(data={"label": np.asarray(labels)}, label_name="label", verbosity=0)
    # The graph alone (not the features too): Datalab warns when given both, and would use
    # the graph anyway.
    lab.find_issues(knn_graph=graph, issue_types={"outlier": {}, "near_duplicate": {}})
    frame = lab.get_issues()
    duplicate_of = np.full(n, -1, dtype=np.int64)
    for i, dup_set in enumerate(lab.get_info("near_duplicate")["near_duplicate_sets"]):
        if len(dup_set):
            # The nearest member of its set: neighbours are sorted, so the first one in the set.
            members = set(int(j) for j in dup_set)
            duplicate_of[i] = next((int(j) for j in indices[i] if int(j) in members), min(members))
    return DataIssues(
        outlier_score=frame["outlier_score"].to_numpy(dtype=np.float64),
        is_outlier=frame["is_outlier_issue"].to_numpy(dtype=bool),
        duplicate_of=duplicate_of,
        neighbours=indices,
    )
