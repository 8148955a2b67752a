"""Inter-annotator agreement over a :class:`~assay.labels.matrix.LabelMatrix`.

Everything here is pure computation on the in-memory matrix, delegated where a maintained
implementation exists: Cohen's kappa and confusion matrices from scikit-learn, Fleiss' kappa
from statsmodels, Krippendorff's alpha from the ``krippendorff`` package. The counting
statistics (percent agreement, specific agreement per class) are a few lines of numpy over the
item x class count table.

Conventions, for items with ``n_i >= 2`` labels of which ``n_ic`` say class ``c``:

* percent agreement of an item is the share of ordered pairs of its labels that agree,
  ``P_i = sum_c n_ic (n_ic - 1) / (n_i (n_i - 1))`` (Fleiss' ``P_i``, allowing ``n_i`` to vary),
  and the report gives its mean over the items with at least two labels;
* specific (positive) agreement on class ``c`` is
  ``sum_i n_ic (n_ic - 1) / sum_i n_ic (n_i - 1)``: among all ordered pairs of labels on the same
  item whose *first* member says ``c``, the share whose second member says ``c`` too. In
  unordered pairs that is ``2 * (pairs agreeing on c) / (2 * (pairs agreeing on c) + pairs
  where exactly one says c)``; for two annotators it is Uebersax's / Cicchetti and Feinstein's
  positive agreement ``2a / (2a + b + c)``.

Heavy libraries are imported inside the functions that need them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import numpy as np

from assay.errors import InvalidParameter
from assay.labels.matrix import MISSING, TIE, LabelMatrix

__all__ = [
    "AgreementReport",
    "AnnotatorQuality",
    "ClassAgreement",
    "FleissResult",
    "PairwiseAgreement",
    "agreement",
    "class_counts",
    "confusion",
    "fleiss_kappa_from_counts",
]


@dataclass(frozen=True)
class PairwiseAgreement:
    """Agreement of two annotators over the items both labeled."""

    a: str
    b: str
    n_common: int
    percent_agreement: float | None  # None when n_common == 0
    cohen_kappa: float | None  # None when n_common == 0 or only one class occurs


@dataclass(frozen=True)
class FleissResult:
    """Fleiss' kappa over the items that *every* annotator labeled (it needs a full table)."""

    kappa: float | None  # None when no item is complete or only one class occurs
    n_items_used: int
    restriction: str = "items labeled by every annotator"


@dataclass(frozen=True)
class ClassAgreement:
    """Specific agreement on one class (see the module docstring for the formula)."""

    name: str
    support: int  # labels of this class on items with at least two labels
    specific_agreement: float | None  # None when support == 0


@dataclass(frozen=True)
class AnnotatorQuality:
    """One annotator compared with a reference labeling (for example the consensus of the other
    annotators)."""

    annotator: str
    n_labeled: int  # items this annotator labeled
    n_compared: int  # of those, items the reference labels too
    n_ties: int  # of those, items where the reference is a tie: left out of the comparison
    accuracy: float | None  # None when n_compared == 0
    cohen_kappa: float | None  # None when n_compared == 0 or only one class occurs


