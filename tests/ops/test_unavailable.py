"""The database unavailable: disk full, locked, read-only (SQLite) and a PostgreSQL server that
stops. Each gives one clear error, changes nothing, and the store works again afterwards."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import assay
import assay.store
from assay.errors import StoreBusy, StoreError
from assay.store import schema as t
from assay.store.doctor import check_store
from labelkit import make_dataset


def n_labels(project: assay.Project) -> int:
    with project.store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t.labels)).scalar_one())


def _pragma_on_connect(project: assay.Project, pragma: str) -> None:
    """Every new connection of the store runs ``pragma`` (a simulated fault)."""
    project.store.close()

    @sa.event.listens_for(project.store.engine, "connect")
    def _fault(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.execute(f"PRAGMA {pragma}")


def _heal(project: assay.Project) -> None:
    """A fresh store without the fault (the fault's hook lives on the old engine)."""
    project.store.close()
    project.store = assay.store.Store(project.store.url)


def test_disk_full_rolls_back_and_recovers(tmp_path: Path) -> None:
    project = assay.init(tmp_path)
    ds = make_dataset(project, "pets")
    ds.create_layer("bulk")
    before = n_labels(project)
    path = tmp_path / "assay.db"
    pages = sqlite3.connect(path).execute("PRAGMA page_count").fetchone()[0]
    _pragma_on_connect(project, f"max_page_count = {pages + 2}")
    with pytest.raises(StoreError, match=r"disk is full.*rolled back.*Free some disk space"):
        ds.set_labels(
            [(f"k{i}", "cat") for i in range(20)], layer="bulk", author="a", note="n" * 5000
        )
    _heal(project)
    assert n_labels(project) == before
    assert check_store(project.store).ok
    ds = project.dataset("pets")
    assert (
        ds.set_labels(
            [(f"k{i}", "cat") for i in range(20)], layer="bulk", author="a", note="n" * 5000
        ).n_written
        == 20
    )


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MiB filesystem (tmpfs) to fill up; needs root (as in CI), else skipped."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small filesystem needs root")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    """Write a file until the filesystem is full; returns it (delete it to free the space)."""
    filler = folder / "filler"
    with open(filler, "wb") as f:
        try:
            for _ in range(10_000):
                f.write(b"\0" * 65536)
                f.flush()
                os.fsync(f.fileno())
        except OSError:
            pass
    return filler


def test_a_real_full_disk_rolls_back_and_recovers(small_filesystem: Path, tmp_path: Path) -> None:
    project = assay.init(small_filesystem / "project")
    ds = make_dataset(project, "pets")
    ds.create_layer("bulk")
    table = tmp_path / "houses.csv"
    table.write_text("id,x,band\n" + "".join(f"h{i},{i},b{i % 3}\n" for i in range(5_000)))
    before = n_labels(project)
    filler = _fill(small_filesystem)
    labels = [(f"k{i}", "cat") for i in range(20)]
    with pytest.raises(StoreError, match=r"disk is full.*rolled back.*Free some disk space"):
        ds.set_labels(labels, layer="bulk", author="a", note="n" * 9000)
    with pytest.raises(StoreError, match="disk is full"):
        project.import_table(table, dataset="houses", label_column="band", key_column="id")
    assert n_labels(project) == before  # reads still work, and nothing half-written shows
    assert [d["name"] for d in project.datasets()] == ["pets"]
    filler.unlink()  # space comes back
    assert check_store(project.store).ok
    written = project.dataset("pets").set_labels(labels, layer="bulk", author="a", note="n" * 5000)
    assert written.n_written == 20
    imported = project.import_table(table, dataset="houses", label_column="band", key_column="id")
    assert imported.n_new_items == 5_000
    assert check_store(project.store).ok
    project.close()


def test_read_only_database_says_so(tmp_path: Path) -> None:
    project = assay.init(tmp_path)
    ds = make_dataset(project, "pets", n=3)
    _pragma_on_connect(project, "query_only = 1")
    with pytest.raises(StoreError, match=r"read-only|readonly"):
        ds.set_label("k0", "dog", layer="ground_truth", author="a")
    assert ds.item("k0")["labels"]["ground_truth"]["label"] == "cat"  # reads still work
    _heal(project)
    project.dataset("pets").set_label("k0", "dog", layer="ground_truth", author="a")


@pytest.mark.slow
def test_a_locked_database_is_busy_not_broken(tmp_path: Path) -> None:
    project = assay.init(tmp_path)
    ds = make_dataset(project, "pets", n=3)
    other = sqlite3.connect(tmp_path / "assay.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        start = time.monotonic()
        with pytest.raises(StoreBusy, match="busy"):
            ds.set_label("k0", "dog", layer="ground_truth", author="a")
        assert time.monotonic() - start < 30
    finally:
        other.execute("ROLLBACK")
        other.close()
    ds.set_label("k0", "dog", layer="ground_truth", author="a")
    assert [h["label"] for h in ds.history("k0")] == ["cat", "dog"]


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


@pytest.mark.slow
@pytest.mark.postgres
def test_postgresql_stopping_and_coming_back(tmp_path: Path) -> None:
    bindir = _pg_bin()
    if bindir is None:
        if os.environ.get("ASSAY_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL binaries are required here")
        pytest.skip("no PostgreSQL binaries")
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="assay-pg-stop.", dir="/tmp"))
    if prefix:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", _free_port()

    def run(*args: object) -> None:
        subprocess.run(
            [*prefix, *map(str, args)], cwd=root, check=True, capture_output=True, timeout=120
        )

    def start() -> None:
        run(
            bindir / "pg_ctl",
            "-D",
            data,
            "-l",
            root / "log",
            "-w",
            "-o",
            f"-k {root} -p {port} -c listen_addresses=127.0.0.1",
            "start",
        )

    try:
        run(bindir / "initdb", "-D", data, "-U", "assay", "--auth=trust", "--no-sync")
        start()
        url = f"postgresql://assay@127.0.0.1:{port}/postgres"
        project = assay.init(tmp_path, db=url)
        ds = make_dataset(project, "pets", n=3)
        run(bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
        with pytest.raises(StoreError, match=r"Cannot open the store|unreachable"):
            ds.set_label("k0", "dog", layer="ground_truth", author="a")
        with pytest.raises(StoreError):
            ds.item("k0")
        start()
        ds.set_label("k0", "dog", layer="ground_truth", author="a")  # pre-ping reconnects
        assert [h["label"] for h in ds.history("k0")] == ["cat", "dog"]
        assert check_store(project.store).ok
        project.close()
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
