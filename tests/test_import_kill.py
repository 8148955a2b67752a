"""An import killed with SIGKILL half-way leaves a store that opens cleanly, with no partial
dataset, and the next import cleans up after it (SQLite: the embedded default)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa

import assay
from assay.store import schema as t

N_ROWS = 200_000
BATCH = 5_000
WAIT_S = 30


def write_csv(path: Path, n: int) -> None:
    rows = "".join(f"{i},{i % 97 * 0.5},{'abc'[i % 3]}\n" for i in range(n))
    path.write_text("x,y,label\n" + rows)


def peek(db: Path) -> tuple[str | None, int]:
    """The newest import's state and how many rows it has written (staged, or straight into
    its hidden new dataset), read on a read-only connection that takes no write lock."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.5)
    except sqlite3.OperationalError:
        return None, 0
    try:
        row = conn.execute("SELECT id, state FROM imports ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None, 0
        return row[1], written(conn, row[0])
    except sqlite3.OperationalError:  # busy, or the tables are not there yet: look again
        return None, 0
    finally:
        conn.close()


def written(conn: sqlite3.Connection | sa.Connection, import_id: int) -> int:
    """Rows an import has written so far: staged rows plus items it inserted directly."""
    sql = (
        "SELECT (SELECT count(*) FROM staged_items WHERE import_id = :imp)"
        " + (SELECT count(*) FROM items WHERE import_id = :imp)"
    )
    if isinstance(conn, sqlite3.Connection):
        return int(conn.execute(sql, {"imp": import_id}).fetchone()[0])
    return int(conn.execute(sa.text(sql), {"imp": import_id}).scalar_one())


def kill_mid_import(root: Path, data: Path) -> None:
    """Run the import in a child process and SIGKILL it once it has written rows."""
    code = textwrap.dedent(
        f"""
        import assay
        project = assay.open({str(root)!r})
        project.import_path({str(data)!r}, dataset="big", label_column="label",
                            batch_size={BATCH})
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            state, rows = peek(root / "assay.db")
            if state == "staging" and rows > 0:
                break
            if child.poll() is not None:
                pytest.fail(f"the import ended before it was killed: {child.stderr.read()!r}")
            if time.monotonic() > deadline:
                pytest.fail(f"no rows written after {WAIT_S} s")
            time.sleep(0.01)
        writers = psutil.Process(child.pid).children(recursive=True)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
        # The import's writer process sees the pipe close and stops, without publishing.
        _, alive = psutil.wait_procs(writers, timeout=10)
        assert alive == []
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        assert child.stderr is not None
        child.stderr.close()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize(
    ("existing", "n_rows"),
    [
        pytest.param(0, N_ROWS, id="new-dataset"),  # rows go straight to a hidden dataset
        pytest.param(10, N_ROWS // 4, id="existing-dataset"),  # rows go to staged_items
    ],
)
def test_sigkill_during_import_leaves_no_partial_dataset(
    tmp_path: Path, existing: int, n_rows: int
) -> None:
    root = tmp_path / "project"
    data = tmp_path / "big.csv"
    with assay.init(root) as project:
        if existing:
            write_csv(data, existing)
            project.import_path(data, dataset="big", label_column="label")
    write_csv(data, n_rows)

    kill_mid_import(root, data)

    with assay.open(root) as project:
        with project.store.read() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            abandoned = conn.execute(sa.select(t.imports).order_by(t.imports.c.id.desc())).first()
            assert abandoned.state == "staging"  # as the killed process left it
            assert written(conn, abandoned.id) > 0  # it was killed half-way
        if existing:
            assert len(project.dataset("big")) == existing  # nothing of the new rows shows
        else:
            assert project.datasets() == []

        result = project.import_path(data, dataset="big", label_column="label")

        assert (result.n_rows, result.n_new_items) == (n_rows, n_rows - existing)
        assert len(project.dataset("big")) == n_rows
        with project.store.read() as conn:
            state, error = conn.execute(
                sa.select(t.imports.c.state, t.imports.c.error).where(
                    t.imports.c.id == abandoned.id
                )
            ).one()
            assert (state, written(conn, abandoned.id)) == ("failed", 0)
            assert "interrupted" in error
            assert conn.execute(sa.select(sa.func.count()).select_from(t.items)).scalar() == n_rows
