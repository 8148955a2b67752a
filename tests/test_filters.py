"""The filter language: parsing, refusals, and each field on both backends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import assay
from assay.errors import ClassNotFound, InvalidParameter, LayerNotFound
from assay.ingest.staging import ImportJob, json_hash
from assay.store import filters, queries
from assay.store.filters import parse


@pytest.fixture
def ds(tmp_path: Path, store_url: str) -> assay.Dataset:
    project = assay.init(tmp_path, db=store_url)
    rows = [
        ("a", "train", "cat", {"age": 3, "city": "Oslo"}),
        ("b", "train", "dog", {"age": 10, "city": "Bergen"}),
        ("c", "test", "cat", {"age": 7, "city": "Oslo"}),
        ("d", "test", None, {"age": None, "city": "Oslo"}),
    ]
    schema = [{"name": "age", "dtype": "number"}, {"name": "city", "dtype": "string"}]
    with ImportJob(project.store, "t", source="mem", format="test", table_schema=schema) as job:
        for n, (key, split, label, fields) in enumerate(rows, start=2):
            row = {
                "external_key": key,
                "kind": "tabular",
                "split": split,
                "label": label,
                "fields": fields,
                "meta": {"source": "web" if key < "c" else "scan"},
                "content_hash": json_hash(fields),
            }
            job.add(row, where=n)
        job.publish()
    return project.dataset("t")


def _keys(ds: assay.Dataset, text: str) -> list[str]:
    return [r["external_key"] for r in ds.items(text, limit=100)[0]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("split=train", ["a", "b"]),
        ("split!=train", ["c", "d"]),
        ("label=cat", ["a", "c"]),
        ("label[ground_truth]=dog", ["b"]),
        ("label=none", ["d"]),
        ("label!=none", ["a", "b", "c"]),
        ("label!=cat", ["b", "d"]),
        ("key=c", ["c"]),
        ("kind=tabular and split=test", ["c", "d"]),
        ("meta.source=web", ["a", "b"]),
        ("field.age>=7", ["b", "c"]),
        ("field.age<5, split=train", ["a"]),
        ("field.city=Oslo", ["a", "c", "d"]),
        ("field.age=none", ["d"]),
    ],
)
def test_filter_selects(ds: assay.Dataset, text: str, expected: list[str]) -> None:
    assert _keys(ds, text) == expected


def test_unknown_class_and_layer_are_named(ds: assay.Dataset) -> None:
    with pytest.raises(ClassNotFound, match=r"Did you mean 'cat'"):
        ds.items("label=cta")
    with pytest.raises(LayerNotFound, match="No layer 'alice'"):
        ds.items("label[alice]=cat")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour=red", "Unknown filter field 'colour'"),
        ("split", "Cannot read the filter"),
        ("items.id=1; DROP TABLE items", "Unknown filter field 'items'"),
        ("meta=1", "Say which meta"),
        ("label>cat", "Labels compare with"),
        ("field.city>Oslo", "needs a number"),
    ],
)
def test_bad_filters_are_refused(ds: assay.Dataset, text: str, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        ds.items(text)


def test_values_are_bound_not_spliced(ds: assay.Dataset) -> None:
    assert _keys(ds, "key=' OR 1=1 --") == []
    assert len(ds) == 4


def test_parse_splits_on_commas_and_and() -> None:
    clauses = parse("split=train, label[x]=a and meta.k!=v")
    assert [(c.field, c.arg, c.op, c.value) for c in clauses] == [
        ("split", None, "=", "train"),
        ("label", "x", "=", "a"),
        ("meta", "k", "!=", "v"),
    ]
    assert np.all([isinstance(c.value, str) for c in clauses])


def test_confidence_case_and_selection_filters(ds: assay.Dataset) -> None:
    ds.set_label("a", "cat", layer="ground_truth", confidence=0.3, author="t")
    ds.set_label("b", "dog", layer="ground_truth", confidence=0.9, author="t")
    assert _keys(ds, "confidence[ground_truth]<0.5") == ["a"]
    assert _keys(ds, "confidence>=0.5") == ["b"]
    with pytest.raises(InvalidParameter, match="Confidence compares"):
        ds.items("confidence=0.5")

    b = ds.items("key=b")[0][0]["id"]
    ds.review.flag(b, comment="looks wrong", actor="t")
    assert _keys(ds, "case=flagged") == ["b"]
    assert _keys(ds, "case=any") == ["b"]
    assert _keys(ds, "case!=any") == ["a", "c", "d"]
    assert _keys(ds, "case=mislabel") == []
    with pytest.raises(InvalidParameter, match="Unknown review case reason"):
        ds.items("case=bogus")

    sel = ds.select(["a", "d"], source="test")
    assert sel["n_items"] == 2
    assert _keys(ds, f"selection={sel['id']}") == ["a", "d"]
    assert _keys(ds, f"selection={sel['id']}, split=test") == ["d"]
    with pytest.raises(InvalidParameter, match="no selection 999"):
        ds.items("selection=999")


def test_confidence_without_a_model_says_what_to_choose(ds: assay.Dataset) -> None:
    """Issue 16, bug 7: "confidence<0.3" with no model chosen read ground_truth, whose labels
    carry no confidence, and silently matched nothing."""
    with pytest.raises(InvalidParameter, match=r"No model chosen.*no model yet"):
        ds.items("confidence<0.3")
    ds.create_layer("m", kind="model")
    ds.set_label("a", "cat", layer="m", confidence=0.2, author="t")
    ds.set_label("b", "cat", layer="m", confidence=0.8, author="t")
    with pytest.raises(InvalidParameter, match=r"No model chosen.*confidence\[m\]<0.3"):
        ds.items("confidence<0.3")
    with pytest.raises(InvalidParameter, match="'ground_truth', whose labels carry no confidence"):
        ds.items("confidence[ground_truth]<0.3")
    assert _keys(ds, "confidence[m]<0.3") == ["a"]


@pytest.mark.parametrize("few", [0, 20_000])
def test_confidence_filters_list_or_probe_alike(
    ds: assay.Dataset, few: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Few labels in range are listed from the index, many probed item by item: same items."""
    from assay.store import filters

    monkeypatch.setattr(filters, "FEW_CONFIDENT", few)
    ds.create_layer("m", kind="model")
    for key, confidence in [("a", 0.2), ("b", 0.8), ("c", 0.5)]:
        ds.set_label(key, "cat", layer="m", confidence=confidence, author="t")
    ds.set_label("c", "dog", layer="m", confidence=0.9, author="t")  # c's current label
    assert _keys(ds, "confidence[m]<0.6") == ["a"]
    assert _keys(ds, "confidence[m]>=0.8") == ["b", "c"]
    assert _keys(ds, "confidence[m]<0.6, split=test") == []
    assert len(ds.items("confidence[m]<0.95", limit=2)[0]) == 2


