"""Agreement statistics against published worked examples, plus the edge cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assay.errors import InvalidParameter
from assay.labels.agreement import (
    agreement,
    class_counts,
    confusion,
    fleiss_kappa_from_counts,
)
from assay.labels.matrix import MISSING, LabelMatrix

# Wikipedia, "Fleiss' kappa", worked example (10 subjects, 14 raters, 5 categories); the same
# table is in Fleiss (1971). Published: P-bar = 0.378, P-bar_e = 0.213, kappa = 0.210.
FLEISS_COUNTS = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
# 12 units, values 1..5, missing data (None). Published: nominal alpha = 0.743.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],  # observer A
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],  # observer B
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],  # observer C
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],  # observer D
]


def _matrix_from_counts(counts: np.ndarray) -> LabelMatrix:
    """One annotator per rater: rater r of an item gives the r-th label of its sorted counts."""
    n_items, n_classes = counts.shape
    codes = np.stack([np.repeat(np.arange(n_classes), row) for row in counts]).astype(np.int16)
    return LabelMatrix(
        np.arange(n_items),
        [f"r{j}" for j in range(codes.shape[1])],
        [str(c) for c in range(n_classes)],
        codes,
    )


def _cohen_wikipedia() -> LabelMatrix:
    """Wikipedia, "Cohen's kappa", grant example: 50 proposals, readers A and B.

    Both yes 20, A yes / B no 5, A no / B yes 10, both no 15. Published: p_o = 0.7,
    p_e = 0.5, kappa = 0.4.
    """
    yes, no = 0, 1
    pairs = [(yes, yes)] * 20 + [(yes, no)] * 5 + [(no, yes)] * 10 + [(no, no)] * 15
    codes = np.array(pairs, dtype=np.int16)
    return LabelMatrix(np.arange(50), ["A", "B"], ["yes", "no"], codes)


def test_fleiss_kappa_matches_the_wikipedia_worked_example() -> None:
    assert fleiss_kappa_from_counts(FLEISS_COUNTS) == pytest.approx(0.210, abs=5e-4)

    report = agreement(_matrix_from_counts(FLEISS_COUNTS))
    assert report.fleiss.kappa == pytest.approx(0.210, abs=5e-4)
    assert report.fleiss.n_items_used == 10
    # P-bar, the mean per-subject agreement, is the report's percent agreement.
    assert report.percent_agreement == pytest.approx(0.378, abs=5e-4)
    assert report.n_labels == 140
    assert report.full_agreement == pytest.approx(0.1)  # only subject 1 is unanimous


def test_krippendorff_alpha_matches_the_2011_worked_example() -> None:
    values = np.array(
        [[MISSING if v is None else v - 1 for v in row] for row in KRIPPENDORFF_2011]
    ).T.astype(np.int16)
    matrix = LabelMatrix(np.arange(12), list("ABCD"), ["1", "2", "3", "4", "5"], values)
    report = agreement(matrix)
    assert report.krippendorff_alpha == pytest.approx(0.743, abs=5e-4)
    assert report.n_items == 12
    assert report.n_items_with_2plus_labels == 11  # unit 12 has a single value
    assert report.n_labels == 41
    assert report.fleiss.n_items_used == 8  # units 2-9 are the only complete ones
    assert report.fleiss.restriction == "items labeled by every annotator"


def test_cohen_kappa_confusion_and_specific_agreement_match_the_wikipedia_example() -> None:
    matrix = _cohen_wikipedia()
    report = agreement(matrix)
    (pair,) = report.pairwise
    assert (pair.a, pair.b, pair.n_common) == ("A", "B", 50)
    assert pair.percent_agreement == pytest.approx(0.7)
    assert pair.cohen_kappa == pytest.approx(0.4)
    assert report.percent_agreement == pytest.approx(0.7)
    assert report.full_agreement == pytest.approx(0.7)
    # With two coders and no missing data Fleiss' kappa is Scott's pi: pooled marginals
    # 55/100 yes, 45/100 no -> p_e = 0.505, pi = (0.7 - 0.505) / 0.495.
    assert report.fleiss.kappa == pytest.approx(0.195 / 0.495)
    # Krippendorff's nominal alpha = 1 - (n - 1) * D_o / D_e = 1 - 99 * 30 / (2 * 55 * 45).
    assert report.krippendorff_alpha == pytest.approx(0.4)
    np.testing.assert_array_equal(confusion(matrix, "A", "B"), [[20, 5], [10, 15]])
    np.testing.assert_array_equal(confusion(matrix, "B", "A"), [[20, 10], [5, 15]])
    # Positive / negative specific agreement 2a / (2a + b + c): 40 / 55 and 30 / 45.
    yes, no = report.per_class
    assert (yes.name, yes.support, no.support) == ("yes", 55, 45)
    assert yes.specific_agreement == pytest.approx(40 / 55)
    assert no.specific_agreement == pytest.approx(30 / 45)


def test_specific_agreement_with_three_annotators_and_missing_labels() -> None:
    # item 0: c0 c0 c1; item 1: c1 c1 -; item 2: c0 - - (one label: not counted)
    codes = np.array([[0, 0, 1], [1, 1, MISSING], [0, MISSING, MISSING]], dtype=np.int16)
    report = agreement(LabelMatrix(np.arange(3), ["a", "b", "c"], ["x", "y"], codes))
    # class x: agreeing ordered pairs 2*1 (item 0); ordered pairs starting with x: 2*(3-1)
    # class y: agreeing 0 (item 0) + 2*1 (item 1); starting with y: 1*2 + 2*1
    x, y = report.per_class
    assert x.specific_agreement == pytest.approx(2 / 4)
    assert y.specific_agreement == pytest.approx(2 / 4)
    assert (x.support, y.support) == (2, 3)
    # item 0: 2 of 6 ordered pairs agree; item 1: 2 of 2
    assert report.percent_agreement == pytest.approx((2 / 6 + 1) / 2)
    assert report.full_agreement == pytest.approx(0.5)
    assert report.fleiss.n_items_used == 1
    by_pair = {(p.a, p.b): p for p in report.pairwise}
    assert by_pair["a", "b"].n_common == 2
    assert by_pair["a", "c"].n_common == 1
    assert by_pair["b", "c"].percent_agreement == pytest.approx(0.0)


def test_annotator_quality_against_a_reference() -> None:
    matrix = _cohen_wikipedia()
    reference = matrix.codes[:, 1].astype(np.int64)  # reader B as the reference
    reference[:5] = MISSING  # five items without a reference label (all "yes"/"yes")
    report = agreement(matrix, reference=reference)
    assert report.annotator_quality is not None
    quality = {q.annotator: q for q in report.annotator_quality}
    assert quality["A"].n_labeled == 50
    assert quality["A"].n_compared == 45
    assert quality["A"].accuracy == pytest.approx(30 / 45)
    assert quality["B"].accuracy == pytest.approx(1.0)
    assert quality["B"].cohen_kappa == pytest.approx(1.0)
    # A vs reference on 45 items: 15 yes/yes, 5 yes/no, 10 no/yes, 15 no/no.
    p_o, p_e = 30 / 45, (20 / 45) * (25 / 45) + (25 / 45) * (20 / 45)
    assert quality["A"].cohen_kappa == pytest.approx((p_o - p_e) / (1 - p_e))


def test_undefined_statistics_are_none_and_the_report_is_json_safe() -> None:
    # Everybody says class 0: kappa and alpha are 0/0.
    codes = np.zeros((4, 3), dtype=np.int16)
    codes[3, 2] = MISSING
    report = agreement(LabelMatrix(np.arange(4), ["a", "b", "c"], ["x", "y"], codes))
    assert report.percent_agreement == 1.0
    assert report.fleiss.kappa is None
    assert report.fleiss.n_items_used == 3
    assert report.krippendorff_alpha is None
    assert all(p.cohen_kappa is None for p in report.pairwise)
    assert report.per_class[1].specific_agreement is None
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert json.loads(text)["fleiss"]["kappa"] is None


def test_pairs_without_common_items_give_none() -> None:
    codes = np.array([[0, 1, MISSING], [1, MISSING, 0]], dtype=np.int16)
    matrix = LabelMatrix(np.arange(2), ["a", "b", "c"], ["x", "y"], codes)
    report = agreement(matrix)
    by_pair = {(p.a, p.b): p for p in report.pairwise}
    assert by_pair["b", "c"].n_common == 0
    assert by_pair["b", "c"].percent_agreement is None
    assert by_pair["b", "c"].cohen_kappa is None
    assert report.fleiss.n_items_used == 0
    assert report.fleiss.kappa is None
    np.testing.assert_array_equal(confusion(matrix, "b", "c"), np.zeros((2, 2)))


def test_class_counts_ignore_missing() -> None:
    codes = np.array([[0, 2, MISSING], [MISSING, MISSING, MISSING]], dtype=np.int16)
    np.testing.assert_array_equal(class_counts(codes, 3), [[1, 0, 1], [0, 0, 0]])


def test_bad_input_is_rejected_with_a_clear_message() -> None:
    one = LabelMatrix(np.arange(2), ["a"], ["x", "y"], np.zeros((2, 1), dtype=np.int16))
    with pytest.raises(InvalidParameter, match="at least 2 annotators"):
        agreement(one)
    disjoint = np.array([[0, MISSING], [MISSING, 1]], dtype=np.int16)
    with pytest.raises(InvalidParameter, match="no item has 2 labels"):
        agreement(LabelMatrix(np.arange(2), ["a", "b"], ["x", "y"], disjoint))
    matrix = _cohen_wikipedia()
    with pytest.raises(InvalidParameter, match="reference has shape"):
        agreement(matrix, reference=np.zeros(3, dtype=np.int64))
    with pytest.raises(InvalidParameter, match="reference codes"):
        agreement(matrix, reference=np.full(50, 7))
    with pytest.raises(InvalidParameter, match="no annotator 'C'"):
        confusion(matrix, "A", "C")
    with pytest.raises(InvalidParameter, match="same number of labels"):
        fleiss_kappa_from_counts(np.array([[1, 1], [2, 1]]))
