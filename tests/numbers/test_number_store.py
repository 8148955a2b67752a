"""Numbers in the store: column import (all or nothing, errors naming file, line and value),
export round trip, statistics and review decisions, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from numkit import make_number_dataset

import assay
from assay.errors import DataFormatError
from assay.stats.kind_stats import layer_statistics
from labelkit import project  # noqa: F401  (the per-backend project fixture)


def test_import_checks_every_value_then_lands_whole(
    project: assay.Project,  # noqa: F811
    tmp_path: Path,
) -> None:
    ds = make_number_dataset(project, tmp_path)
    assert ds.item("r3")["labels"]["y"]["value"] == pytest.approx(
        float((tmp_path / "t.csv").read_text().splitlines()[4].split(",")[-1])
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("key,z\nr0,1.5\nr1,abc\nr2,3\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad\.csv, line 3: z = 'abc' is not a number"):
        ds.import_numbers(bad, column="z", layer="z", key_column="key")
    out = tmp_path / "out.csv"
    out.write_text("key,z\nr0,1.5\nr1,101\nr2,3\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"out\.csv, line 3: z = 101 is outside \[min, max\]"):
        ds.import_numbers(out, column="z", layer="z", key_column="key",
                          options={"min": 0, "max": 100})  # fmt: skip
    assert "z" not in [layer["name"] for layer in ds.layers()]  # nothing half-imported
    stranger = tmp_path / "stranger.csv"
    stranger.write_text("key,z\nr0,1\nnobody,2\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="line 3: key 'nobody' is not an item"):
        ds.import_numbers(stranger, column="z", layer="z", key_column="key")
    again = ds.import_numbers(tmp_path / "t.csv", column="y", layer="y", key_column="key")
    assert again["n_new_labels"] == 0  # a re-import writes nothing

    exported = tmp_path / "y.parquet"
    assert ds.export(exported, layer="y") == 60
    table = pq.read_table(exported).to_pydict()
    assert table["key"][:2] == ["r0", "r1"] and len(table["y"]) == 60
    copy = ds.import_numbers(exported, column="y", layer="y2", key_column="key")
    assert copy["n_new_labels"] == 60
    assert ds.item("r5")["labels"]["y2"]["value"] == ds.item("r5")["labels"]["y"]["value"]

    stats = layer_statistics(ds, "y")
    assert stats["value_kind"] == "number" and stats["n_values"] == 60
    assert stats["histogram"]["edges"][0] == 0.0 and sum(stats["histogram"]["counts"]) == 60


def test_number_disagreement_resolved_with_a_number_into_reviewed(
    project: assay.Project,  # noqa: F811
    tmp_path: Path,
) -> None:
    ds = make_number_dataset(project, tmp_path, n=12)
    assert ds.parse_label("y", "4.5") == 4.5
    for name, shift in (("ann", 0.0), ("bob", 30.0)):
        ds.create_layer(name, value_kind="number", kind="human", options={"min": 0, "max": 200})
        for key in ("r0", "r1"):
            value = ds.item(key)["labels"]["y"]["value"]
            ds.set_label(key, value + (shift if key == "r1" else 0.0), layer=name)
    ds.review_scan(layers=["ann", "bob"], actor="t")
    cases = ds.review.list()[0]
    assert [c["item_key"] for c in cases] == ["r1"]
    case = cases[0]
    assert case["evidence"]["value_kind"] == "number"
    with pytest.raises(Exception, match="not a number"):
        ds.review.resolve(case["id"], "lots", "typed", actor="t")
    ds.review.resolve(case["id"], "61.5", "measured", actor="t")
    layer = ds.review.decision_layer(case["id"])
    assert ds.item("r1")["labels"][layer]["value"] == 61.5
    assert ds.layer(layer)["value_kind"] == "number"
