"""JSONL text import: fields, keys, gzip, idempotence, atomicity and every bad input."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

import assay
from assay.errors import Conflict, DataFormatError, InvalidParameter
from assay.ingest.jsonl import import_jsonl
from assay.ingest.staging import content_hash
from assay.project import Project
from assay.store import schema as t
from helpers import count, import_states, raised

# Input checks that never reach the database run on SQLite only (PostgreSQL adds nothing).
sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Any:
    with assay.init(tmp_path / "project", db=store_url) as p:
        yield p


def jsonl(path: Path, *records: Any) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def items_by_key(project: Project, dataset: str) -> dict[str, dict[str, Any]]:
    rows, _ = project.dataset(dataset).items(limit=1000)
    return {r["external_key"]: r for r in rows}


REVIEWS = (
    {"id": "r1", "text": "Héllo wörld", "label": "pos", "split": "train", "stars": 5},
    {"id": "r2", "text": "bad", "label": "neg", "split": "test", "tags": ["a", "b"]},
    {"id": "r3", "text": "Héllo wörld", "label": None},
)


def test_records_become_text_items(project: Project, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "reviews.jsonl", *REVIEWS)

    result = project.import_path(
        path, dataset="reviews", label_field="label", key_field="id", split_field="split"
    )

    assert (result.n_rows, result.n_new_items, result.n_new_labels) == (3, 3, 2)
    items = items_by_key(project, "reviews")
    r1 = items["r1"]
    assert (r1["kind"], r1["text"], r1["text_length"]) == ("text", "Héllo wörld", 11)
    assert (r1["label"], r1["split"], r1["meta"]) == ("pos", "train", {"stars": 5})
    assert items["r2"]["meta"] == {"tags": ["a", "b"]}
    assert (items["r3"]["label"], items["r3"]["meta"]) == (None, None)
    # Same text, same hash: the inventory sees them as duplicates.
    assert r1["content_hash"] == items["r3"]["content_hash"] == content_hash("Héllo wörld")
    assert project.dataset("reviews").classes() == ["neg", "pos"]


def test_without_label_field_nothing_is_labeled(project: Project, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "reviews.jsonl", *REVIEWS)
    result = project.import_path(path, dataset="reviews")
    assert (result.n_new_items, result.n_new_labels) == (3, 0)
    items = items_by_key(project, "reviews")
    assert sorted(items) == ["0", "1", "2"]
    assert items["0"]["meta"] == {"id": "r1", "label": "pos", "split": "train", "stars": 5}


@sqlite_only
def test_blank_lines_bom_gzip_and_numeric_labels(project: Project, tmp_path: Path) -> None:
    body = '{"text": "a", "y": 3}\n\n   \n{"text": "b", "y": 3.0}\n{"text": "c", "y": 1.5}'
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(gzip.compress(b"\xef\xbb\xbf" + body.encode()))

    project.import_path(path, dataset="x", label_field="y")

    items = items_by_key(project, "x")
    assert {k: (r["text"], r["label"]) for k, r in items.items()} == {
        "0": ("a", "3"),
        "1": ("b", "3"),
        "2": ("c", "1.5"),
    }


@sqlite_only
def test_custom_text_field(project: Project, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "q.jsonl", {"question": "why?", "n": 1})
    import_jsonl(project.store, path, dataset="q", text_field="question")
    assert items_by_key(project, "q")["0"]["text"] == "why?"


# -- idempotence, conflicts, atomicity --------------------------------------------------------


def test_reimport_adds_nothing_and_a_changed_label_supersedes(
    project: Project, tmp_path: Path
) -> None:
    path = jsonl(tmp_path / "reviews.jsonl", *REVIEWS)
    options = {"dataset": "r", "label_field": "label", "key_field": "id"}
    project.import_path(path, **options)
    again = project.import_path(path, **options)
    assert (again.n_new_items, again.n_new_labels) == (0, 0)

    jsonl(path, *REVIEWS[:2], {**REVIEWS[2], "label": "neg"})
    changed = project.import_path(path, **options)
    assert (changed.n_new_items, changed.n_new_labels) == (0, 1)
    jsonl(path, {**REVIEWS[0], "label": "neg"}, *REVIEWS[1:])
    relabeled = project.import_path(path, **options)
    assert (relabeled.n_new_items, relabeled.n_new_labels) == (0, 1)
    with project.store.read() as conn:
        rows = conn.execute(
            sa.select(t.labels.c.id, t.labels.c.supersedes, t.classes.c.name)
            .join(t.items, t.items.c.id == t.labels.c.item_id)
            .join(t.classes, t.classes.c.id == t.labels.c.class_id)
            .where(t.items.c.external_key == "r1")
            .order_by(t.labels.c.id)
        ).all()
    assert [(r.name, r.supersedes) for r in rows] == [("pos", None), ("neg", rows[0].id)]


def test_new_text_under_an_old_key_conflicts(project: Project, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "reviews.jsonl", *REVIEWS)
    project.import_path(path, dataset="r", key_field="id")
    jsonl(path, {"id": "r0", "text": "new"}, {**REVIEWS[1], "text": "changed"})

    with pytest.raises(Conflict, match=r"item 'r2' is already in dataset 'r'"):
        project.import_path(path, dataset="r", key_field="id")

    assert sorted(items_by_key(project, "r")) == ["r1", "r2", "r3"]
    assert import_states(project) == ["published", "failed"]


def test_a_bad_line_in_a_later_batch_leaves_nothing_behind(
    project: Project, tmp_path: Path
) -> None:
    path = tmp_path / "many.jsonl"
    lines = [orjson.dumps({"text": f"t{i}"}).decode() for i in range(17)] + ['{"text": oops}']
    path.write_text("\n".join(lines) + "\n")
    done: list[int] = []

    with pytest.raises(DataFormatError, match=r"many\.jsonl, line 18: not valid JSON"):
        project.import_path(
            path, dataset="many", batch_size=5, progress=lambda n, total, m: done.append(n)
        )

    assert 15 in done
    assert project.datasets() == []
    assert count(project, t.items) == 0
    assert count(project, t.staged_items) == 0
    assert import_states(project) == ["failed"]


# -- bad input -------------------------------------------------------------------------------


@sqlite_only
def test_invalid_json_names_the_line(project: Project, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{"text": "no end"\n')
    message = raised(project, path)
    assert message.startswith(f"{path}, line 2: not valid JSON (")
    assert message.endswith("Each line must hold one JSON object.")


@sqlite_only
def test_not_utf8_names_the_line(project: Project, tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    assert raised(project, path) == (
        f"{path}, line 2: not valid UTF-8 (byte 14 of the line). Save the file as UTF-8."
    )


@sqlite_only
def test_a_line_that_is_not_an_object(project: Project, tmp_path: Path) -> None:
    path = tmp_path / "list.jsonl"
    path.write_text('{"text": "ok"}\n["text", "no"]\n')
    assert raised(project, path) == (
        f"{path}, line 2: expected a JSON object ({{...}}), got a list. Each line must hold one "
        "object."
    )


@sqlite_only
def test_missing_text_field_lists_the_fields_present(project: Project, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "t.jsonl", {"text": "a"}, {"txt": "b", "label": "x"})
    assert raised(project, path) == (
        f"{path}, line 2: no field 'text'; did you mean 'txt'? Fields present: txt, label. "
        "Name the text field with text_field."
    )


@sqlite_only
def test_text_that_is_not_a_string(project: Project, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "t.jsonl", {"text": 12})
    assert raised(project, path) == f"{path}, line 1: field 'text' must be a string, got a number."


@sqlite_only
def test_missing_key_names_the_line(project: Project, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "t.jsonl", {"id": 1, "text": "a"}, {"text": "b"})
    assert raised(project, path, key_field="id") == (
        f"{path}, line 2: no key in field 'id' (fields present: text). Every record needs a key."
    )


def test_repeated_key_names_both_lines(project: Project, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "t.jsonl", {"id": 1, "text": "a"}, {"id": 1, "text": "b"})
    assert raised(project, path, key_field="id").startswith(
        f"{path}, line 2: the key '1' appears twice (first at {path}, line 1)"
    )


@sqlite_only
def test_misspelled_label_field(project: Project, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "t.jsonl", {"text": "a", "label": "x"})
    assert raised(project, path, label_field="lable") == (
        f"{path}: no record has the field 'lable' (label_field); did you mean 'label'? Fields "
        "of the first record: text, label."
    )


@sqlite_only
def test_label_that_is_not_text(project: Project, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "t.jsonl", {"text": "a", "label": ["x"]})
    assert raised(project, path, label_field="label") == (
        f"{path}, line 1: field 'label' must be text or a number, got a list."
    )


def test_unknown_class_in_an_existing_dataset(project: Project, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "t.jsonl", {"text": "a", "label": "x"})
    project.import_path(path, dataset="t", label_field="label")
    jsonl(path, {"text": "a", "label": "x"}, {"text": "b", "label": "y"})
    assert raised(project, path, label_field="label").startswith(
        f"{path}, line 2: unknown class 'y'"
    )


@sqlite_only
@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_no_records(project: Project, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(content)
    assert raised(project, path) == (
        f"{path}: no records (the file is empty or has only blank lines)."
    )
    assert import_states(project) == ["failed"]


@sqlite_only
def test_truncated_gzip(project: Project, tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.gz"
    data = gzip.compress(b"".join(orjson.dumps({"text": f"t{i}"}) + b"\n" for i in range(500)))
    path.write_bytes(data[: len(data) // 2])
    assert raised(project, path).startswith(f"{path}: cannot be read past line ")


@sqlite_only
def test_one_field_cannot_play_two_parts(project: Project, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "t.jsonl", {"text": "a"})
    with pytest.raises(InvalidParameter, match="one part only"):
        project.import_path(path, dataset="t", label_field="text")


def test_repeated_key_in_a_later_batch(project: Project, tmp_path: Path) -> None:
    records = [{"id": k, "text": f"t{i}"} for i, k in enumerate(["a", "b", "c", "a"])]
    path = jsonl(tmp_path / "t.jsonl", *records)
    assert raised(project, path, key_field="id", batch_size=2) == (
        f"{path}, line 4: the key 'a' appears twice in the input. Keys must be unique within "
        "a dataset."
    )
    assert import_states(project) == ["failed"]
