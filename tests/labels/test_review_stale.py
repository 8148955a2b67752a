"""Bug 3 and bug 4 of issue 16 for cases between layers and flags: a case whose disagreement
no longer holds closes itself as obsolete (logged with who changed what); a flag's decision
is a new version in the flagged layer; a disagreement's goes to ``reviewed`` and the next scan
does not reopen it."""

from __future__ import annotations

import assay


def annotate(ds: assay.Dataset) -> None:
    ds.create_layer("ann1")
    ds.create_layer("ann2")
    ds.set_labels([("k0", "cat"), ("k1", "dog")], layer="ann1", author="ann1")
    ds.set_labels([("k0", "dog"), ("k1", "cat")], layer="ann2", author="ann2")


def test_a_disagreement_that_no_longer_holds_closes_itself(ds: assay.Dataset) -> None:
    annotate(ds)
    ds.review_scan(layers=["ann1", "ann2"])
    k0, k1 = ds.review.list()[0]
    ds.set_label("k0", "cat", layer="ann2", author="ann2")
    assert [c["id"] for c in ds.review.list(state="open")[0]] == [k1["id"]]
    case = ds.review.get(k0["id"])
    assert case["state"] == "obsolete"
    event = case["events"][-1]
    assert event["actor"] == "ann2" and "ann1, ann2 agree now on cat" in event["note"]
    assert case["resolution"] == event["note"]


def test_a_disagreement_decision_goes_to_reviewed_and_stays_decided(ds: assay.Dataset) -> None:
    annotate(ds)
    ds.review_scan(layers=["ann1", "ann2"])
    case = ds.review.list()[0][0]
    ds.review.resolve(case["id"], "cat", "the ears", actor="rita")
    assert ds.item("k0")["labels"]["reviewed"]["label"] == "cat"
    again = ds.review_scan(layers=["ann1", "ann2"])
    assert (again.disagreement_found, again.disagreement_opened) == (2, 0)
    # A new label from an annotator makes it a new disagreement, worth a new case.
    ds.set_label("k0", "bird", layer="ann2", author="ann2")
    assert ds.review_scan(layers=["ann1", "ann2"]).disagreement_opened == 1


def test_a_flag_is_decided_in_the_flagged_layer(ds: assay.Dataset) -> None:
    flagged = ds.review.flag("k0", "looks like a dog", label="dog", actor="ann1")
    assert flagged["label"] == "cat" and flagged["evidence"]["layer"] == "ground_truth"
    ds.review.resolve(flagged["id"], "dog", "agreed", actor="rita")
    assert ds.item("k0")["labels"]["ground_truth"]["label"] == "dog"
    assert ds.history("k0", layer="ground_truth")[-1]["author"] == "rita"


def test_a_flag_closes_when_its_suggestion_is_applied(ds: assay.Dataset) -> None:
    flagged = ds.review.flag("k1", "a cat", label="cat", actor="ann1")
    ds.set_label("k1", "cat", layer="ground_truth", author="bob")
    case = ds.review.get(flagged["id"])
    assert case["state"] == "obsolete" and case["events"][-1]["actor"] == "bob"
    assert "as suggested" in case["events"][-1]["note"]
