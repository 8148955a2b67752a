"""Bug 4 of issue 16: a decision on a case about one layer's label is a new label version in
that layer, so the grid, the current labels and the next label-issue search see it; bug 3: a
case whose label changed elsewhere closes itself as obsolete, its log naming who changed what;
and the evidence a reviewer sees (labels now, quality rank, neighbours' vote)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from qualitykit import noisy_digits

import assay
from assay.errors import Conflict
from assay.store import schema as t

N = 300


@pytest.fixture
def ds(tmp_path: Path, store_url: str) -> assay.Dataset:
    """300 digits, 5% relabeled wrongly, searched with k-NN probabilities, cases opened."""
    ds = noisy_digits(assay.init(tmp_path, db=store_url), N, seed=2)[0]
    ds.quality.find(model_layer="knn-cv", features=False)
    ds.quality.to_review(actor="qa")
    return ds


def first_mislabel(ds: assay.Dataset) -> dict[str, Any]:
    cases, _ = ds.review.list(reason="mislabel", state="open")
    return cases[0]


def test_a_resolved_label_issue_is_a_new_version_in_its_layer(ds: assay.Dataset) -> None:
    case = first_mislabel(ds)
    given, suggested = case["label"], case["suggested"]
    assert given != suggested
    done = ds.review.resolve(case["id"], suggested, "the model is right", actor="rita")
    assert done["state"] == "resolved" and done["resolved_label"] == suggested
    # What every page reads: the item's current label, the grid's page, the label matrix.
    assert ds.item(case["item_id"])["labels"]["ground_truth"]["label"] == suggested
    page, _ = ds.items(f"key={case['item_key']}", layer="ground_truth")
    assert [p["label"] for p in page] == [suggested]
    # Append-only: the history keeps the old label; the new one names the reviewer and case.
    past = ds.history(case["item_id"], layer="ground_truth")
    assert [h["label"] for h in past][-2:] == [given, suggested]
    assert past[-1]["author"] == "rita"
    assert past[-1]["note"] == f"review case {case['id']}: the model is right"
    assert "reviewed" not in {layer["name"] for layer in ds.layers()}
    assert done["events"][-1]["data"]["layer"] == "ground_truth"
    # The next search learns from (and ranks) the decided label.
    run = ds.quality.find(model_layer="knn-cv", features=False)
    with ds.store.read() as conn:
        lq, cl = t.label_quality.c, t.classes.c
        now = conn.execute(
            sa.select(cl.name)
            .join(t.label_quality, lq.given_class_id == cl.id)
            .where(lq.run_id == run.run_id, lq.item_id == case["item_id"])
        ).scalar_one()
    assert now == suggested


def test_a_label_changed_elsewhere_closes_its_case(ds: assay.Dataset) -> None:
    case = first_mislabel(ds)
    ds.set_label(case["item_id"], case["suggested"], layer="ground_truth", author="alice")
    # A decision on the stale view is refused, nothing written.
    with pytest.raises(Conflict, match="No longer holds"):
        ds.review.resolve(case["id"], case["label"], "x")
    open_ids = [c["id"] for c in ds.review.list(reason="mislabel", state="open", limit=1000)[0]]
    assert case["id"] not in open_ids
    closed = ds.review.get(case["id"])
    assert closed["state"] == "obsolete"
    last = closed["events"][-1]
    assert (last["action"], last["actor"], last["from"], last["to"]) == (
        "obsolete",
        "alice",
        "open",
        "obsolete",
    )
    assert f"ground_truth is now {case['suggested']} (was {case['label']})" in last["note"]
    assert last["data"]["label"] == case["suggested"]
    assert ds.review.counts()["obsolete"] == {"mislabel": 1}


def test_case_evidence_shows_the_labels_now_and_the_quality_rank(ds: assay.Dataset) -> None:
    case = first_mislabel(ds)
    ev = ds.review.evidence(case["id"])
    assert (ev["layer"], ev["decision_layer"]) == ("ground_truth", "ground_truth")
    assert (ev["given"], ev["suggested"]) == (case["label"], case["suggested"])
    q = ev["quality"]
    assert q["of"] == N and 1 <= q["rank"] <= N
    assert q["text"].startswith("among the ") and q["text"].endswith(" % least likely labels")
    assert {row["layer"] for row in ev["labels"]} == {"ground_truth", "knn-cv"}
    # Neighbours from a given index: their current labels, as a vote.
    others = [i for i in range(1, 6) if i != case["item_id"]][:4]
    ev = ds.review.evidence(case["id"], nearest=lambda item: others)
    assert [n["item_id"] for n in ev["neighbours"]["items"]] == others
    assert sum(v["n"] for v in ev["neighbours"]["vote"]) == 4
