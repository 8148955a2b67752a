"""The review queue: scans, the state machine, its audit log, filters and refusals."""

from __future__ import annotations

import threading

import pytest

import assay
from assay.errors import Conflict, InvalidParameter, NotFound
from assay.labels.writes import LabelWrite


@pytest.fixture
def annotated(ds: assay.Dataset) -> assay.Dataset:
    """Two annotators who disagree on k0 and k1 (and k2 is labeled by one only)."""
    ds.create_layer("ann1")
    ds.create_layer("ann2")
    ds.set_labels(
        [("k0", "cat"), ("k1", "dog"), ("k2", "bird"), ("k3", "cat")], layer="ann1", author="ann1"
    )
    ds.set_labels([("k0", "dog"), ("k1", "dog"), ("k3", "bird")], layer="ann2", author="ann2")
    return ds


def test_scan_opens_one_case_per_disagreement(annotated: assay.Dataset) -> None:
    result = annotated.review_scan(layers=["ann1", "ann2"], actor="scanner")
    assert (result.disagreement_found, result.disagreement_opened) == (2, 2)
    cases, cursor = annotated.review.list()
    assert cursor is None
    assert [(c["item_key"], c["reason"], c["state"]) for c in cases] == [
        ("k0", "disagreement", "open"),
        ("k3", "disagreement", "open"),
    ]
    assert cases[0]["evidence"] == {"labels": {"ann1": "cat", "ann2": "dog"}, "agreement": 0.5}
    assert cases[0]["score"] == 0.5 and cases[0]["created_by"] == "scanner"
    again = annotated.review_scan(layers=["ann1", "ann2"])
    assert (again.disagreement_found, again.disagreement_opened) == (2, 0)


def test_low_confidence_consensus_opens_cases(ds: assay.Dataset) -> None:
    ds.create_layer("consensus", kind="consensus")
    ds.set_labels(
        [LabelWrite(1, "cat", confidence=0.9), LabelWrite(2, "dog", confidence=0.4)],
        layer="consensus",
        author="consensus:test",
    )
    result = ds.review_scan(layers=["ground_truth"], threshold=0.7)
    assert (result.low_confidence_found, result.low_confidence_opened) == (1, 1)
    (case,) = ds.review.list(reason="low_confidence")[0]
    assert case["item_id"] == 2 and case["evidence"]["confidence"] == 0.4
    assert case["score"] == pytest.approx(0.6)


def test_escalate_then_resolve_writes_the_reviewed_layer(annotated: assay.Dataset) -> None:
    annotated.review_scan(layers=["ann1", "ann2"], actor="assay-test")
    case = annotated.review.list()[0][0]
    escalated = annotated.review.escalate(case["id"], "rita", actor="lead", note="please look")
    assert (escalated["state"], escalated["assignee"]) == ("escalated", "rita")
    assert [c["id"] for c in annotated.review.list(assignee="rita")[0]] == [case["id"]]
    resolved = annotated.review.resolve(case["id"], "dog", "ears are a dog's", actor="rita")
    assert (resolved["state"], resolved["resolved_label"]) == ("resolved", "dog")
    assert resolved["labels_now"]["reviewed"]["label"] == "dog"
    (label,) = annotated.history(case["item_id"], layer="reviewed")
    assert label["author"] == "rita" and "ears are a dog's" in label["note"]
    assert [(e["action"], e["from"], e["to"], e["actor"]) for e in resolved["events"]] == [
        ("open", None, "open", "assay-test"),
        ("escalate", "open", "escalated", "lead"),
        ("resolve", "escalated", "resolved", "rita"),
    ]
    with pytest.raises(Conflict, match="resolved"):
        annotated.review.resolve(case["id"], "cat", "second opinion", actor="sam")
    with pytest.raises(Conflict):
        annotated.review.dismiss(case["id"], "never mind", actor="sam")
    assert len(annotated.history(case["item_id"], layer="reviewed")) == 1
    assert annotated.review.counts() == {
        "open": {"disagreement": 1},
        "resolved": {"disagreement": 1},
    }


def test_dismiss_flag_and_refusals(annotated: assay.Dataset) -> None:
    flagged = annotated.review.flag("k9", "tail looks odd", label="bird", actor="ann1")
    assert (flagged["reason"], flagged["suggested"], flagged["comment"]) == (
        "flagged",
        "bird",
        "tail looks odd",
    )
    with pytest.raises(Conflict, match="already flagged"):
        annotated.review.flag("k9", "again", actor="ann2")
    with pytest.raises(InvalidParameter, match="comment"):
        annotated.review.flag("k8", "  ")
    with pytest.raises(InvalidParameter, match="reason"):
        annotated.review.dismiss(flagged["id"], "")
    with pytest.raises(InvalidParameter, match="choose the label"):
        annotated.review._transition(flagged["id"], "resolve", note="x")
    with pytest.raises(InvalidParameter, match="Unknown action"):
        annotated.review._transition(flagged["id"], "reopen")
    with pytest.raises(Conflict, match="changed since you loaded"):
        annotated.review.dismiss(flagged["id"], "fine", expected_version=7)
    annotated.review.comment(flagged["id"], "I agree it is odd", actor="ann2")
    dismissed = annotated.review.dismiss(
        flagged["id"], "it is a bird already", actor="lead", expected_version=1
    )
    assert dismissed["state"] == "dismissed" and dismissed["resolution"] == "it is a bird already"
    assert "reviewed" not in dismissed["labels_now"]
    assert [e["action"] for e in dismissed["events"]] == ["open", "comment", "dismiss"]
    # A dismissed flag no longer blocks a new one about the same item.
    assert annotated.review.flag("k9", "still odd", actor="ann2")["state"] == "open"
    with pytest.raises(NotFound):
        annotated.review.get(9999)
    with pytest.raises(InvalidParameter, match="Unknown state"):
        annotated.review.list(state="closed")
    assert [c["item_key"] for c in annotated.review.list(label="bird")[0]] == ["k9"]
    assert len(annotated.review.list(state=["dismissed"])[0]) == 1


def test_keyset_pages_of_cases(annotated: assay.Dataset) -> None:
    for i in range(5):
        annotated.review.flag(f"k{i + 10}", f"look {i}")
    first, cursor = annotated.review.list(limit=2)
    second, cursor2 = annotated.review.list(limit=2, after=cursor)
    third, end = annotated.review.list(limit=2, after=cursor2)
    assert [c["item_key"] for c in first + second + third] == [f"k{i}" for i in range(10, 15)]
    assert end is None


def test_two_reviewers_resolving_at_once_one_wins(annotated: assay.Dataset) -> None:
    annotated.review_scan(layers=["ann1", "ann2"])
    case_id = annotated.review.list()[0][0]["id"]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def resolve(who: str, label: str) -> None:
        barrier.wait()
        try:
            annotated.review.resolve(case_id, label, f"{who} decided", actor=who)
            outcomes.append(f"won:{who}")
        except Conflict:
            outcomes.append("conflict")

    threads = [
        threading.Thread(target=resolve, args=("rita", "cat")),
        threading.Thread(target=resolve, args=("sam", "dog")),
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert sorted(o.split(":")[0] for o in outcomes) == ["conflict", "won"]
    winner = next(o for o in outcomes if o.startswith("won")).split(":")[1]
    case = annotated.review.get(case_id)
    (label,) = annotated.history(case["item_id"], layer="reviewed")
    assert label["author"] == winner and case["resolved_label"] == label["label"]
    assert [e["action"] for e in case["events"]] == ["open", "resolve"]
