"""`assay backup` / `assay restore`: a consistent copy taken while a writer is busy, restored
whole, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import assay
from assay.cli import app
from assay.errors import InvalidParameter
from assay.store import schema as t
from assay.store.backup import backup, restore
from assay.store.doctor import check_store
from labelkit import make_dataset


def labels(project: assay.Project) -> dict[int, tuple]:
    with project.store.read() as conn:
        rows = conn.execute(
            sa.select(
                t.labels.c.id,
                t.labels.c.item_id,
                t.labels.c.class_id,
                t.labels.c.supersedes,
                t.labels.c.author,
            )
        ).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_backup_during_writes_then_restore(tmp_path: Path, store_url: str) -> None:
    project = assay.init(tmp_path / "p", db=store_url)
    ds = make_dataset(project, "pets")
    ds.create_layer("busy")
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        n = 0
        try:
            while not stop.is_set() and n < 2000:
                ds.set_label(f"k{n % 20}", ["cat", "dog"][n % 2], layer="busy", author="w")
                n += 1
        except BaseException as exc:  # reported below
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(labels(project)) < 60:
            pass
        copy = backup(project.store, tmp_path / "backup.bin")
    finally:
        stop.set()
        writer.join(timeout=60)
    assert not errors
    before_restore = labels(project)
    with pytest.raises(InvalidParameter, match="exists"):
        backup(project.store, copy)

    restore(project.store, copy)
    restored = labels(project)
    # The copy is one instant of the store: a prefix of what was written, every row identical,
    # and the history whole.
    assert 60 <= len(restored) <= len(before_restore)
    assert all(before_restore[i] == row for i, row in restored.items())
    assert set(restored) == {i for i in before_restore if i <= max(restored)}
    assert check_store(project.store).ok
    assert project.dataset("pets").item("k0")["labels"]["ground_truth"]["label"] == "cat"
    project.close()


def test_cli_backup_and_restore_refuse_bad_files(tmp_path: Path) -> None:
    project = assay.init(tmp_path / "p")
    make_dataset(project, "pets", n=5)
    runner = CliRunner()
    out = runner.invoke(app, ["-p", str(project.root), "backup", str(tmp_path / "b.db")])
    assert out.exit_code == 0, out.output
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    out = runner.invoke(app, ["-p", str(project.root), "restore", str(junk), "--yes"])
    assert out.exit_code == 1 and "not an Assay SQLite backup" in out.output
    out = runner.invoke(app, ["-p", str(project.root), "restore", str(tmp_path / "b.db"), "--yes"])
    assert out.exit_code == 0, out.output
    assert len(project.dataset("pets")) == 5
