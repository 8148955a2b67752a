"""The direction of imports: the layers contract of pyproject.toml ([tool.importlinter]) holds,
and it is strong enough to catch an upward import (TYPE_CHECKING ones included)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
LINT = "import sys, importlinter.cli as c; sys.exit(c.lint_imports_command())"


def lint_imports(src: Path) -> subprocess.CompletedProcess[str]:
    """Run ``lint-imports`` on the ``assay`` package found in ``src`` (no cache written)."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [sys.executable, "-c", LINT, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_imports_go_downward() -> None:
    result = lint_imports(SRC)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # A capability typing against the hub instead of assay.handle.DatasetHandle.
        (
            "stats/drift.py",
            "if TYPE_CHECKING:\n    from assay.dataset import Dataset\n",
            "assay.stats is not allowed to import assay.dataset",
        ),
        # The store reaching up into labels.
        ("store/selections.py", "import assay.labels.writes\n", "assay.store is not allowed"),
    ],
)
def test_an_upward_import_breaks_the_contract(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    copy = tmp_path / "src"
    shutil.copytree(SRC / "assay", copy / "assay", ignore=shutil.ignore_patterns("__pycache__"))
    path = copy / "assay" / module
    text = path.read_text(encoding="utf-8")
    if "TYPE_CHECKING" in line and "import TYPE_CHECKING" not in text:
        line = "from typing import TYPE_CHECKING\n" + line
    path.write_text(text + "\n" + line, encoding="utf-8")
    result = lint_imports(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert broken in " ".join(result.stdout.split())
