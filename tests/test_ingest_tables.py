"""CSV/TSV and Parquet import: types, parts of columns, idempotence, atomicity, bad input."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

import assay
from assay.errors import Conflict, DataFormatError, InvalidParameter
from assay.ingest import tables
from assay.ingest.staging import content_hash, json_hash
from assay.project import Project
from assay.store import schema as t
from helpers import count, import_states, raised

# Input checks that never reach the database run on SQLite only (PostgreSQL adds nothing).
sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


CSV = """id,age,height,city,member,label,split
u1,31,1.80,Paris,true,yes,train
u2,,1.65,Lyon,false,no,train
u3,45,NA,,true,,test
"""


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Any:
    with assay.init(tmp_path / "project", db=store_url) as p:
        yield p


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return path


def items_by_key(project: Project, dataset: str) -> dict[str, dict[str, Any]]:
    rows, _ = project.dataset(dataset).items(limit=1000)
    return {r["external_key"]: r for r in rows}


def dataset_schema(project: Project, dataset: str) -> Any:
    with project.store.read() as conn:
        return conn.execute(
            sa.select(t.datasets.c.schema).where(t.datasets.c.name == dataset)
        ).scalar()


# -- CSV -------------------------------------------------------------------------------------


def test_csv_rows_become_tabular_items(project: Project, tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", CSV)

    result = project.import_path(
        path, dataset="people", label_column="label", key_column="id", split_column="split"
    )

    assert (result.n_rows, result.n_new_items, result.n_new_labels) == (3, 3, 2)
    items = items_by_key(project, "people")
    assert items["u1"]["fields"] == {
        "age": 31,
        "height": 1.8,
        "city": "Paris",
        "member": True,
    }
    assert items["u2"]["fields"] == {"age": None, "height": 1.65, "city": "Lyon", "member": False}
    assert items["u3"]["fields"] == {"age": 45, "height": None, "city": None, "member": True}
    assert isinstance(items["u1"]["fields"]["age"], int)
    assert {k: (r["label"], r["split"]) for k, r in items.items()} == {
        "u1": ("yes", "train"),
        "u2": ("no", "train"),
        "u3": (None, "test"),
    }
    assert {r["kind"] for r in items.values()} == {"tabular"}
    assert items["u1"]["content_hash"] == json_hash(items["u1"]["fields"])
    assert dataset_schema(project, "people") == [
        {"name": "age", "dtype": "number"},
        {"name": "height", "dtype": "number"},
        {"name": "city", "dtype": "string"},
        {"name": "member", "dtype": "bool"},
    ]
    assert project.dataset("people").classes() == ["no", "yes"]


@sqlite_only
def test_default_key_is_the_row_index_and_labels_stay_as_written(
    project: Project, tmp_path: Path
) -> None:
    path = write(tmp_path / "d.csv", "x,y\n1,3\n2,3.0\n3,03\n")

    project.import_path(path, dataset="d", label_column="y")

    items = items_by_key(project, "d")
    assert {k: r["label"] for k, r in items.items()} == {"0": "3", "1": "3.0", "2": "03"}
    assert items["2"]["fields"] == {"x": 3}


@sqlite_only
def test_tsv_gzip_bom_padding_and_unnamed_columns(project: Project, tmp_path: Path) -> None:
    text = "\ufeff\tscore\tname\n0\t 1.5\tann\n1\t2 \tbob\n"
    path = tmp_path / "scores.tsv.gz"
    path.write_bytes(gzip.compress(text.encode()))

    project.import_path(path, dataset="scores", format="table")

    items = items_by_key(project, "scores")
    assert items["0"]["fields"] == {"column_1": 0, "score": 1.5, "name": "ann"}
    assert items["1"]["fields"] == {"column_1": 1, "score": 2.0, "name": "bob"}


@sqlite_only
def test_column_types_hold_for_the_whole_file(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small blocks: 'code' reads as a number in the first blocks and as text only at the end.
    monkeypatch.setattr(tables, "BLOCK_SIZE", 64)
    lines = ["code,n"] + [f"{i},{i}" for i in range(40)] + ["A7,40"]
    path = write(tmp_path / "codes.csv", "\n".join(lines) + "\n")

    project.import_path(path, dataset="codes")

    items = items_by_key(project, "codes")
    assert items["0"]["fields"] == {"code": "0", "n": 0}
    assert items["40"]["fields"] == {"code": "A7", "n": 40}
    assert dataset_schema(project, "codes") == [
        {"name": "code", "dtype": "string"},
        {"name": "n", "dtype": "number"},
    ]


def test_text_column_makes_text_items(project: Project, tmp_path: Path) -> None:
    path = write(tmp_path / "reviews.csv", 'review,stars,label\n"Great, really",5,pos\nmeh,2,neg\n')

    project.import_path(path, dataset="reviews", text_column="review", label_column="label")

    items = items_by_key(project, "reviews")
    first = items["0"]
    assert (first["kind"], first["text"], first["text_length"]) == ("text", "Great, really", 13)
    assert first["fields"] == {"stars": 5}
    assert first["content_hash"] == content_hash("Great, really", b'{"stars":5}')
    assert items["1"]["label"] == "neg"


# -- Parquet ---------------------------------------------------------------------------------


def test_parquet_types_and_label_text(project: Project, tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([10, 11, 12], pa.int64()),
            "x": pa.array([0.5, None, 2.5]),
            "color": pa.array(["red", "blue", "red"]).dictionary_encode(),
            "seen": pa.array([datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), None, None]),
            "ok": pa.array([True, False, None]),
            "label": pa.array([3.0, None, 7.0]),  # pandas keeps integer labels with gaps as floats
        }
    )
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=2)

    result = project.import_path(path, dataset="t", label_column="label", key_column="id")

    assert (result.n_new_items, result.n_new_labels) == (3, 2)
    items = items_by_key(project, "t")
    assert {k: r["label"] for k, r in items.items()} == {"10": "3", "11": None, "12": "7"}
    assert items["10"]["fields"] == {
        "x": 0.5,
        "color": "red",
        "seen": "2024-01-02T03:04:05+00:00",
        "ok": True,
    }
    assert dataset_schema(project, "t") == [
        {"name": "x", "dtype": "number"},
        {"name": "color", "dtype": "string"},
        {"name": "seen", "dtype": "string"},
        {"name": "ok", "dtype": "bool"},
    ]


@sqlite_only
def test_parquet_and_csv_of_the_same_rows_hash_alike(project: Project, tmp_path: Path) -> None:
    csv_path = write(tmp_path / "a.csv", "b,a\n1,x\n")
    pq.write_table(pa.table({"a": ["x"], "b": [1]}), tmp_path / "a.parquet")
    project.import_path(csv_path, dataset="one")
    project.import_path(tmp_path / "a.parquet", dataset="two")
    one, two = items_by_key(project, "one")["0"], items_by_key(project, "two")["0"]
    assert one["content_hash"] == two["content_hash"]


@sqlite_only
def test_not_a_parquet_file(project: Project, tmp_path: Path) -> None:
    path = write(tmp_path / "x.parquet", "a,b\n1,2\n")
    assert raised(project, path).startswith(f"{path}: not a readable Parquet file")


@sqlite_only
def test_parquet_missing_key_names_the_row(project: Project, tmp_path: Path) -> None:
    path = tmp_path / "k.parquet"
    pq.write_table(pa.table({"id": ["a", None], "v": [1, 2]}), path)
    assert raised(project, path, key_column="id") == (
        f"{path}, row 1: the key column 'id' is empty. Every row needs a key."
    )


# -- idempotence, conflicts, atomicity --------------------------------------------------------


def test_reimport_adds_nothing_and_a_changed_label_supersedes(
    project: Project, tmp_path: Path
) -> None:
    path = write(tmp_path / "people.csv", CSV)
    project.import_path(path, dataset="p", label_column="label", key_column="id")

    again = project.import_path(path, dataset="p", label_column="label", key_column="id")
    assert (again.n_new_items, again.n_new_labels) == (0, 0)

    write(path, CSV.replace("u2,,1.65,Lyon,false,no", "u2,,1.65,Lyon,false,yes"))
    changed = project.import_path(path, dataset="p", label_column="label", key_column="id")
    assert (changed.n_new_items, changed.n_new_labels) == (0, 1)
    assert count(project, t.items) == 3
    with project.store.read() as conn:
        rows = conn.execute(
            sa.select(t.labels.c.id, t.labels.c.supersedes, t.classes.c.name)
            .join(t.items, t.items.c.id == t.labels.c.item_id)
            .join(t.classes, t.classes.c.id == t.labels.c.class_id)
            .where(t.items.c.external_key == "u2")
            .order_by(t.labels.c.id)
        ).all()
    assert [(r.name, r.supersedes) for r in rows] == [("no", None), ("yes", rows[0].id)]
    assert items_by_key(project, "p")["u2"]["label"] == "yes"


def test_changed_values_under_the_same_key_conflict(project: Project, tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", CSV)
    project.import_path(path, dataset="p", key_column="id")
    write(path, CSV.replace("u3,45", "u3,46") + "u4,1,1.0,Nice,true,yes,train\n")

    with pytest.raises(Conflict, match=r"item 'u3' is already in dataset 'p'"):
        project.import_path(path, dataset="p", key_column="id")

    assert sorted(items_by_key(project, "p")) == ["u1", "u2", "u3"]
    assert import_states(project) == ["published", "failed"]


def test_other_columns_than_the_dataset_are_refused(project: Project, tmp_path: Path) -> None:
    project.import_path(write(tmp_path / "a.csv", "x,y\n1,2\n"), dataset="d")
    with pytest.raises(DataFormatError, match=r"its columns do not match dataset 'd'"):
        project.import_path(write(tmp_path / "b.csv", "x,z\n1,2\n"), dataset="d")


def test_a_bad_row_in_a_later_batch_leaves_nothing_behind(project: Project, tmp_path: Path) -> None:
    lines = ["v,label"] + [f"{i},{'a' if i % 2 else 'b'}" for i in range(20)] + ["20,c"]
    path = write(tmp_path / "rows.csv", "\n".join(lines) + "\n")
    done: list[int] = []

    with pytest.raises(DataFormatError) as info:
        project.import_path(
            path,
            dataset="rows",
            label_column="label",
            classes=["a", "b"],
            batch_size=5,
            progress=lambda n, total, message: done.append(n),
        )

    assert str(info.value).startswith(f"{path}, line 22: unknown class 'c'")
    assert 20 in done  # four batches were staged before the bad row
    assert project.datasets() == []
    assert count(project, t.items) == 0
    assert count(project, t.staged_items) == 0
    assert count(project, t.labels) == 0
    assert import_states(project) == ["failed"]


# -- bad input -------------------------------------------------------------------------------


@sqlite_only
def test_misspelled_label_column_suggests_the_closest(project: Project, tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", "a,b,label\n1,2,x\n")
    assert raised(project, path, label_column="lable") == (
        f"{path}: no column 'lable'; did you mean 'label'? Columns: a, b, label."
    )
    assert project.datasets() == []


@sqlite_only
@pytest.mark.parametrize("option", ["key_column", "split_column", "text_column"])
def test_every_named_column_must_exist(project: Project, tmp_path: Path, option: str) -> None:
    path = write(tmp_path / "data.csv", "a,b,label\n1,2,x\n")
    message = raised(project, path, **{option: "Zebra"})
    assert message == f"{path}: no column 'Zebra'. Columns: a, b, label."


@sqlite_only
def test_column_names_differing_in_case_are_suggested(project: Project, tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", "ID,value\n1,2\n")
    assert "no column 'id'; did you mean 'ID'?" in raised(project, path, key_column="id")


@sqlite_only
def test_one_column_cannot_play_two_parts(project: Project, tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", "a,label\n1,x\n")
    with pytest.raises(InvalidParameter, match="one part only"):
        project.import_path(path, dataset="t", label_column="label", key_column="label")


@sqlite_only
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"a,b,c\n1,2,3\n4,5,6,7\n", "line 3: expected 3 fields (like the header), got 4"),
        (b"a,b,c\n1,2,3\n4,5\n", "line 3: expected 3 fields (like the header), got 2"),
        (b'a,b,c\n1,2,3\n4,"5,6\n7,8,9\n', "line 3: expected 3 fields (like the header), got 2"),
    ],
)
def test_parse_errors_name_the_line(
    project: Project, tmp_path: Path, content: bytes, expected: str
) -> None:
    path = write(tmp_path / "bad.csv", content)
    message = raised(project, path)
    assert message.startswith(f"{path}, {expected}.")
    assert "Check the quoting and the delimiter (',')" in message
    assert project.datasets() == []


@sqlite_only
def test_not_utf8_names_the_line(project: Project, tmp_path: Path) -> None:
    text = b"name,label\nann,a\nbob,b\n" + "zoë,c\n".encode("latin-1")
    path = write(tmp_path / "latin1.csv", text)
    assert raised(project, path) == (
        f"{path}, line 4: not valid UTF-8 (byte 3 of the line). Save the file as UTF-8."
    )


@sqlite_only
def test_not_utf8_header(project: Project, tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", "naïve,b\n1,2\n".encode("latin-1"))
    assert raised(project, path).startswith(f"{path}, line 1: the header is not valid UTF-8")


@sqlite_only
def test_empty_file(project: Project, tmp_path: Path) -> None:
    path = write(tmp_path / "empty.csv", b"")
    assert raised(project, path) == (
        f"{path}: the file is empty. A table needs a header line and at least one row."
    )


@sqlite_only
def test_header_without_rows(project: Project, tmp_path: Path) -> None:
    path = write(tmp_path / "header.csv", "a,b,label\n")
    assert raised(project, path) == f"{path}: has a header but no rows. Nothing to import."


@sqlite_only
def test_duplicate_column_names(project: Project, tmp_path: Path) -> None:
    path = write(tmp_path / "dup.csv", "a,b,a\n1,2,3\n")
    assert "names column 'a' twice (columns 1 and 3)" in raised(project, path)


@sqlite_only
def test_empty_key_names_the_line(project: Project, tmp_path: Path) -> None:
    path = write(tmp_path / "keys.csv", "id,v\nk1,1\n,2\n")
    assert raised(project, path, key_column="id") == (
        f"{path}, line 3: the key column 'id' is empty. Every row needs a key."
    )


def test_repeated_key_names_both_lines(project: Project, tmp_path: Path) -> None:
    path = write(tmp_path / "keys.csv", "id,v\nk1,1\nk2,2\nk1,3\n")
    message = raised(project, path, key_column="id")
    assert message.startswith(
        f"{path}, line 4: the key 'k1' appears twice (first at {path}, line 2)"
    )


@sqlite_only
def test_missing_file(project: Project, tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=r"nope\.csv: no such file"):
        tables.import_table(project.store, tmp_path / "nope.csv", dataset="t")


def test_repeated_key_in_a_later_batch(project: Project, tmp_path: Path) -> None:
    # The first k1 is already written when the second arrives: the database finds the clash.
    path = write(tmp_path / "keys.csv", "id,v\nk1,1\nk2,2\nk3,3\nk1,4\n")
    message = raised(project, path, key_column="id", batch_size=2)
    assert message == (
        f"{path}, line 5: the key 'k1' appears twice in the input. Keys must be unique within "
        "a dataset."
    )
    assert project.datasets() == []
    assert count(project, t.items) == 0


@sqlite_only
def test_parquet_from_pandas_leaves_out_its_index(project: Project, tmp_path: Path) -> None:
    frame = pd.DataFrame({"v": [1.5, 2.5], "label": [0, 1]}, index=[10, 20])
    path = tmp_path / "frame.parquet"
    frame.to_parquet(path)

    project.import_path(path, dataset="frame", label_column="label")

    items = items_by_key(project, "frame")
    assert {k: (r["fields"], r["label"]) for k, r in items.items()} == {
        "0": ({"v": 1.5}, "0"),
        "1": ({"v": 2.5}, "1"),
    }


@sqlite_only
def test_rows_longer_than_a_block(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tables, "BLOCK_SIZE", 64)
    long_text = "word " * 100
    path = write(tmp_path / "long.csv", f"id,note\n1,short\n2,{long_text}\n3,end\n")

    project.import_path(path, dataset="long")

    assert items_by_key(project, "long")["1"]["fields"] == {"id": 2, "note": long_text}
