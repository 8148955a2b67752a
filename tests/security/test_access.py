"""The viewer (``assay.access``): the one place that decides what a user may see and write,
blind mode included; the web app's side of these rules is in tests/web/test_web_blind_leaks.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import assay
from assay import jobs
from assay.access import HIDDEN_TEXT, Viewer
from assay.errors import InvalidParameter, LayerNotFound, PermissionDenied, hide_paths

ALICE = Viewer("alice", "annotator", blind_mode=True)


def layer(name: str, owner: str | None = None, kind: str = "human", frozen: bool = False) -> Any:
    return SimpleNamespace(name=name, owner=owner, kind=kind, frozen=frozen)


ROWS = [
    layer("ground_truth", kind="import"),
    layer("ann", "alice"),
    layer("bob", "bob"),
    layer("cv", kind="model"),
    layer("mine", kind="model"),
    layer("imported", kind="model"),
]
TRAINED_ON = {"cv": ["ground_truth"], "mine": ["ann"], "imported": [None]}


def names(rows: list[Any]) -> list[str]:
    return [r.name for r in rows]


def test_blind_annotators_see_their_layers_and_the_models_learnt_from_them() -> None:
    assert names(ALICE.visible(ROWS, TRAINED_ON)) == ["ann", "mine"]
    assert names(ALICE.visible(ROWS)) == ["ann"]  # no runs known: no model layer
    for viewer in (
        Viewer("alice", "annotator"),
        Viewer("rita", "reviewer", blind_mode=True),
        Viewer.local(),
    ):
        assert not viewer.blind and viewer.visible(ROWS, TRAINED_ON) == ROWS
    mixed = {"both": ["ann", "ground_truth"]}
    assert ALICE.visible([layer("ann", "alice"), layer("both", kind="model")], mixed)[1:] == []


def test_annotators_write_only_their_own_layers_and_nobody_a_frozen_one() -> None:
    mine, bobs, frozen = layer("ann", "alice"), layer("bob", "bob"), layer("f", frozen=True)
    assert ALICE.can_write(mine) and not ALICE.can_write(bobs)
    with pytest.raises(PermissionDenied, match="may not write to layer 'bob'"):
        ALICE.check_write(bobs)
    ALICE.check_write(frozen)  # passes: the write refuses it, for everyone, with a Conflict
    reviewer = Viewer("rita", "reviewer", blind_mode=True)
    assert reviewer.can_write(bobs) and not reviewer.can_write(frozen)


def test_annotators_create_only_human_layers_of_their_own() -> None:
    assert ALICE.new_layer_owner("human", None) == "alice"
    assert ALICE.new_layer_owner("human", "alice") == "alice"
    for kind, owner in (("human", "bob"), ("consensus", None)):
        with pytest.raises(PermissionDenied, match="only create human layers of your own"):
            ALICE.new_layer_owner(kind, owner)
    assert Viewer("rita", "reviewer").new_layer_owner("consensus", "bob") == "bob"


@pytest.mark.parametrize(
    "text",
    ["label[bob]=cat", "confidence[bob]<0.5", "label=cat", "confidence<0.9", "split=a, label=dog"],
)
def test_a_filter_may_read_only_visible_layers(ds: assay.Dataset, text: str) -> None:
    ds.create_layer("ann", owner="alice")
    ds.create_layer("bob", owner="bob")
    with pytest.raises(PermissionDenied, match="You may not filter on the"):
        ALICE.check_filter(ds, text)
    Viewer("alice", "annotator").check_filter(ds, text)  # not blind
    ALICE.check_filter(ds, "label[ann]=cat, confidence[ann]<0.5, split=train")


def test_the_layers_of_a_dataset_and_its_model_runs(ds: assay.Dataset) -> None:
    ds.create_layer("ann", owner="alice")
    ds.set_labels([(f"k{i}", "cat" if i % 2 else "dog") for i in range(20)], layer="ann")
    ds.models.cross_validate(name="cv", folds=2, model="logreg")
    ds.models.cross_validate(name="mine", folds=2, model="logreg", layer="ann")
    assert ALICE.layer_names(ds) == {"ann", "mine"}
    visible = ALICE.layer_names(ds)
    runs = {r["name"]: r for r in ds.models.runs()}
    assert ALICE.can_see_run(runs["mine"], visible) and not ALICE.can_see_run(runs["cv"], visible)
    with pytest.raises(PermissionDenied, match="trained on their own layers"):
        ALICE.check_run(runs["cv"], visible)
    with pytest.raises(PermissionDenied, match="may not see layer 'cv'"):
        ALICE.layer(ds, "cv")
    with pytest.raises(LayerNotFound):
        ALICE.layer(ds, "nope")
    assert ALICE.writable_layer(ds, "ann").name == "ann"


def test_a_redacted_case_keeps_no_judgement_of_others() -> None:
    case = {
        "created_by": "scan", "label": "cat", "suggested": "dog", "score": 0.5,
        "comment": "looks like a dog", "resolution": "bob is right", "resolved_label": "dog",
        "evidence": {"labels": {"ann": "cat", "bob": "dog"}, "agreement": 0.5},
        "labels_now": {"ann": "cat", "bob": "dog"},
        "events": [
            {"actor": "rita", "note": "a dog", "data": {"assignee": "rita", "label": "dog"}},
            {"actor": "alice", "note": "mine", "data": None},
        ],
    }  # fmt: skip
    shown = ALICE.case(case, {"ann"})
    assert shown["redacted"] and shown["evidence"] == {"labels": {"ann": "cat"}}
    assert shown["label"] is shown["suggested"] is shown["score"] is shown["resolved_label"]
    assert shown["score"] is None
    assert shown["comment"] == shown["resolution"] == HIDDEN_TEXT
    assert shown["labels_now"] == {"ann": "cat"}
    assert [e["note"] for e in shown["events"]] == [HIDDEN_TEXT, "mine"]
    assert shown["events"][0]["data"] == {"assignee": "rita"}
    own = ALICE.case({**case, "created_by": "alice"}, {"ann"})
    assert own["score"] == 0.5 and own["comment"] == "looks like a dog"
    assert own["resolution"] == HIDDEN_TEXT
    assert Viewer("rita", "reviewer", blind_mode=True).case(case, set()) == {
        **case,
        "redacted": False,
    }


def test_a_blind_annotator_sees_others_jobs_without_what_they_asked_or_found() -> None:
    job = {"id": 1, "kind": "consensus", "state": "done", "created_by": "rita",
           "params": {"layers": ["ann", "bob"]}, "result": {"annotator_quality": {}},
           "message": "done", "error": None}  # fmt: skip
    shown = ALICE.job(job)
    assert shown["redacted"] and shown["kind"] == "consensus" and shown["created_by"] == "rita"
    assert shown["params"] == {} and shown["result"] is None and shown["message"] is None
    assert ALICE.job({**job, "created_by": "alice"}) == {**job, "created_by": "alice",
                                                         "redacted": False}  # fmt: skip
    assert Viewer("alice", "annotator").job(job)["result"] == job["result"]


@pytest.mark.parametrize("role", ["annotator", "reviewer"])
def test_only_admins_name_a_model_by_import_path(role: str) -> None:
    viewer = Viewer("x", role)
    with pytest.raises(PermissionDenied, match="Only admins"):
        viewer.check_model("this.Zen")
    with pytest.raises(PermissionDenied, match="Only admins"):
        jobs.validate("train", {"model": "this.Zen"}, viewer=viewer)
    viewer.check_model("logreg")
    assert jobs.validate("train", {"model": "hgb"}, viewer=viewer)["model"] == "hgb"
    admin = Viewer("root", "admin")
    assert jobs.validate("train", {"model": "this.Zen"}, viewer=admin)["model"] == "this.Zen"
    assert jobs.validate("train", {"model": "this.Zen"})["model"] == "this.Zen"  # the library
    with pytest.raises(InvalidParameter, match="unknown model 'forest'"):
        jobs.validate("suggest", {"layer": "a", "model": "forest"}, viewer=admin)
    assert "this" not in sys.modules


def test_a_suggest_job_is_checked_against_its_submitter(ds: assay.Dataset) -> None:
    ds.create_layer("ann", owner="alice")
    ds.create_layer("bob", owner="bob")
    alice = Viewer("alice", "annotator")
    with pytest.raises(PermissionDenied, match="may not write to layer 'bob'"):
        jobs.submit(ds, "suggest", {"layer": "bob"}, by="alice", viewer=alice)
    with pytest.raises(PermissionDenied, match="confidence of layer 'bob'"):
        params = {"layer": "ann", "filter": "confidence[bob]<1"}
        jobs.submit(ds, "suggest", params, by="alice", viewer=ALICE)
    assert jobs.list_jobs(ds.store, ds.id) == []
    assert jobs.submit(ds, "suggest", {"layer": "ann"}, by="alice", viewer=alice)["id"]


def test_paths_under_the_project_are_shown_relative_to_it(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    upload = root / ".assay" / "uploads" / "ab12.csv"
    message = f"{upload}, line 2: bad. See {root}{os.sep}x and {root} itself."
    shown = hide_paths(message, {upload: "mine.csv", root: ""})
    assert shown == "mine.csv, line 2: bad. See x and . itself."
    assert str(tmp_path) not in shown
