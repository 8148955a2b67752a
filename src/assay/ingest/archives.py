"""Import a ``.zip``, ``.tar``, ``.tar.gz`` or ``.tgz`` archive: extract it safely into a fresh
folder of the project, then import what it holds with the usual importer.

An archive is untrusted input, so extraction refuses, naming the member, before anything is
imported: absolute paths and ``..`` components (the "zip-slip"), links and device files,
encrypted members, more than ``max_members`` members, more than ``max_total_bytes`` once
extracted, and members that expand more than ``max_ratio`` times (zip bombs). Sizes are the
bytes actually written, never the sizes the archive declares. A refused or failed import
removes its extraction folder, so it lands whole or not at all.

The folder is ``<project>/.assay/imports/<random>/``. Image files are referenced where they
are (``media_path``), so an image archive's folder is kept after a successful import; any
other archive's content is in the store by then and the folder is removed.

What an archive may hold (one top-level folder wrapping everything is looked through):

* image files, in class sub-folders (and split folders) as for an image folder;
* one IDX images file (and its labels file);
* exactly one ``.csv``/``.tsv``/``.parquet`` table or ``.jsonl`` file.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tarfile
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from assay.errors import DataFormatError
from assay.ingest import detect
from assay.ingest.staging import ImportResult
from assay.progress import ProgressCallback, no_progress
from assay.store import Store

IMPORTS_DIR = Path(".assay") / "imports"
CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")
_IGNORED = ("__MACOSX",)


@dataclass(frozen=True)
class ArchiveLimits:
    """What an archive may hold; anything beyond is refused before a row is imported.

    Attributes
    ----------
    max_members : int
        Members (files and folders).
    max_total_bytes : int
        Bytes written when extracting, all members together.
    max_ratio : float
        Largest expansion (extracted / compressed bytes) of a member of at least
        ``ratio_min_bytes``; zip bombs expand a thousand times, real data rarely 20.
    ratio_min_bytes : int
        Members smaller than this are not checked for their ratio (tiny files of zeros
        compress very well and harm nobody).
    """

    max_members: int = 1_000_000
    max_total_bytes: int = 20 * 2**30
    max_ratio: float = 200.0
    ratio_min_bytes: int = 1 << 20


DEFAULT_LIMITS = ArchiveLimits()


def imports_dir(project_root: Path) -> Path:
    """``<project>/.assay/imports/``: where archives are extracted (created if missing)."""
    folder = Path(project_root) / IMPORTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def import_archive(
    store: Store,
    path: str | os.PathLike[str],
    *,
    dataset: str,
    project_root: Path,
    limits: ArchiveLimits | None = None,
    progress: ProgressCallback = no_progress,
    **options: Any,
) -> ImportResult:
    """Extract an archive into a fresh folder under the project and import its content.

    Parameters
    ----------
    store : Store
    path : path
        The ``.zip``, ``.tar``, ``.tar.gz`` or ``.tgz`` file.
    dataset : str
        Dataset to import into (created if new).
    project_root : Path
        The project folder; the archive is extracted under ``.assay/imports/`` in it.
    limits : ArchiveLimits, optional
        What the archive may hold (default :data:`DEFAULT_LIMITS`).
    **options
        Passed to the importer of the content (``label_column``, ``split`` ...).

    Raises
    ------
    DataFormatError
        The archive is unreadable or refused (the message names the member), or holds
        nothing Assay imports; nothing is imported and the extraction folder is removed.
    """
    source = Path(path).expanduser()
    folder = imports_dir(project_root) / uuid.uuid4().hex
    keep = False
    try:
        extract(source, folder, limits or DEFAULT_LIMITS, progress=progress)
        content = find_content(folder, source)
        fmt = detect.detect_format(content)
        importer = detect.importer(fmt)
        result: ImportResult = importer(
            store, content, dataset=dataset, progress=progress,
            **detect.importer_options(fmt, options),
        )  # fmt: skip
        keep = fmt in ("images", "coco", "yolo", "voc")  # the items point at the extracted files
        return result
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def extract(
    archive: Path,
    folder: Path,
    limits: ArchiveLimits = DEFAULT_LIMITS,
    *,
    progress: ProgressCallback = no_progress,
) -> None:
    """Extract ``archive`` into ``folder`` (which must not exist yet), refusing anything unsafe
    with a DataFormatError naming the member. On an error ``folder`` may hold a part of the
    archive: the caller removes it."""
    folder.mkdir(parents=True, exist_ok=False)
    writer = _Writer(archive, folder, limits, progress)
    name = archive.name.lower()
    try:
        if name.endswith(".zip"):
            _extract_zip(archive, writer)
        else:
            _extract_tar(archive, writer)
    except (
        zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError,
        NotImplementedError, zlib.error,
    ) as exc:  # fmt: skip
        if isinstance(exc, DataFormatError):
            raise
        raise DataFormatError(
            f"{archive.name}: not a readable archive ({type(exc).__name__}: {exc}); "
            "nothing was imported."
        ) from exc


def find_content(folder: Path, archive: Path) -> Path:
    """What to import from an extracted archive: the one data file it holds, or the folder
    (images, or an IDX pair). A single top-level folder wrapping everything is looked through."""
    root = folder
    while True:
        entries = [p for p in root.iterdir() if not _ignored(p.name)]
        if len(entries) == 1 and entries[0].is_dir():
            root = entries[0]
            continue
        break
    if not entries:
        raise DataFormatError(f"{archive.name}: the archive is empty; nothing was imported.")
    files = [p for p in entries if p.is_file()]
    data = [p for p in files if _data_format(p) in ("table", "jsonl")]
    if any(_data_format(p) == "idx" for p in files):
        return root
    if len(data) == 1:
        return data[0]
    if len(data) > 1:
        names = ", ".join(sorted(p.name for p in data)[:5])
        raise DataFormatError(
            f"{archive.name}: holds several data files ({names}); put one table or JSONL file "
            "in an archive, or import them one at a time."
        )
    return root


def _ignored(name: str) -> bool:
    return name.startswith(".") or name in _IGNORED


def _data_format(path: Path) -> str | None:
    try:
        return detect.detect_format(path)
    except DataFormatError:
        return None


class _Writer:
    """Writes members under the folder, counting members and the bytes really written."""

    def __init__(
        self, archive: Path, folder: Path, limits: ArchiveLimits, progress: ProgressCallback
    ) -> None:
        self.archive = archive
        self.folder = folder
        self.real_folder = os.path.realpath(folder)
        self.limits = limits
        self.progress = progress
        self.members = 0
        self.written = 0

    def refuse(self, member: str, why: str) -> DataFormatError:
        return DataFormatError(
            f"{self.archive.name}: member {member!r} {why}; the archive was refused and "
            "nothing was imported."
        )

    def count(self, member: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise self.refuse(
                member, f"is one more than the {self.limits.max_members:,} members allowed"
            )

    def target(self, member: str) -> Path:
        """The member's path under the folder, refusing absolute paths and ``..``."""
        if "\x00" in member:
            raise self.refuse(member, "has a NUL character in its name")
        name = member.replace("\\", "/")
        if name.startswith("/") or _DRIVE.match(name):
            raise self.refuse(member, "has an absolute path")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise self.refuse(member, "points outside the archive's folder ('..')")
        if not parts:
            return self.folder
        path = self.folder.joinpath(*parts)
        real = os.path.realpath(path.parent)
        if os.path.commonpath([self.real_folder, real]) != self.real_folder:
            raise self.refuse(member, "points outside the archive's folder")
        return path

    def folder_member(self, member: str) -> None:
        self.target(member).mkdir(parents=True, exist_ok=True)

    def file_member(
        self, member: str, data: IO[bytes], compressed: int, *, whole: bool = False
    ) -> None:
        """Copy a member's bytes, stopping as soon as a limit is passed. ``compressed`` is the
        member's compressed size or, with ``whole``, the archive's (checked against all the
        bytes written so far)."""
        path = self.target(member)
        if path == self.folder:
            raise self.refuse(member, "has an empty name")
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags, 0o644)
        except FileExistsError:
            raise self.refuse(member, "appears twice in the archive") from None
        limits = self.limits
        size = 0
        with os.fdopen(fd, "wb") as out:
            for chunk in iter(lambda: data.read(CHUNK), b""):
                size += len(chunk)
                self.written += len(chunk)
                if self.written > limits.max_total_bytes:
                    raise self.refuse(
                        member,
                        f"takes the archive past {limits.max_total_bytes:,} bytes extracted "
                        "(the limit)",
                    )
                self.check_ratio(member, self.written if whole else size, compressed)
                out.write(chunk)
                self.progress(self.written, None, f"extracting {self.archive.name}")

    def check_declared(self, member: str, size: int, compressed: int) -> None:
        """Refuse at once what the archive itself declares too big (it is checked again on
        the bytes actually written)."""
        if size > self.limits.max_total_bytes:
            raise self.refuse(
                member, f"is {size:,} bytes, over the {self.limits.max_total_bytes:,} allowed"
            )
        self.check_ratio(member, size, compressed)

    def check_ratio(self, member: str, size: int, compressed: int) -> None:
        limits = self.limits
        if size >= limits.ratio_min_bytes and size > limits.max_ratio * max(compressed, 1):
            raise self.refuse(
                member,
                f"expands {size / max(compressed, 1):,.0f} times (over {limits.max_ratio:g}:1, "
                "like a zip bomb)",
            )


