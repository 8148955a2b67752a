"""Agreement, consensus, disagreements and decisions of tag layers (pure, no store)."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from assay.errors import InvalidParameter
from assay.labels.kinds import ValueTable, get_kind
from assay.labels.tag_agreement import decision_tags, tag_consensus

A = {1: ["x"], 2: ["x", "y"], 3: [], 4: ["y"], 5: ["x"]}
B = {1: ["x"], 2: ["x"], 3: ["y"], 4: ["y"], 5: []}
C = {1: ["x"], 2: ["x", "y"], 3: [], 5: ["x"]}
TABLE = ValueTable("tags", [1, 2, 3, 4, 5], ["a", "b", "c"], {"a": A, "b": B, "c": C})


def test_kappa_and_alpha_per_tag_match_the_libraries() -> None:
    report = get_kind("tags").agreement(TABLE).to_dict()
    assert report["kind"] == "tags" and report["tags"] == ["x", "y"]
    ab = next(p for p in report["pairwise"] if (p["a"], p["b"]) == ("a", "b"))
    ya = [int("y" in A[i]) for i in range(1, 6)]
    yb = [int("y" in B[i]) for i in range(1, 6)]
    assert ab["kappa"]["y"] == pytest.approx(cohen_kappa_score(ya, yb))
    assert ab["exact"] == pytest.approx(2 / 5)  # items 1 and 4
    rows = [[float("y" in layer[i]) if i in layer else np.nan for i in range(1, 6)]
            for layer in (A, B, C)]  # fmt: skip
    y = next(t for t in report["per_tag"] if t["name"] == "y")
    expected = krippendorff.alpha(reliability_data=rows, level_of_measurement="nominal")
    assert y["alpha"] == pytest.approx(expected)
    assert report["n_items_compared"] == 5


def test_reference_method_rates_each_layer_against_the_others() -> None:
    report = get_kind("tags").agreement(TABLE, reference="majority-vote").to_dict()
    quality = {q["layer"]: q for q in report["layer_quality"]}
    # b against a and c (who agree everywhere): misses y on 2 and x on 5, adds y on 3
    assert quality["b"]["f1"] == pytest.approx(6 / 9)
    assert (quality["b"]["missed"], quality["b"]["added"]) == (2, 1)
    # c against the vote of a and b, whose ties (0.5) leave the tag out: c adds y on 2, x on 5
    assert (quality["c"]["missed"], quality["c"]["added"]) == (0, 2)


@pytest.mark.parametrize("method", ["majority-vote", "dawid-skene"])
def test_consensus_per_tag(method: str) -> None:
    kind = get_kind("tags")
    result = kind.combine(TABLE, method)
    assert result.tags[2] == ["x", "y"] and result.tags[3] == [] and result.tags[1] == ["x"]
    assert set(result.confidence) == {1, 2, 3, 4, 5}
    assert result.summary()["annotator_quality"]["b"] < result.summary()["annotator_quality"]["a"]
    writes = kind.consensus_writes(TABLE, result)
    assert {w.item_id: w.value for w in writes}[2] == ["x", "y"]
    assert all(0 <= w.confidence <= 1 for w in writes)
    with pytest.raises(InvalidParameter, match="no consensus method"):
        tag_consensus(TABLE, "wbf")


def test_vote_confidence_is_the_least_sure_tag() -> None:
    result = tag_consensus(TABLE, "majority-vote")
    assert result.confidence[1] == 1.0  # all say x, none y
    assert result.confidence[2] == pytest.approx(2 / 3)  # y: 2 of 3


def test_disagreements_name_the_tags_and_who_gave_them() -> None:
    found = {d.item_id: d for d in get_kind("tags").disagreements(TABLE)}
    assert sorted(found) == [2, 3, 5]
    issues = found[2].evidence["tag_issues"]
    assert issues == [{"tag": "y", "yes": ["a", "c"], "no": ["b"]}]
    assert found[2].majority == ["x", "y"] and 0 < found[2].agreement < 1


def test_decisions() -> None:
    values = {"a": ["x", "y"], "b": ["x"], "c": ["y"]}
    assert decision_tags(values, ["a", "b", "c"], "accept")[0] == ["x", "y"]
    assert decision_tags(values, ["a", "b", "c"], "keep")[0] == ["x", "y"]
    assert decision_tags(values, ["a", "b", "c"], "b")[0] == ["x"]
    with pytest.raises(InvalidParameter, match="accept"):
        decision_tags(values, ["a", "b", "c"], "zz")
