"""Each layer against a consensus: the consensus of the OTHER layers (leave-one-out), ties left
out and counted (issue 16, bug 5: two layers disagreeing on 1 of 5 items showed 100 %, κ 1)."""

from __future__ import annotations

import numpy as np
import pytest

import assay
from assay.labels.agreement import agreement
from assay.labels.consensus import consensus_of_others
from assay.labels.matrix import MISSING, TIE, LabelMatrix


def two_layers_one_disagreement(ds: assay.Dataset) -> None:
    """The issue's case: ``alice`` and ``bob`` label the same 5 items and disagree on one."""
    ds.create_layer("alice")
    ds.create_layer("bob")
    labels = ["cat", "dog", "bird", "cat", "dog"]
    ds.set_labels([(f"k{i}", c) for i, c in enumerate(labels)], layer="alice", author="alice")
    labels[4] = "cat"
    ds.set_labels([(f"k{i}", c) for i, c in enumerate(labels)], layer="bob", author="bob")


def test_two_layers_that_disagree_once_are_each_rated_against_the_other(
    ds: assay.Dataset,
) -> None:
    two_layers_one_disagreement(ds)
    report = ds.agreement(["alice", "bob"], reference="majority-vote").to_dict()
    pair = report["pairwise"][0]
    assert (pair["n_common"], pair["percent_agreement"]) == (5, 0.8)
    quality = {q["annotator"]: q for q in report["annotator_quality"]}
    for name in ("alice", "bob"):
        assert quality[name]["n_compared"] == 5 and quality[name]["n_ties"] == 0
        assert quality[name]["accuracy"] == pytest.approx(0.8)
        assert quality[name]["cohen_kappa"] == pytest.approx(pair["cohen_kappa"])
        assert quality[name]["cohen_kappa"] < 1
    assert "other layers" in report["reference_rule"]
    assert "ties" in report["reference_rule"]


def test_ties_among_the_other_layers_are_left_out_and_counted() -> None:
    # Item 0: b and c tie for a's reference; item 1: all agree; item 2: only a labels it.
    codes = np.array([[0, 1, 2], [1, 1, 1], [2, MISSING, MISSING]], dtype=np.int16)
    matrix = LabelMatrix(np.arange(3), ["a", "b", "c"], ["x", "y", "z"], codes)
    others = consensus_of_others(matrix, "majority-vote")
    assert others[:, 0].tolist() == [TIE, 1, MISSING]
    assert others[:, 1].tolist() == [TIE, 1, 2]  # a says x, c says z: a tie too
    report = agreement(matrix, reference=others)
    quality = {q.annotator: q for q in report.annotator_quality or []}
    assert (quality["a"].n_labeled, quality["a"].n_compared, quality["a"].n_ties) == (3, 1, 1)
    assert quality["a"].accuracy == 1.0