def _extract_zip(archive: Path, writer: _Writer) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        limits = writer.limits
        if len(infos) > limits.max_members:
            raise writer.refuse(
                infos[limits.max_members].filename,
                f"is past the {limits.max_members:,} members allowed ({len(infos):,} in all)",
            )
        declared = 0
        for info in infos:  # check every name and declared size before writing anything
            writer.target(info.filename)
            if info.flag_bits & 0x1:
                raise writer.refuse(info.filename, "is encrypted")
            kind_bits = stat.S_IFMT(info.external_attr >> 16)  # 0: no Unix type recorded
            if kind_bits not in (0, stat.S_IFREG, stat.S_IFDIR):
                kind = "a symbolic link" if kind_bits == stat.S_IFLNK else "not a regular file"
                raise writer.refuse(info.filename, f"is {kind}")
            writer.check_declared(info.filename, info.file_size, info.compress_size)
            declared += info.file_size
            if declared > limits.max_total_bytes:
                raise writer.refuse(
                    info.filename,
                    f"takes the archive past {limits.max_total_bytes:,} bytes extracted "
                    "(the limit)",
                )
        for info in infos:
            writer.count(info.filename)
            if info.is_dir():
                writer.folder_member(info.filename)
                continue
            with zf.open(info) as data:
                writer.file_member(info.filename, data, info.compress_size)


def _tar_members(tf: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """The members in order, read as they come (a tar has no index to read first)."""
    while True:
        member = tf.next()
        if member is None:
            return
        yield member


def _extract_tar(archive: Path, writer: _Writer) -> None:
    # The archive's own size bounds the expansion of the whole (tar has no per-member
    # compressed size): a .tar.gz writing more than max_ratio times its size is refused.
    compressed = archive.stat().st_size
    with tarfile.open(archive, "r:*") as tf:
        for member in _tar_members(tf):
            writer.count(member.name)
            writer.target(member.name)
            if member.isdir():
                writer.folder_member(member.name)
            elif member.isreg():
                data = tf.extractfile(member)
                if data is None:  # pragma: no cover - isreg members always have data
                    raise writer.refuse(member.name, "has no data")
                with data:
                    writer.file_member(member.name, data, compressed, whole=True)
            else:
                raise writer.refuse(member.name, f"is {_tar_kind(member)}")


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"a symbolic link (to {member.linkname!r})"
    if member.islnk():
        return f"a hard link (to {member.linkname!r})"
    if member.ischr() or member.isblk():
        return "a device file"
    if member.isfifo():
        return "a named pipe"
    return "not a regular file or folder"
