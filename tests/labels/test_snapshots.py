"""Snapshots and diffs: exactly the relabels made after a snapshot, per layer and class."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import assay
from assay.errors import Conflict, InvalidParameter, NotFound
from assay.labels import snapshots
from assay.store import schema as t
from labelkit import make_dataset


def test_diff_shows_exactly_the_relabels(ds: assay.Dataset) -> None:
    ds.create_layer("alice")
    ds.set_labels([("k0", "dog"), ("k1", "dog")], layer="alice", author="alice")
    snap = ds.snapshot("before", author="lead", description="v1 labels")
    assert snap["n_labels"] == 22 and snap["layers"] == ["ground_truth", "alice"]
    # k0 cat->bird, k1 dog->cat, k2 bird->cat in ground truth; alice: k0 dog->cat, k1 cleared,
    # k5 added; k3 relabeled to the class it already had (not a change).
    ds.set_labels(
        [("k0", "bird"), ("k1", "cat"), ("k2", "cat"), ("k3", "cat")],
        layer="ground_truth",
        author="bob",
    )
    ds.set_labels([("k0", "cat"), ("k1", None), ("k5", "bird")], layer="alice", author="alice")

    d = ds.diff("before").to_dict()
    layers = {entry["layer"]: entry for entry in d["layers"]}
    assert (layers["ground_truth"]["relabeled"], layers["ground_truth"]["added"]) == (3, 0)
    assert {(f["from"], f["to"], f["items"]) for f in layers["ground_truth"]["flows"]} == {
        ("cat", "bird", 1),
        ("dog", "cat", 1),
        ("bird", "cat", 1),
    }
    assert (layers["alice"]["relabeled"], layers["alice"]["added"], layers["alice"]["removed"]) == (
        1,
        1,
        1,
    )
    assert d["n_changes"] == 6
    assert {(i["layer"], i["key"], i["was"], i["now"]) for i in d["items"]} == {
        ("ground_truth", "k0", "cat", "bird"),
        ("ground_truth", "k1", "dog", "cat"),
        ("ground_truth", "k2", "bird", "cat"),
        ("alice", "k0", "dog", "cat"),
        ("alice", "k1", "dog", None),
        ("alice", "k5", None, "bird"),
    }
    # cat: lost k0 (gt), gained k1, k2 (gt) and k0 (alice)
    assert d["per_class"]["cat"] == {"gained": 3, "lost": 1}

    after = ds.snapshot("after")
    assert ds.diff("before", "after").to_dict()["items"] == d["items"]
    assert ds.diff("after").n_changes == 0
    back = ds.diff("after", "before").to_dict()
    assert {(i["key"], i["was"], i["now"]) for i in back["items"] if i["layer"] == "alice"} == {
        ("k0", "cat", "dog"),
        ("k1", None, "dog"),
        ("k5", "bird", None),
    }
    assert [s["name"] for s in ds.snapshots()] == ["before", "after"]
    assert after["n_labels"] == 22


def test_snapshots_reference_labels_and_are_immutable(ds: assay.Dataset) -> None:
    ds.snapshot("v1", layers=["ground_truth"])
    with ds.store.read() as conn:
        refs = conn.execute(sa.select(sa.func.count()).select_from(t.snapshot_labels)).scalar()
        labels = conn.execute(sa.select(sa.func.count()).select_from(t.labels)).scalar()
    assert refs == 20 and labels == 20  # referenced, not copied
    with pytest.raises(Conflict, match="immutable"):
        ds.snapshot("v1")
    with pytest.raises(NotFound, match="Known snapshots: 'v1'"):
        ds.diff("v2")
    with pytest.raises(InvalidParameter):
        ds.snapshot("now")


def test_a_renamed_layer_still_diffs(ds: assay.Dataset) -> None:
    ds.snapshot("v1")
    ds.rename_layer("ground_truth", "gold")
    ds.set_label("k7", "bird", layer="gold", author="bob")
    d = ds.diff("v1").to_dict()
    assert d["layers"][0]["layer"] == "gold"
    assert [(i["key"], i["was"], i["now"]) for i in d["items"]] == [("k7", "dog", "bird")]


def _diff_work(project: assay.Project, n: int, relabel: int = 0) -> tuple[int, int]:
    """SQLite virtual-machine steps (in thousands) and SQL statements of a diff of ``n`` items
    against a snapshot, after ``relabel`` of them changed: the work the database does, counted
    deterministically (no timing)."""
    ds = make_dataset(project, f"d{n}_{relabel}", n)
    ds.snapshot("v1")
    if relabel:
        ds.set_labels(
            [(f"k{i}", "cat") for i in range(1, 3 * relabel, 3)], layer="ground_truth", author="bob"
        )
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0

    statements: list[str] = []
    with ds.store.read() as conn:
        listen = sa.event.listen
        listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
        if conn.dialect.name == "sqlite":
            conn.connection.driver_connection.set_progress_handler(step, 1000)  # type: ignore[union-attr]
        d = snapshots.diff(conn, ds.id, "v1")
        if conn.dialect.name == "sqlite":
            conn.connection.driver_connection.set_progress_handler(None, 0)  # type: ignore[union-attr]
    assert d.n_changes == relabel and len(d.items) == relabel
    return steps[0], len(statements)


def test_a_diff_is_a_set_difference_in_the_database(project: assay.Project) -> None:
    """The database work of a diff grows with the labels (linearly), not with their square,
    and a diff issues a fixed number of statements whatever the number of changes."""
    small_steps, no_change = _diff_work(project, 400)
    big_steps, no_change_big = _diff_work(project, 1600)
    _, some_changes = _diff_work(project, 1600, relabel=50)
    if project.store.engine.dialect.name == "sqlite":
        # 4 x the items: about 4 x the work for a join by key, 16 x for a nested scan.
        assert big_steps < 6 * small_steps, (small_steps, big_steps)
    assert no_change == no_change_big <= 4
    assert some_changes <= no_change + 2
