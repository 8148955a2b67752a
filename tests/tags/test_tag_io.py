"""Tags imported from and exported to CSV, JSONL and Parquet: all or nothing, on each backend."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import assay
from assay.errors import DataFormatError
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
