"""Tags imported from and exported to CSV, JSONL and Parquet: all or nothing, on each backend."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

import assay
from assay.errors import DataFormatError
from assay.store import schema as t
from labelkit import make_dataset, project  # noqa: F401


def _labels(ds: assay.Dataset, layer: str) -> dict[str, list[str]]:
    out = {}
    for r in ds.items(limit=100)[0]:
        rec = ds.item(r["external_key"])["labels"].get(layer)
        if rec is not None:
            out[r["external_key"]] = rec["value"]
    return out


def test_import_formats_round_trip_and_refuse_bad_rows(
    project: assay.Project,  # noqa: F811
    tmp_path: Path,
) -> None:
    ds = make_dataset(project, "pets", n=6)
    csv = tmp_path / "tags.csv"
    csv.write_text('id,tags\nk0,"cat|dog"\nk1,\nk2,"[""bird"", ""cat""]"\nk3,NA\n')
    done = ds.import_tags(csv, layer="t", key_column="id", tags_column="tags")
    assert done["n_new_labels"] == 3 and done["n_classes_added"] == 0
    # class order (cat, dog, bird), [] for an empty cell, NA: not annotated
    assert _labels(ds, "t") == {"k0": ["cat", "dog"], "k1": [], "k2": ["cat", "bird"]}
    assert ds.import_tags(csv, layer="t", key_column="id", tags_column="tags")["n_new_labels"] == 0

    bad = tmp_path / "bad.csv"
    bad.write_text("id,tags\nk4,dog\nk5,dog;fish\n")
    with pytest.raises(DataFormatError, match=r"bad.csv, line 3: tag 'fish'"):
        ds.import_tags(bad, layer="t", key_column="id", tags_column="tags")
    assert "k4" not in _labels(ds, "t")  # nothing half-imported
    missing = tmp_path / "missing.csv"
    missing.write_text("id,tags\nk4,dog\nnope,cat\n")
    with pytest.raises(DataFormatError, match=r"line 3: item 'nope'"):
        ds.import_tags(missing, layer="t", key_column="id", tags_column="tags")

    twice = tmp_path / "twice.csv"
    twice.write_text("id,tags\nk4,dog\nk4,cat\n")
    with pytest.raises(DataFormatError, match=r"line 3: item 'k4' appears twice"):
        ds.import_tags(twice, layer="t", key_column="id", tags_column="tags")

    for name in ("out.csv", "out.jsonl", "out.parquet"):
        assert ds.export_tags(tmp_path / name, layer="t")["n_rows"] == 3
        ds.import_tags(tmp_path / name, layer=f"back_{name[4:]}", tags_column="tags")
        assert _labels(ds, f"back_{name[4:]}") == _labels(ds, "t")
    ds.export_tags(tmp_path / "cols.parquet", layer="t", columns=True)
    cols = pq.read_table(tmp_path / "cols.parquet").to_pydict()
    assert cols["cat"] == [1, 0, 1] and cols["dog"] == [1, 0, 0]
    ds.import_tags(tmp_path / "cols.parquet", layer="cols", tag_columns=["cat", "dog", "bird"])
    assert _labels(ds, "cols") == _labels(ds, "t")


def test_first_import_builds_the_tag_set(tmp_path: Path) -> None:
    ds = make_dataset(assay.init(tmp_path / "p"), "pets", n=3)
    rows = [{"key": "k0", "tags": ["fluffy", "cat"]}, {"key": "k1", "tags": "small;fluffy"}]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(DataFormatError, match="line 1: tag 'fluffy'"):
        ds.import_tags(path, layer="t", tags_column="tags")
    done = ds.import_tags(path, layer="t", tags_column="tags", add_classes=True)
    assert done["n_classes_added"] == 2
    assert ds.classes()[-2:] == ["fluffy", "small"]
    pq.write_table(pa.table({"key": ["k2"], "tags": [["small", "zz"]]}), tmp_path / "t.parquet")
    with pytest.raises(DataFormatError, match=r"t.parquet, line 0: tag 'zz'"):
        ds.import_tags(tmp_path / "t.parquet", layer="t", tags_column="tags")


def _head_tags(ds: assay.Dataset) -> dict[tuple[str, str], list[str]]:
    """(layer, key) -> the tags ``head_tags`` holds, in class order."""
    h, ly, c, i = t.head_tags.c, t.layers.c, t.classes.c, t.items.c
    query = (
        sa.select(ly.name, i.external_key, c.name)
        .select_from(t.head_tags)
        .join(t.layers, ly.id == h.layer_id)
        .join(t.classes, c.id == h.class_id)
        .join(t.items, i.id == h.item_id)
        .where(ly.dataset_id == ds.id)
        .order_by(ly.name, i.external_key, c.position)
    )
    out: dict[tuple[str, str], list[str]] = {}
    with ds.store.read() as conn:
        for layer, key, tag in conn.execute(query):
            out.setdefault((layer, key), []).append(tag)
    return out


def test_head_tags_follow_the_current_tags(
    project: assay.Project,  # noqa: F811
    tmp_path: Path,
) -> None:
    """``head_tags`` (what ``tag[L]=`` probes) holds each item's current tags through writes,
    rewrites, clears, imports and copies of the layer, and nothing of other kinds' layers (a
    copy of a number layer keeps its heads' numbers)."""
    ds = make_dataset(project, "pets", n=6)
    ids = {f"k{i}": ds.item(f"k{i}")["id"] for i in range(6)}
    ds.create_layer("t", value_kind="tags")
    ds.create_layer("score", value_kind="number")
    ds.set_label(ids["k0"], ["cat", "dog"], layer="t", author="a")
    ds.set_label(ids["k1"], ["cat"], layer="t", author="a")
    ds.set_label(ids["k2"], [], layer="t", author="a")
    ds.set_label(ids["k0"], ["bird"], layer="t", author="a")  # rewritten: cat and dog gone
    ds.set_label(ids["k1"], None, layer="t", author="a")  # cleared: no tags, not "none"
    ds.set_label(ids["k3"], 2.5, layer="score", author="a")
    csv = tmp_path / "tags.csv"
    csv.write_text('id,tags\nk4,"cat|dog"\nk5,bird\n')
    ds.import_tags(csv, layer="u", key_column="id", tags_column="tags")
    ds.copy_layer("u", "u2")  # a copy's heads keep the same tags
    ds.copy_layer("score", "score2")
    assert _head_tags(ds) == {
        ("t", "k0"): ["bird"],
        ("u", "k4"): ["cat", "dog"],
        ("u", "k5"): ["bird"],
        ("u2", "k4"): ["cat", "dog"],
        ("u2", "k5"): ["bird"],
    }

    def keys(text: str) -> list[str]:
        return sorted(r["external_key"] for r in ds.items(text, limit=10)[0])

    assert keys("tag[t]=cat") == [] and keys("tag[t]=bird") == ["k0"]
    assert keys("tag[t]!=none") == ["k0"] and keys("tag[t]=none") == ["k2"]
    assert keys("tag[u]=dog and tag[u]!=bird") == ["k4"]
    assert keys("tag[t]!=bird") == ["k1", "k2", "k3", "k4", "k5"]
    assert keys("tag[u2]=bird") == ["k5"] and keys("value[score2]>2") == ["k3"]
    assert [r["external_key"] for r in ds.items(sort="value:score2")[0]] == ["k3"]
