"""Consensus labels from several annotation layers, with a confidence per item.

Three methods, each from a maintained library:

* ``majority-vote`` (crowd-kit ``MajorityVote``): the most frequent label. Ties go to the
  lowest class index: crowd-kit's own pick depends on the order of its vote counts, so the
  label is taken as the first maximum of its vote shares over the classes in index order.
  Confidence is the winner's share of the votes; annotator quality is the share of an
  annotator's labels that equal the consensus (its own vote included).
* ``dawid-skene`` (crowd-kit ``DawidSkene``, EM with a full confusion matrix per annotator):
  the class of highest posterior (lowest index on exact ties), confidence is that posterior;
  annotator quality is the mean of the diagonal of its estimated confusion matrix
  ``P(says c | true c)`` over the classes that occur in the labels, i.e. its estimated
  class-balanced accuracy, so a spammer scores about ``1 / n_classes``.
* ``crowdlab`` (cleanlab ``get_label_quality_multiannotator``, CROWDLAB): needs a model's
  out-of-sample ``pred_probs`` for every item; label is cleanlab's ``consensus_label``
  ("best_quality"), confidence its ``consensus_quality_score`` and annotator quality the
  ``annotator_quality`` of its ``annotator_stats``. cleanlab refuses items without labels and
  annotators without labels, so those are left out of its input; ``probs`` is None (cleanlab
  does not return its posterior).

Everywhere, items with no label at all get label -1, confidence 0 and a zero ``probs`` row;
annotators with no label get quality NaN. Results follow ``matrix.item_ids`` order.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from assay.errors import InvalidParameter
from assay.labels.matrix import MISSING, TIE, LabelMatrix

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LOW_CONFIDENCE", "METHODS", "ConsensusResult", "consensus", "consensus_of_others"]

METHODS: tuple[str, ...] = ("majority-vote", "dawid-skene", "crowdlab")
# A consensus label less sure than this is "low confidence": counted in the summary, and
# where a review scan opens cases by default.
LOW_CONFIDENCE = 0.7

DS_MAX_ITER = 100
DS_TOL = 1e-5

# label, confidence, probs, annotator quality
_Parts = tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[str, float]]


@dataclass(frozen=True)
class ConsensusResult:
    """One consensus label per item of the matrix, in ``item_ids`` order."""

    method: str
    item_ids: np.ndarray  # int64, as in the matrix
    label: np.ndarray  # int64 class codes, -1 where the item has no label at all
    confidence: np.ndarray  # float64 in [0, 1], 0 where the item has no label
    probs: np.ndarray | None  # (n_items, n_classes) float64, or None (crowdlab)
    annotator_quality: dict[str, float]  # layer name -> quality in [0, 1], NaN if no labels
    layers: tuple[str, ...] = ()  # the layers combined, in the matrix's column order

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values for JSON (NaN becomes None)."""
        return {
            "method": self.method,
            "layers": list(self.layers),
            "item_ids": self.item_ids.tolist(),
            "label": self.label.tolist(),
            "confidence": self.confidence.tolist(),
            "probs": None if self.probs is None else self.probs.tolist(),
            "annotator_quality": {
                k: (v if math.isfinite(v) else None) for k, v in self.annotator_quality.items()
            },
        }

    def summary(self, threshold: float = LOW_CONFIDENCE) -> dict[str, Any]:
        """What the consensus came to, in the words every face shows (CLI, job, web): the
        method, the layers combined, how many items got a label, their mean confidence, how
        many are below ``threshold`` (``n_low_confidence``) and each annotator's quality."""
        labeled = self.label >= 0
        confidence = self.confidence[labeled]
        return {
            "method": self.method,
            "layers": list(self.layers),
            "n_items": int(labeled.sum()),
            "mean_confidence": float(confidence.mean()) if confidence.size else None,
            "low_confidence_threshold": threshold,
            "n_low_confidence": int((confidence < threshold).sum()),
            "annotator_quality": self.to_dict()["annotator_quality"],
        }


@contextmanager
def _quiet_crowdkit() -> Iterator[None]:
    """Silence the pandas deprecation warnings crowd-kit 1.4 triggers (``inplace=``, ``copy=``).

    They are about crowd-kit's own pandas calls, not ours, and would turn into errors where
    warnings are errors (our test suite). Only warnings attributed to crowd-kit's modules are
    ignored; pandas' Pandas4Warning derives from DeprecationWarning, older ones are
    FutureWarning.
    """
    with warnings.catch_warnings():
        for category in (DeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category, module=r"crowdkit(\.|$)")
        yield


