"""Numbers in the store: column import (all or nothing, errors naming file, line and value),
export round trip, statistics and review decisions, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from numkit import make_number_dataset

import assay
from assay.dataset import item_order
from assay.errors import DataFormatError
from assay.stats.kind_stats import layer_statistics
from assay.store import queries
from assay.store import schema as t
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


def _head_numbers(ds: assay.Dataset, layer: str) -> dict[int, float | None]:
    h = t.label_heads.c
    with ds.store.read() as conn:
        layer_id = queries.get_layer(conn, ds.id, layer).id
        rows = conn.execute(sa.select(h.item_id, h.number).where(h.layer_id == layer_id))
        return {int(r.item_id): r.number for r in rows}


def test_the_head_keeps_the_current_number_for_the_sort_and_filters(
    project: assay.Project,  # noqa: F811
    tmp_path: Path,
) -> None:
    """``label_heads.number`` follows the current value through imports, rewrites and clears;
    the value sort and ``value[L]`` read it (the sort over its index, by keyset)."""
    ds = make_number_dataset(project, tmp_path, n=12)
    values = {
        r["id"]: r["labels"]["y"]["value"] for r in map(ds.item, [f"r{i}" for i in range(12)])
    }
    assert _head_numbers(ds, "y") == pytest.approx(values)
    first, second = ds.item("r0")["id"], ds.item("r1")["id"]
    ds.set_label(first, 100, layer="y", author="t")  # now the highest
    ds.set_label(second, None, layer="y", author="t")  # cleared: no number, not sorted
    heads = _head_numbers(ds, "y")
    assert heads[first] == 100.0 and heads[second] is None
    values[first], values[second] = 100.0, None
    ranked = sorted((i for i in values if values[i] is not None), key=lambda i: (-values[i], -i))
    pages, after = [], None
    while True:  # pages of 5 by keyset, highest first, ties by item id
        rows, after = ds.items(sort="value:y", limit=5, after=after)
        pages += [r["id"] for r in rows]
        if after is None:
            break
    assert pages == ranked and ds.count(sort="value:y") == 11
    assert sorted(r["id"] for r in ds.items("value[y]>=100", limit=50)[0]) == [first]
    assert second in [r["id"] for r in ds.items("value[y]=none", limit=50)[0]]
    assert second not in [r["id"] for r in ds.items("value[y]<50", limit=50)[0]]


def test_the_value_sort_reads_its_index_in_order_on_sqlite(tmp_path: Path) -> None:
    """The page query walks ``ix_label_heads_layer_number`` in order: no sort of the layer's
    values per page (what made the sort cost 120 ms of CPU at 100,000 items)."""
    ds = make_number_dataset(assay.init(tmp_path / "p"), tmp_path, n=12)
    statements: list[tuple[str, object]] = []
    with ds.store.read() as conn:
        order = item_order(conn, ds.id, "value:y", None)

        def grab(*args: object) -> None:
            statements.append((str(args[2]), args[3]))

        sa.event.listen(conn, "before_cursor_execute", grab)
        queries.page_items(conn, ds.id, limit=5, order=order, after="3:50.0")
        sa.event.remove(conn, "before_cursor_execute", grab)
        statement, params = statements[-1]
        plan = " | ".join(
            r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
        )
    assert "ix_label_heads_layer_number" in plan and "TEMP B-TREE" not in plan, plan