@dataclass(frozen=True)
class AgreementReport:
    """Every agreement statistic of a label matrix; ``to_dict()`` is JSON-ready."""

    annotators: list[str]
    classes: list[str]
    n_items: int
    n_items_with_2plus_labels: int
    n_labels: int
    percent_agreement: float  # mean pairwise agreement over items with >= 2 labels
    full_agreement: float  # share of items with >= 2 labels where all labels agree
    pairwise: list[PairwiseAgreement]
    fleiss: FleissResult
    krippendorff_alpha: float | None  # nominal; None when undefined (a single class used)
    per_class: list[ClassAgreement]
    annotator_quality: list[AnnotatorQuality] | None  # only when a reference was given
    reference_rule: str | None = None  # what each annotator was compared with, in words

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values only (NaN and infinities become None), ready for JSON."""
        return plain_json(asdict(self))


def plain_json(value: Any) -> Any:
    """``value`` with plain Python values only (numpy scalars unwrapped, NaN and infinities
    as None), ready for JSON."""
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def class_counts(codes: np.ndarray, n_classes: int) -> np.ndarray:
    """Item x class table of how many labels each item got per class (missing ignored)."""
    codes = np.asarray(codes)
    counts = np.zeros((codes.shape[0], n_classes), dtype=np.int64)
    rows, cols = np.nonzero(codes != MISSING)
    np.add.at(counts, (rows, codes[rows, cols].astype(np.int64)), 1)
    return counts


def fleiss_kappa_from_counts(counts: np.ndarray) -> float | None:
    """Fleiss' kappa (statsmodels) from an item x class count table with equal row sums.

    Returns None when it is undefined: no rows, or all labels in a single class (expected
    agreement 1, so kappa is 0/0).
    """
    from statsmodels.stats.inter_rater import fleiss_kappa

    counts = np.asarray(counts)
    if counts.shape[0] == 0 or np.count_nonzero(counts.sum(axis=0)) < 2:
        return None
    if len(np.unique(counts.sum(axis=1))) != 1:
        raise InvalidParameter("Fleiss' kappa needs the same number of labels on every item")
    return float(fleiss_kappa(counts, method="fleiss"))


def _kappa(x: np.ndarray, y: np.ndarray, n_classes: int) -> float | None:
    """Cohen's kappa, or None where it is undefined (no items, or a single class overall)."""
    from sklearn.metrics import cohen_kappa_score

    if len(x) == 0 or len(np.unique(np.concatenate([x, y]))) < 2:
        return None
    return float(cohen_kappa_score(x, y, labels=list(range(n_classes))))


def _krippendorff_alpha(codes: np.ndarray, n_classes: int) -> float | None:
    """Nominal alpha over all items (items with one label are not pairable and drop out)."""
    import krippendorff

    pairable = (codes != MISSING).sum(axis=1) >= 2
    values = codes[pairable]
    if n_classes < 2 or len(np.unique(values[values != MISSING])) < 2:
        return None  # expected disagreement is 0: alpha is 0/0
    data = np.where(codes == MISSING, np.nan, codes.astype(np.float64)).T  # annotators x items
    return float(
        krippendorff.alpha(
            reliability_data=data,
            value_domain=np.arange(n_classes, dtype=np.float64),
            level_of_measurement="nominal",
        )
    )


def _index(matrix: LabelMatrix, annotator: str) -> int:
    try:
        return matrix.annotators.index(annotator)
    except ValueError:
        raise InvalidParameter(
            f"no annotator {annotator!r}; the matrix has {', '.join(matrix.annotators)}"
        ) from None


def confusion(matrix: LabelMatrix, a: str, b: str) -> np.ndarray:
    """Class x class counts of annotator ``a`` (rows) against ``b`` (columns).

    Over the items both labeled; rows and columns follow ``matrix.classes``.
    """
    from sklearn.metrics import confusion_matrix

    x, y = matrix.codes[:, _index(matrix, a)], matrix.codes[:, _index(matrix, b)]
    both = (x != MISSING) & (y != MISSING)
    if not both.any():
        return np.zeros((matrix.n_classes, matrix.n_classes), dtype=np.int64)
    return confusion_matrix(x[both], y[both], labels=list(range(matrix.n_classes)))


def _pairwise(matrix: LabelMatrix) -> list[PairwiseAgreement]:
    out = []
    for i, j in combinations(range(len(matrix.annotators)), 2):
        x, y = matrix.codes[:, i], matrix.codes[:, j]
        both = (x != MISSING) & (y != MISSING)
        n = int(both.sum())
        out.append(
            PairwiseAgreement(
                a=matrix.annotators[i],
                b=matrix.annotators[j],
                n_common=n,
                percent_agreement=float(np.mean(x[both] == y[both])) if n else None,
                cohen_kappa=_kappa(x[both], y[both], matrix.n_classes),
            )
        )
    return out


