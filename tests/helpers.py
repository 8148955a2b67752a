"""Small helpers shared by the import tests."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.errors import DataFormatError
from assay.project import Project
from assay.store import schema as t


def count(project: Project, table: sa.Table) -> int:
    """Rows in ``table`` (whatever dataset they belong to)."""
    with project.store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def import_states(project: Project) -> list[str]:
    """The state of every import so far, oldest first."""
    with project.store.read() as conn:
        return list(conn.execute(sa.select(t.imports.c.state).order_by(t.imports.c.id)).scalars())


def raised(project: Project, path: Path, **options: Any) -> str:
    """The message of the DataFormatError importing ``path`` raises."""
    with pytest.raises(DataFormatError) as info:
        project.import_path(path, dataset="t", **options)
    return str(info.value)


def stray_threads(timeout: float = 10.0) -> list[str]:
    """The names of the threads besides the main one still running after up to ``timeout``
    seconds (a test server's last request handler may take a moment to end); empty when the
    process is single-threaded again, as forking workers requires (assay.processes)."""
    deadline = time.monotonic() + timeout
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    return [t.name for t in threading.enumerate() if t is not threading.main_thread()]


def demo_copy(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A fresh copy of the session's demo project, opened."""
    import assay

    folder = tmp_path_factory.mktemp("demo-copy") / "demo"
    shutil.copytree(template, folder)
    return assay.open(folder)
