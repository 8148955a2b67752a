"""Export of a layer's labels: formats, filters, history, probabilities and atomic writes."""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

import assay
from assay.dataset import Dataset
from assay.errors import InvalidParameter, LayerNotFound
from assay.ingest import export
from assay.ingest.staging import layer_id
from assay.project import Project
from assay.store import schema as t

ROWS = "id,x,label,split\n" + "".join(
    f"k{i},{i},{'cat' if i % 3 else 'dog'},{'train' if i < 7 else 'test'}\n" for i in range(10)
)


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Any:
    with assay.init(tmp_path / "project", db=store_url) as p:
        yield p


@pytest.fixture
def dataset(project: Project, tmp_path: Path) -> Dataset:
    """Ten items k0..k9; k9 has no label; k1 was relabeled by alice; k2 was cleared."""
    path = tmp_path / "pets.csv"
    path.write_text(ROWS.replace("k9,9,dog", "k9,9,"))
    project.import_path(path, dataset="pets", label_column="label", key_column="id",
                        split_column="split")  # fmt: skip
    add_label(project, "k1", "dog", layer="ground_truth", author="alice", reason="looks like a dog")
    add_label(project, "k2", None, layer="ground_truth", author="bob", reason="unclear")
    return project.dataset("pets")


def add_label(
    project: Project,
    key: str,
    label: str | None,
    *,
    layer: str,
    author: str,
    reason: str | None = None,
    probs: dict[str, float] | None = None,
) -> int:
    """Append a label the way the labeling code does: a new row that supersedes the head."""
    now = datetime.now(UTC)
    with project.store.write() as conn:
        ds = conn.execute(sa.select(t.datasets.c.id).where(t.datasets.c.name == "pets")).scalar()
        item = conn.execute(
            sa.select(t.items.c.id).where(t.items.c.dataset_id == ds, t.items.c.external_key == key)
        ).scalar()
        cls = conn.execute(
            sa.select(t.classes.c.id).where(t.classes.c.dataset_id == ds, t.classes.c.name == label)
        ).scalar()
        lay = layer_id(conn, ds, layer, kind="human", create=True, now=now)
        heads = t.label_heads.c
        head = conn.execute(
            sa.select(heads.label_id).where(heads.layer_id == lay, heads.item_id == item)
        ).scalar()
        new = conn.execute(
            t.labels.insert().values(
                layer_id=lay,
                item_id=item,
                class_id=cls,
                author=author,
                created_at=now,
                reason=reason,
                probs=probs,
                supersedes=head,
            )
        ).inserted_primary_key[0]
        conn.execute(t.label_heads.delete().where(heads.layer_id == lay, heads.item_id == item))
        conn.execute(
            t.label_heads.insert().values(layer_id=lay, item_id=item, label_id=new, class_id=cls)
        )
    return int(new)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_csv_export_of_the_current_labels(dataset: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"

    n = dataset.export(out)

    rows = read_csv(out)
    assert n == len(rows) == 8  # k2 was cleared and k9 never labeled
    assert list(rows[0]) == ["key", "split", "label", "author", "created_at", "reason"]
    assert [r["key"] for r in rows] == ["k0", "k1", "k3", "k4", "k5", "k6", "k7", "k8"]
    by_key = {r["key"]: r for r in rows}
    assert by_key["k1"] == {
        **by_key["k1"],
        "label": "dog",
        "author": "alice",
        "reason": "looks like a dog",
        "split": "train",
    }
    assert (by_key["k4"]["label"], by_key["k4"]["author"]) == ("cat", "import")
    assert by_key["k8"]["split"] == "test"
    assert datetime.fromisoformat(by_key["k0"]["created_at"]).tzinfo is not None


def test_parquet_and_jsonl_hold_the_same_rows(dataset: Dataset, tmp_path: Path) -> None:
    dataset.export(tmp_path / "a.csv")
    assert dataset.export(tmp_path / "a.parquet") == 8
    assert dataset.export(tmp_path / "a.jsonl") == 8

    expected = [(r["key"], r["label"], r["author"]) for r in read_csv(tmp_path / "a.csv")]
    table = pq.read_table(tmp_path / "a.parquet").to_pylist()
    lines = [orjson.loads(x) for x in (tmp_path / "a.jsonl").read_bytes().splitlines()]
    assert [(r["key"], r["label"], r["author"]) for r in table] == expected
    assert [(r["key"], r["label"], r["author"]) for r in lines] == expected
    assert table[0]["created_at"].tzinfo is not None
    assert lines[0]["split"] == "train"


def test_format_option_overrides_the_suffix(dataset: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "labels.txt"
    assert dataset.export(out, format="jsonl") == 8
    assert orjson.loads(out.read_bytes().splitlines()[0])["key"] == "k0"


def test_filter_selects_items(dataset: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "test.csv"
    assert dataset.export(out, filter="split=test") == 2
    assert [r["key"] for r in read_csv(out)] == ["k7", "k8"]


def test_history_exports_the_audit_trail(dataset: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "history.csv"

    n = export.export_layer(dataset, out, layer="ground_truth", history=True)

    rows = read_csv(out)
    assert n == len(rows) == 11  # 9 imported labels, alice's relabel, bob's clearing
    assert list(rows[0]) == [*export.COLUMNS, "label_id", "supersedes"]
    k1 = [r for r in rows if r["key"] == "k1"]
    assert [(r["label"], r["author"]) for r in k1] == [("cat", "import"), ("dog", "alice")]
    assert k1[1]["supersedes"] == k1[0]["label_id"]
    k2 = [r for r in rows if r["key"] == "k2"]
    assert [(r["label"], r["author"], r["reason"]) for r in k2][1] == ("", "bob", "unclear")
    keys = [r["key"] for r in rows]
    assert keys == sorted(keys, key=lambda k: int(k[1:]))  # ordered by item, then label id


def test_probs_are_exported_when_the_layer_has_them(dataset: Dataset, tmp_path: Path) -> None:
    project = dataset.project
    add_label(project, "k0", "cat", layer="model", author="rf", probs={"cat": 0.9, "dog": 0.1})
    add_label(project, "k3", "dog", layer="model", author="rf")

    assert dataset.export(tmp_path / "m.csv", layer="model") == 2
    rows = read_csv(tmp_path / "m.csv")
    assert orjson.loads(rows[0]["probs"]) == {"cat": 0.9, "dog": 0.1}
    assert rows[1]["probs"] == ""

    dataset.export(tmp_path / "m.parquet", layer="model")
    assert pq.read_table(tmp_path / "m.parquet").column("probs").to_pylist()[0] == (
        '{"cat":0.9,"dog":0.1}'
    )
    dataset.export(tmp_path / "m.jsonl", layer="model")
    first = orjson.loads((tmp_path / "m.jsonl").read_bytes().splitlines()[0])
    assert first["probs"] == {"cat": 0.9, "dog": 0.1}
    assert "probs" not in read_csv(_export(dataset, tmp_path / "gt.csv"))[0]


def _export(dataset: Dataset, path: Path) -> Path:
    dataset.export(path)
    return path


def test_export_pages_through_many_chunks(
    dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "CHUNK_SIZE", 3)
    seen: list[tuple[int, int | None]] = []
    n = dataset.export(tmp_path / "a.csv", progress=lambda d, total, m: seen.append((d, total)))
    assert n == 8
    assert [r["key"] for r in read_csv(tmp_path / "a.csv")] == [
        "k0", "k1", "k3", "k4", "k5", "k6", "k7", "k8",
    ]  # fmt: skip
    assert seen[-1] == (8, 8)
    assert (3, 8) in seen and (6, 8) in seen
    history = export.export_layer(dataset, tmp_path / "h.csv", layer="ground_truth", history=True)
    assert history == 11
    assert len({(r["key"], r["label_id"]) for r in read_csv(tmp_path / "h.csv")}) == 11


def test_a_failed_export_leaves_the_old_file_and_no_temporary(
    dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "labels.csv"
    out.write_text("previous export\n")
    monkeypatch.setattr(export, "CHUNK_SIZE", 2)

    def progress(done: int, total: int | None, message: str) -> None:
        if done >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dataset.export(out, progress=progress)

    assert out.read_text() == "previous export\n"
    assert sorted(os.listdir(tmp_path)) == sorted(
        p.name for p in tmp_path.iterdir() if not p.name.startswith(".labels.csv.")
    )


def test_unknown_layer(dataset: Dataset, tmp_path: Path) -> None:
    with pytest.raises(LayerNotFound, match=r"No layer 'ground_trut'.*Did you mean 'ground_truth'"):
        dataset.export(tmp_path / "a.csv", layer="ground_trut")
    assert not (tmp_path / "a.csv").exists()


def test_unknown_suffix_and_format(dataset: Dataset, tmp_path: Path) -> None:
    with pytest.raises(
        InvalidParameter, match=r"cannot tell the export format from the suffix '\.txt'"
    ):
        dataset.export(tmp_path / "a.txt")
    with pytest.raises(InvalidParameter, match=r"Unknown export format 'xlsx'"):
        dataset.export(tmp_path / "a.csv", format="xlsx")


def test_missing_folder(dataset: Dataset, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match=r"nope: no such folder"):
        dataset.export(tmp_path / "nope" / "a.csv")


def test_empty_layer_writes_a_header(dataset: Dataset, tmp_path: Path) -> None:
    add_label(dataset.project, "k0", None, layer="empty", author="x")
    assert dataset.export(tmp_path / "e.csv", layer="empty") == 0
    assert (tmp_path / "e.csv").read_text().strip() == ",".join(export.COLUMNS)
    assert dataset.export(tmp_path / "e.parquet", layer="empty") == 0
    assert pq.read_table(tmp_path / "e.parquet").num_rows == 0