def test_tag_and_value_filters_hold_whatever_plan_the_database_picks(ds: assay.Dataset) -> None:
    """Each tag and value condition reads only its own layer's labels, even when the planner
    tests it over every label first (hash joins, as PostgreSQL picks at 100,000 items): a
    number label must not reach a list function (PostgreSQL raised "cannot get array length
    of a scalar" on ``tag[L]=none``). The order of conditions does not change the items, nor
    does a count that scans one condition's index (``count_driver``) instead of the items."""
    keys = {r["external_key"]: r["id"] for r in ds.items(limit=10)[0]}
    ds.create_layer("topics", value_kind="tags")
    ds.create_layer("rating", value_kind="number")
    ds.set_label(keys["a"], [], layer="topics", author="t")
    ds.set_label(keys["b"], ["cat"], layer="topics", author="t")
    for key, value in (("a", 2), ("b", 4), ("c", 5)):
        ds.set_label(keys[key], value, layer="rating", author="t")
    cases = {
        "tag[topics]=none": ["a"],
        "tag[topics]!=none": ["b"],
        "tag[topics]=cat": ["b"],
        "tag[topics]=none, value[rating]>=1": ["a"],
        "value[rating]>=4": ["b", "c"],
        "tag[topics]=cat, value[rating]>=4": ["b"],
        "value[rating]>=4 and split=train and tag[topics]!=cat": [],
        "tag[topics]!=cat and value[rating]>1": ["a", "c"],
        "label=cat and value[rating]>1": ["a", "c"],
        "split=test, label=cat": ["c"],
    }
    with ds.store.read() as conn:
        if conn.dialect.name == "postgresql":  # no index probes: scan and hash every table
            for setting in ("nestloop", "mergejoin", "indexscan", "indexonlyscan", "bitmapscan"):
                conn.exec_driver_sql(f"SET LOCAL enable_{setting} = off")
        for text, expected in cases.items():
            where = filters.compile_filter(conn, ds.id, text)
            rows, _ = queries.page_items(conn, ds.id, where, limit=10)
            assert sorted(r.external_key for r in rows) == expected, text
            assert queries.count_items(conn, ds.id, where, cap=5) == len(expected), text
            among, rest = filters.count_driver(conn, ds.id, text)
            assert (among is None) == (text == "tag[topics]!=none"), text
            driven = queries.count_items(conn, ds.id, rest, cap=5, among=among)
            assert driven == len(expected), text
        assert queries.count_items(conn, ds.id, None, cap=1, among=among) == 2  # cap + 1
    assert ds.count("value[rating]>=4, tag[topics]=cat", cap=10) == 1
    with pytest.raises(InvalidParameter, match="compare with '=' or '!='"):
        ds.count("tag[topics]>cat", cap=10)  # checked, though it is not what drives