def _aligned_probs(probas: pd.DataFrame, matrix: LabelMatrix) -> np.ndarray:
    """crowd-kit's task x label frame as an item_ids x range(n_classes) array, 0 for gaps."""
    frame = probas.reindex(index=matrix.item_ids, columns=range(matrix.n_classes))
    return np.nan_to_num(frame.to_numpy(dtype=np.float64), nan=0.0)


def _labels_from_probs(probs: np.ndarray, has_label: np.ndarray) -> np.ndarray:
    """Argmax per row (first maximum, i.e. the lowest class index on ties); -1 if unlabeled."""
    return np.where(has_label, probs.argmax(axis=1), MISSING).astype(np.int64)


def _agreement_with(matrix: LabelMatrix, label: np.ndarray) -> dict[str, float]:
    """Per annotator: share of its labels equal to ``label`` (NaN when it labeled nothing)."""
    out = {}
    for j, name in enumerate(matrix.annotators):
        mine = matrix.codes[:, j]
        labeled = mine != MISSING
        out[name] = float(np.mean(mine[labeled] == label[labeled])) if labeled.any() else math.nan
    return out


def _majority_vote(matrix: LabelMatrix, long: pd.DataFrame, has_label: np.ndarray) -> _Parts:
    from crowdkit.aggregation import MajorityVote

    with _quiet_crowdkit():
        model = MajorityVote().fit(long)
    probs = _aligned_probs(model.probas_, matrix)
    label = _labels_from_probs(probs, has_label)
    return label, probs.max(axis=1), probs, _agreement_with(matrix, label)


def _dawid_skene(matrix: LabelMatrix, long: pd.DataFrame, has_label: np.ndarray) -> _Parts:
    from crowdkit.aggregation import DawidSkene

    with _quiet_crowdkit():
        model = DawidSkene(n_iter=DS_MAX_ITER, tol=DS_TOL).fit(long)
    probs = _aligned_probs(model.probas_, matrix)
    label = _labels_from_probs(probs, has_label)
    confidence = np.take_along_axis(probs, np.maximum(label, 0)[:, None], axis=1)[:, 0]
    confidence = np.where(has_label, confidence, 0.0)

    # errors_: index (worker, observed label), columns true label; rows the worker never used
    # are absent (probability 0). Average P(observed c | true c) over the classes in the data.
    errors = model.errors_
    if errors is None:  # crowd-kit sets it in fit(); the attribute is typed Optional
        raise RuntimeError("crowd-kit's DawidSkene returned no error matrices")
    seen = sorted(int(c) for c in errors.columns)
    workers = set(errors.index.get_level_values(0))
    quality = {}
    for name in matrix.annotators:
        if name not in workers:
            quality[name] = math.nan
            continue
        conf = errors.xs(name, level=0).reindex(index=seen, columns=seen).fillna(0.0)
        quality[name] = float(np.mean(np.diag(conf.to_numpy(dtype=np.float64))))
    return label, confidence, probs, quality


