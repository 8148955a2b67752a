"""Writing labels: append-only history, bulk writes that land whole, layers, and refusals."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import assay
from assay.errors import (
    ClassNotFound,
    Conflict,
    InvalidParameter,
    ItemNotFound,
    LayerNotFound,
)
from assay.labels.writes import LabelWrite
from assay.store import schema as t
from labelkit import make_dataset


def n_labels(ds: assay.Dataset) -> int:
    with ds.store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t.labels)).scalar_one())


def test_relabel_appends_and_history_is_a_chain(ds: assay.Dataset) -> None:
    ds.create_layer("alice", owner="alice")
    first = ds.set_label("k1", "cat", layer="alice", author="alice", note="ears")
    second = ds.set_label("k1", "dog", layer="alice", author="alice")
    ds.set_label("k1", "bird", layer="ground_truth", author="bob", note="fixed")

    hist = ds.history("k1")
    assert [(h["layer"], h["label"], h["author"]) for h in hist] == [
        ("ground_truth", "dog", "import"),
        ("ground_truth", "bird", "bob"),
        ("alice", "cat", "alice"),
        ("alice", "dog", "alice"),
    ]
    assert hist[1]["supersedes"] == hist[0]["id"] and hist[1]["note"] == "fixed"
    assert hist[3]["supersedes"] == first["label_ids"][0] == hist[2]["id"]
    assert hist[3]["id"] == second["label_ids"][0]
    assert hist[2]["created_at"] <= hist[3]["created_at"]
    assert [h["label"] for h in ds.history("k1", layer="alice")] == ["cat", "dog"]
    assert ds.item("k1")["labels"]["alice"]["label"] == "dog"
    page, _ = ds.items("key=k1", layer="alice")
    assert page[0]["label"] == "dog"


def test_clearing_a_label_keeps_history(ds: assay.Dataset) -> None:
    ds.set_label("k0", None, layer="ground_truth", author="bob", note="not a pet")
    assert "ground_truth" not in ds.item("k0")["labels"]
    assert [h["label"] for h in ds.history("k0")] == ["cat", None]
    assert [r["external_key"] for r in ds.items("label=none")[0]] == ["k0"]


def test_bulk_write_lands_whole_or_not_at_all(ds: assay.Dataset) -> None:
    ds.create_layer("bulk")
    before = n_labels(ds)
    with pytest.raises(ClassNotFound, match=r"'kat'.*Did you mean 'cat'"):
        ds.set_labels([("k0", "cat"), ("k1", "dog"), ("k2", "kat")], layer="bulk", author="a")
    assert n_labels(ds) == before
    result = ds.set_labels(
        [(f"k{i}", "bird") for i in range(10)], layer="bulk", author="a", note="batch"
    )
    assert result.n_written == 10 and len(set(result.label_ids)) == 10
    assert n_labels(ds) == before + 10
    assert ds.history("k9", layer="bulk")[0]["note"] == "batch"


def test_skip_unchanged_writes_only_what_changed(ds: assay.Dataset) -> None:
    ds.create_layer("c", kind="consensus")
    writes = [LabelWrite(i, "cat", confidence=0.5) for i in (1, 2, 3)]
    assert ds.set_labels(writes, layer="c", author="x", skip_unchanged=True).n_written == 3
    again = [*writes[:2], LabelWrite(3, "cat", confidence=0.9)]
    result = ds.set_labels(again, layer="c", author="x", skip_unchanged=True)
    assert (result.n_written, result.n_unchanged) == (1, 2)


def test_label_where_labels_a_filter(ds: assay.Dataset) -> None:
    ds.create_layer("split-labels")
    result = ds.label_where("split=train", "bird", layer="split-labels", author="a")
    assert result.n_written == 10
    assert {r["external_key"] for r in ds.items("label[split-labels]=bird", limit=100)[0]} == {
        f"k{i}" for i in range(0, 20, 2)
    }


def test_model_layer_keeps_probabilities(ds: assay.Dataset) -> None:
    ds.create_layer("model-1", kind="model")
    ds.set_label("k3", "dog", layer="model-1", author="model", probs=[0.2, 0.7, 0.1])
    rec = ds.history("k3", layer="model-1")[0]
    assert rec["probs"] == [0.2, 0.7, 0.1] and rec["confidence"] == pytest.approx(0.7)
    with pytest.raises(InvalidParameter, match="3 classes"):
        ds.set_label("k3", "dog", layer="model-1", author="m", probs=[0.5, 0.5])
    with pytest.raises(InvalidParameter, match="sum to"):
        ds.set_label("k3", "dog", layer="model-1", author="m", probs=[0.5, 0.5, 0.5])


def test_refusals_change_nothing(project: assay.Project, ds: assay.Dataset) -> None:
    other = make_dataset(project, "other", n=3)
    foreign = other.item("k0")["id"]
    before = n_labels(ds)
    with pytest.raises(ItemNotFound):
        ds.set_label(foreign, "cat", layer="ground_truth", author="a")  # another dataset's item
    with pytest.raises(ItemNotFound, match="'nope'"):
        ds.set_label("nope", "cat", layer="ground_truth", author="a")
    with pytest.raises(LayerNotFound, match="Did you mean 'ground_truth'"):
        ds.set_label("k0", "cat", layer="ground_trut", author="a")
    with pytest.raises(ClassNotFound):
        ds.set_label("k0", "fish", layer="ground_truth", author="a")
    with pytest.raises(InvalidParameter, match="more than once"):
        ds.set_labels([("k0", "cat"), ("k0", "dog")], layer="ground_truth", author="a")
    with pytest.raises(InvalidParameter, match="author"):
        ds.set_label("k0", "cat", layer="ground_truth", author="  ")
    ds.freeze_layer("ground_truth")
    with pytest.raises(Conflict, match="frozen"):
        ds.set_label("k0", "dog", layer="ground_truth", author="a")
    assert n_labels(ds) == before
    assert ds.layer("ground_truth")["frozen"] is True
    ds.freeze_layer("ground_truth", False)
    ds.set_label("k0", "dog", layer="ground_truth", author="a")
    assert n_labels(ds) == before + 1


def test_idempotency_key_writes_once(ds: assay.Dataset) -> None:
    a = ds.set_label("k4", "cat", layer="ground_truth", author="a", idempotency_key="req-1")
    b = ds.set_label("k4", "cat", layer="ground_truth", author="a", idempotency_key="req-1")
    assert a["label_ids"] == b["label_ids"] and b["n_written"] == 0
    assert len(ds.history("k4")) == 2


def test_copy_rename_freeze_layers(ds: assay.Dataset) -> None:
    ds.copy_layer("ground_truth", "draft", author="carol")
    ds.set_label("k0", "bird", layer="draft", author="carol")
    assert ds.item("k0")["labels"]["ground_truth"]["label"] == "cat"  # the source is untouched
    copied = ds.history("k5", layer="draft")[0]
    assert copied["author"] == "carol" and "copied from layer 'ground_truth'" in copied["note"]
    assert ds.layer("draft")["origin"] == {"copied_from": "ground_truth"}
    with pytest.raises(Conflict, match="already has a layer"):
        ds.create_layer("draft")
    with pytest.raises(Conflict, match="already has a layer"):
        ds.rename_layer("draft", "ground_truth")
    ds.rename_layer("draft", "final")
    assert ds.item("k0")["labels"]["final"]["label"] == "bird"
    assert [h["label"] for h in ds.history("k0", layer="final")] == ["cat", "bird"]
    with pytest.raises(InvalidParameter, match="kind"):
        ds.create_layer("x", kind="robot")


def test_export_of_a_human_layer(ds: assay.Dataset, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ds.create_layer("alice")
    ds.set_labels([("k0", "dog"), ("k1", "bird")], layer="alice", author="alice")
    n = ds.export(tmp_path / "alice.csv", layer="alice")
    text = (tmp_path / "alice.csv").read_text()
    assert n == 2 and "k0" in text and "bird" in text


def test_column_append_keeps_the_chain_and_refuses_a_hidden_head(ds: assay.Dataset) -> None:
    """The column-wise append of imports (``append_labels``: one statement for the labels and
    one for the heads): heads follow, a second append supersedes, and an append that claims
    no label is current where one is (which would cut the history chain) writes nothing."""
    from datetime import UTC, datetime

    from assay.labels.writes import append_labels, resolve_items, writable_layer

    ds.create_layer("price", kind="import", value_kind="number")
    now = datetime.now(UTC)
    with ds.store.write() as conn:
        found = resolve_items(conn, ds.id, ["k0", "k1", "k2"])
        ids = [found["k0"], found["k1"], found["k2"]]
        layer_id = writable_layer(conn, ds.id, "price").id
        first = append_labels(conn, layer_id, ids, ["1.5", "2", None], author="imp",
                              created_at=now)  # fmt: skip
        second = append_labels(conn, layer_id, ids[:2], ["3.25", "4"], author="imp",
                               created_at=now, supersedes=list(first[:2]))  # fmt: skip
    assert [h["value"] for h in ds.history("k0", layer="price")] == [1.5, 3.25]
    assert ds.history("k1", layer="price")[1]["supersedes"] == first[1]
    assert ds.item("k1")["labels"]["price"]["value"] == 4
    assert ds.item("k2")["labels"].get("price") is None  # a cleared (None) value
    with ds.store.read() as conn:
        heads = dict(
            conn.execute(
                sa.select(t.label_heads.c.item_id, t.label_heads.c.label_id).where(
                    t.label_heads.c.layer_id == layer_id
                )
            ).all()
        )
    assert heads == {ids[0]: second[0], ids[1]: second[1], ids[2]: first[2]}
    before = n_labels(ds)
    with pytest.raises(sa.exc.IntegrityError), ds.store.write() as conn:
        append_labels(conn, layer_id, ids[:1], ["9"], author="imp", created_at=now)
    assert n_labels(ds) == before