def _annotator_quality(matrix: LabelMatrix, reference: np.ndarray) -> list[AnnotatorQuality]:
    reference = np.asarray(reference)
    shared = reference.shape == (matrix.n_items,)
    if not shared and reference.shape != (matrix.n_items, len(matrix.annotators)):
        raise InvalidParameter(
            f"reference has shape {reference.shape}, expected ({matrix.n_items},): "
            "one class code per item, -1 where missing (or one column per annotator)"
        )
    if not np.issubdtype(reference.dtype, np.integer):
        raise InvalidParameter(f"reference must hold integer class codes, not {reference.dtype}")
    if ((reference < TIE) | (reference >= matrix.n_classes)).any():
        raise InvalidParameter(
            f"reference codes must be -1 (missing), -2 (a tie) or 0..{matrix.n_classes - 1}"
        )
    out = []
    for j, name in enumerate(matrix.annotators):
        x = matrix.codes[:, j]
        ref = reference if shared else reference[:, j]
        labeled = x != MISSING
        both = labeled & (ref >= 0)
        n = int(both.sum())
        out.append(
            AnnotatorQuality(
                annotator=name,
                n_labeled=int(labeled.sum()),
                n_compared=n,
                n_ties=int((labeled & (ref == TIE)).sum()),
                accuracy=float(np.mean(x[both] == ref[both])) if n else None,
                cohen_kappa=_kappa(x[both], ref[both], matrix.n_classes),
            )
        )
    return out


def agreement(
    matrix: LabelMatrix,
    *,
    reference: np.ndarray | None = None,
    reference_rule: str | None = None,
) -> AgreementReport:
    """Compute every agreement statistic of ``matrix``.

    ``reference``, when given, adds each annotator's accuracy and Cohen's kappa against it: one
    class code per item (-1 where missing), or one column per annotator, each annotator's own
    reference (as :func:`assay.labels.consensus.consensus_of_others` makes: the consensus of
    the other annotators, which never includes the annotator's own vote). Items where an
    annotator's reference is ``TIE`` (-2) are left out of its comparison and counted in
    ``n_ties``. ``reference_rule`` says in words what the reference is, for the report.

    Raises :class:`InvalidParameter` with fewer than two annotators or when no item has two
    labels: agreement is then undefined.
    """
    if len(matrix.annotators) < 2:
        raise InvalidParameter(
            f"agreement needs at least 2 annotators (layers), got {len(matrix.annotators)}"
        )
    codes = matrix.codes
    k = matrix.n_classes
    counts = class_counts(codes, k)
    n_per_item = counts.sum(axis=1)
    multi = n_per_item >= 2
    if not multi.any():
        raise InvalidParameter(
            "agreement needs items labeled by at least 2 annotators; no item has 2 labels"
        )

    c, n = counts[multi], n_per_item[multi]
    same_pairs = (c * (c - 1)).sum(axis=1)  # ordered pairs agreeing, per item
    percent = float(np.mean(same_pairs / (n * (n - 1))))
    full = float(np.mean(c.max(axis=1) == n))

    agree_c = (c * (c - 1)).sum(axis=0)  # ordered agreeing pairs on each class
    possible_c = (c * (n - 1)[:, None]).sum(axis=0)  # ordered pairs starting with that class
    support = c.sum(axis=0)
    per_class = [
        ClassAgreement(
            name=name,
            support=int(support[j]),
            specific_agreement=float(agree_c[j] / possible_c[j]) if possible_c[j] else None,
        )
        for j, name in enumerate(matrix.classes)
    ]

    complete = (codes != MISSING).all(axis=1)
    fleiss = FleissResult(
        kappa=fleiss_kappa_from_counts(_aggregate(codes[complete], k)),
        n_items_used=int(complete.sum()),
    )

    return AgreementReport(
        annotators=list(matrix.annotators),
        classes=list(matrix.classes),
        n_items=matrix.n_items,
        n_items_with_2plus_labels=int(multi.sum()),
        n_labels=int(n_per_item.sum()),
        percent_agreement=percent,
        full_agreement=full,
        pairwise=_pairwise(matrix),
        fleiss=fleiss,
        krippendorff_alpha=_krippendorff_alpha(codes, k),
        per_class=per_class,
        annotator_quality=None if reference is None else _annotator_quality(matrix, reference),
        reference_rule=None if reference is None else reference_rule,
    )


def _aggregate(codes: np.ndarray, n_classes: int) -> np.ndarray:
    """statsmodels' aggregate_raters: items x raters codes to an items x classes table."""
    from statsmodels.stats.inter_rater import aggregate_raters

    if codes.shape[0] == 0:
        return np.zeros((0, n_classes), dtype=np.int64)
    table, _ = aggregate_raters(codes.astype(np.int64), n_cat=n_classes)
    return np.asarray(table)