def _crowdlab(matrix: LabelMatrix, pred_probs: np.ndarray | None, has_label: np.ndarray) -> _Parts:
    import pandas as pd

    if pred_probs is None:
        raise InvalidParameter(
            "method 'crowdlab' needs pred_probs: a model's out-of-sample class probabilities, "
            f"shape ({matrix.n_items}, {matrix.n_classes})"
        )
    pred_probs = np.asarray(pred_probs, dtype=np.float64)
    if pred_probs.shape != (matrix.n_items, matrix.n_classes):
        raise InvalidParameter(
            f"pred_probs has shape {pred_probs.shape}, expected "
            f"({matrix.n_items}, {matrix.n_classes}): one row per item, one column per class"
        )
    if not np.isfinite(pred_probs).all() or (pred_probs < 0).any():
        raise InvalidParameter("pred_probs must be finite and non-negative")

    codes = matrix.codes[has_label]
    active = (codes != MISSING).any(axis=0)  # cleanlab rejects annotators with no label
    names = [n for n, a in zip(matrix.annotators, active, strict=True) if a]
    if len(names) < 2 or not ((codes != MISSING).sum(axis=1) >= 2).any():
        raise InvalidParameter(
            "method 'crowdlab' needs at least 2 annotators with labels and an item with 2 labels"
        )
    frame = pd.DataFrame(
        np.where(codes[:, active] == MISSING, np.nan, codes[:, active].astype(np.float64)),
        columns=names,
    )

    from cleanlab.multiannotator import get_label_quality_multiannotator

    with warnings.catch_warnings():
        # cleanlab warns when no two annotators agree anywhere; the low quality scores say so.
        warnings.filterwarnings("ignore", message="Annotators do not agree on any example")
        try:
            result = get_label_quality_multiannotator(
                frame, pred_probs[has_label], return_detailed_quality=False, verbose=False
            )
        except ValueError as exc:
            raise InvalidParameter(f"crowdlab could not use these labels: {exc}") from exc

    quality_frame = result["label_quality"]
    label = np.full(matrix.n_items, MISSING, dtype=np.int64)
    label[has_label] = quality_frame["consensus_label"].to_numpy(dtype=np.int64)
    confidence = np.zeros(matrix.n_items, dtype=np.float64)
    confidence[has_label] = quality_frame["consensus_quality_score"].to_numpy(dtype=np.float64)
    stats = result["annotator_stats"]["annotator_quality"]
    quality = {
        name: float(stats[name]) if name in stats.index else math.nan for name in matrix.annotators
    }
    return label, confidence, None, quality


def consensus(
    matrix: LabelMatrix,
    method: str = "dawid-skene",
    *,
    pred_probs: np.ndarray | None = None,
    seed: int = 0,
) -> ConsensusResult:
    """One consensus label and a confidence per item of ``matrix`` (see the module docstring).

    ``pred_probs`` (items x classes, rows in ``matrix.item_ids`` order) is required by
    ``crowdlab`` and ignored by the others. ``seed`` is accepted for methods with random
    initialization; the three current methods are deterministic and do not use it.
    """
    del seed  # all current methods are deterministic
    if method not in METHODS:
        raise InvalidParameter(
            f"unknown consensus method {method!r}; choose one of: {', '.join(METHODS)}"
        )
    codes = matrix.codes
    if ((codes < MISSING) | (codes >= matrix.n_classes)).any():
        raise InvalidParameter(f"label codes must be -1 (missing) or 0..{matrix.n_classes - 1}")
    has_label = matrix.labeled_counts() > 0

    if method == "crowdlab":
        label, confidence, probs, quality = _crowdlab(matrix, pred_probs, has_label)
    elif not has_label.any():
        label = np.full(matrix.n_items, MISSING, dtype=np.int64)
        confidence = np.zeros(matrix.n_items)
        probs = np.zeros((matrix.n_items, matrix.n_classes))
        quality = dict.fromkeys(matrix.annotators, math.nan)
    else:
        run = _majority_vote if method == "majority-vote" else _dawid_skene
        label, confidence, probs, quality = run(matrix, matrix.to_long(), has_label)

    return ConsensusResult(
        method=method,
        item_ids=matrix.item_ids,
        label=label,
        confidence=np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0),
        probs=probs,
        annotator_quality=quality,
        layers=tuple(matrix.annotators),
    )


def consensus_of_others(matrix: LabelMatrix, method: str) -> np.ndarray:
    """Leave-one-out references: column ``j`` is the consensus by ``method`` of every layer but
    ``matrix.annotators[j]``, one class code per item (``MISSING`` where the other layers give
    no label, ``TIE`` where their best classes tie).

    A layer is rated against a vote it takes no part in: with a consensus of all the layers, a
    layer's own label counts in its reference, and with two layers it decides every tie (and
    scores 100 %). Ties are told apart from labels because a tie-break would pick a side.
    """
    out = np.full((matrix.n_items, len(matrix.annotators)), MISSING, dtype=np.int64)
    for j, name in enumerate(matrix.annotators):
        others = [a for a in matrix.annotators if a != name]
        if not others:
            continue
        result = consensus(matrix.select(others), method)
        label = result.label.copy()
        if result.probs is not None and matrix.n_classes > 1:
            top2 = -np.sort(-result.probs, axis=1)[:, :2]
            label[(label != MISSING) & np.isclose(top2[:, 0], top2[:, 1], rtol=0, atol=1e-12)] = TIE
        out[:, j] = label
    return out
