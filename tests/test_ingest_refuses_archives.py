"""Unsafe archives are never expanded: a zip or tar with ``../`` or absolute members (the
zip-slip) or links is refused with a clear error naming the member, under every format, and
nothing is written (the safe ones import: see test_ingest_archives.py)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

import assay
from assay.errors import AssayError


def _archives(folder: Path) -> list[Path]:
    zipped = folder / "slip.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("../evil.txt", "x")
        archive.writestr("/tmp/assay-evil-abs.txt", "x")
        archive.writestr("cat/ok.png", b"\x89PNG")
    tarred = folder / "slip.tar.gz"
    with tarfile.open(tarred, "w:gz") as archive:
        data = b"x"
        info = tarfile.TarInfo("../evil.txt")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("cat/link.png")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)
    return [zipped, tarred]


def test_archives_are_refused_and_never_expanded(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    project = assay.init(tmp_path / "project")
    before = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    for archive in _archives(inbox):
        with pytest.raises(AssayError, match=r"member '\.\./evil\.txt' points outside"):
            project.import_path(archive)
        for fmt in ("images", "table", "jsonl", "idx"):
            with pytest.raises(AssayError):
                project.import_path(archive, format=fmt, dataset="x")
    after = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert set(after) - set(before) == {"slip.zip", "slip.tar.gz"}  # nothing was expanded
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/assay-evil-abs.txt").exists()
    assert project.datasets() == []
