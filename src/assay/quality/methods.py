"""Ways to find label issues from out-of-fold probabilities, registered by name.

Methods come in families, one per kind of label value: an annotation kind
(:mod:`assay.labels.kinds`) names its family in ``quality_check``, and :func:`methods_for`
finds it. Classification (class codes and class probabilities) is the only family so far;
:data:`METHODS` is its registry.

Every method takes the given labels (class codes) and out-of-fold ``pred_probs`` and returns a
:class:`Verdict`: a label-quality score per item (in [0, 1], low = likely wrong) that orders
the full ranking, and which items it flags. ``assay issues --method NAME`` (and
``ds.quality.find(method=...)``) picks one; the name is stored with each search.

The methods, all built on cleanlab:

* ``cleanlab`` (the default) - cleanlab's default ``find_label_issues`` (pruning by noise
  rate), less any item whose most probable class is the given one, ranked by
  self-confidence (the model's probability of the given label). Chosen on
  ``benchmarks/bench_label_issues.py`` (uniform, class-conditional, ambiguous-item and
  annotator noise on images, tables and text, and MNIST's human-confirmed errors): no other
  rule was at least as good on every row; ``benchmarks/RESULTS.md`` has the table.
* ``wide`` - cleanlab's default set together with as many items picked by one ranking over
  the whole dataset (the mean of self-confidence and normalized margin, among items whose
  most probable class is not the given one): it finds more of the errors cleanlab's per-class
  counts miss on images with uniform or class-conditional noise, and flags too many under
  annotator noise and on text;
* one method per cleanlab ``filter_by`` value (``prune_by_noise_rate``, ``prune_by_class``,
  ``both``, ``confident_learning``, ``predicted_neq_given``, ``low_normalized_margin``,
  ``low_self_confidence``), exactly as cleanlab computes it, ranked by self-confidence;
* ``self_confidence`` and ``normalized_margin``: rank by that score, flag as many of the
  lowest as cleanlab's calibrated estimate of the number of wrong labels, among items whose
  most probable class differs (``self_confidence`` is the rule Assay used before; it loses to
  cleanlab's default under annotator noise and on text).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.errors import InvalidParameter
from assay.labels.kinds import AnnotationKind

__all__ = [
    "DEFAULT_METHOD",
    "FAMILIES",
    "METHODS",
    "Verdict",
    "check_method",
    "methods_for",
    "run_method",
]


@dataclass(frozen=True)
class Verdict:
    """What one method says of every item (rows as given)."""

    quality: np.ndarray  # float64 in [0, 1]; low = likely mislabeled; orders the ranking
    is_issue: np.ndarray  # bool


Method = Callable[[np.ndarray, np.ndarray], Verdict]
METHODS: dict[str, Method] = {}  # the classification family
# Family name (an annotation kind's ``quality_check``) -> its methods (boxes: parameters of
# cleanlab's object-detection check, assay.quality.boxes, added at the end of this module).
FAMILIES: dict[str, dict[str, Any]] = {"classification": METHODS}
CLEANLAB_FILTERS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
)


def register(name: str) -> Callable[[Method], Method]:
    """Add a method to :data:`METHODS` under ``name``."""

    def add(method: Method) -> Method:
        METHODS[name] = method
        return method

    return add


def methods_for(kind: AnnotationKind) -> dict[str, Any]:
    """The label-issue methods that check labels of ``kind``; InvalidParameter if none do."""
    family = FAMILIES.get(kind.quality_check or "")
    if family is None:
        raise InvalidParameter(
            f"There is no label-quality check for {kind.name} layers yet; "
            f"checks exist for {', '.join(FAMILIES)} layers."
        )
    return family


def check_method(name: str, *, any_family: bool = False) -> str:
    """``name`` if it is a registered method (of any family with ``any_family``: a spec is
    checked before its layer's kind is known), else InvalidParameter listing them."""
    if any_family and any(name in family for family in FAMILIES.values()):
        return name
    if name not in METHODS:
        raise InvalidParameter(
            f"Unknown label-issue method {name!r}; use one of {DEFAULT_METHOD} (the default), "
            f"{', '.join(m for m in METHODS if m != DEFAULT_METHOD)}."
        )
    return name


def run_method(name: str, labels: np.ndarray, pred_probs: np.ndarray) -> Verdict:
    """Run the method ``name`` on validated labels and probabilities."""
    verdict = METHODS[check_method(name)](labels, pred_probs)
    quality = np.clip(np.asarray(verdict.quality, dtype=np.float64), 0.0, 1.0)
    return Verdict(quality, np.asarray(verdict.is_issue, dtype=bool))


def _scores(labels: np.ndarray, pred_probs: np.ndarray, score: str) -> np.ndarray:
    from cleanlab.rank import get_label_quality_scores

    return np.asarray(get_label_quality_scores(labels, pred_probs, method=score), np.float64)


def _lowest(quality: np.ndarray, count: int) -> np.ndarray:
    """A mask of the ``count`` lowest ``quality`` values (ties by row)."""
    flags = np.zeros(len(quality), dtype=bool)
    flags[np.lexsort((np.arange(len(quality)), quality))[: max(count, 0)]] = True
    return flags


def _cleanlab_filter(filter_by: str) -> Method:
    def method(labels: np.ndarray, pred_probs: np.ndarray) -> Verdict:
        from cleanlab.filter import find_label_issues

        with warnings.catch_warnings():
            # A class of a handful of items is checked as well as it can be; the count of
            # flagged items already says how many were found.
            warnings.filterwarnings("ignore", message="May not flag all label issues")
            # n_jobs=1: no process pool per call (a server thread must not fork).
            flags = find_label_issues(labels, pred_probs, filter_by=filter_by, n_jobs=1)
        return Verdict(_scores(labels, pred_probs, "self_confidence"), flags)

    method.__doc__ = f"cleanlab's ``find_label_issues(filter_by={filter_by!r})``."
    return method


for _name in CLEANLAB_FILTERS:
    register(_name)(_cleanlab_filter(_name))


def _calibrated_cut(score: str) -> Method:
    def method(labels: np.ndarray, pred_probs: np.ndarray) -> Verdict:
        from cleanlab.count import num_label_issues

        quality = _scores(labels, pred_probs, score)
        n_wrong = num_label_issues(labels, pred_probs, estimation_method="off_diagonal_calibrated")
        return Verdict(
            quality, _lowest(quality, int(n_wrong)) & (pred_probs.argmax(axis=1) != labels)
        )

    method.__doc__ = (
        f"Rank by {score}; flag the calibrated estimate of wrong labels among the lowest."
    )
    return method


register("self_confidence")(_calibrated_cut("self_confidence"))
register("normalized_margin")(_calibrated_cut("normalized_margin"))


@register("cleanlab")
def cleanlab_default(labels: np.ndarray, pred_probs: np.ndarray) -> Verdict:
    """cleanlab's default filter, less items whose most probable class is the given one."""
    verdict = METHODS["prune_by_noise_rate"](labels, pred_probs)
    return Verdict(verdict.quality, verdict.is_issue & (pred_probs.argmax(axis=1) != labels))


@register("wide")
def wide(labels: np.ndarray, pred_probs: np.ndarray) -> Verdict:
    """cleanlab's default set, plus as many again from one ranking over the whole dataset.

    cleanlab's default decides how many labels are wrong (its per-class noise rates) and picks
    them within each pair of classes, so a pair whose count it underestimates keeps some of its
    worst items unflagged. The same number of items is also picked by one global ranking (the
    mean of self-confidence and normalized margin, among items whose most probable class is
    not the given one), and both sets are flagged. Items are ranked by self-confidence, the
    model's probability of the given label.
    """
    cleanlab = METHODS["cleanlab"](labels, pred_probs)  # ranked by self-confidence
    flags = cleanlab.is_issue
    mean = (cleanlab.quality + _scores(labels, pred_probs, "normalized_margin")) / 2
    flags = flags | (_lowest(mean, int(flags.sum())) & (pred_probs.argmax(axis=1) != labels))
    return Verdict(cleanlab.quality, flags)


# The default: on the benchmark (uniform, class-conditional, ambiguous-item and annotator noise
# on images, tables and text) every rule tried beat cleanlab's default somewhere and lost to it
# elsewhere; ``wide`` wins on images with uniform or class-conditional noise and loses on
# annotator noise and on text (benchmarks/RESULTS.md).
DEFAULT_METHOD = "cleanlab"


# The boxes family (cleanlab's object-detection check): its methods are parameter sets.
from assay.quality.boxes import BOX_METHODS  # noqa: E402  (boxes imports no methods)

FAMILIES["boxes"] = BOX_METHODS

# The spans family (cleanlab's token-classification check).
from assay.quality.spans import SPAN_METHODS  # noqa: E402  (spans imports no methods)

FAMILIES["spans"] = SPAN_METHODS


# The tags family (cleanlab's multi-label check, assay.quality.tags).
from assay.quality.tags import TAG_METHODS  # noqa: E402  (tags imports no methods)

FAMILIES["tags"] = TAG_METHODS


# The number family (cleanlab's regression check with conformal intervals).
from assay.quality.numbers import NUMBER_METHODS  # noqa: E402

FAMILIES["number"] = NUMBER_METHODS
