"""Import a folder of image files: one sub-folder per class, or a flat folder plus a labels CSV.

Files are referenced where they are (``media_path``), never copied. Each item records the
size, the number of channels, and the mean and standard deviation of the grayscale pixels.

Layouts::

    pets/cat/1.png, pets/dog/2.png                 label from the class folder
    pets/train/cat/1.png, pets/test/dog/2.png      split folders, then class folders
    pets/1.png, pets/2.png (+ labels=labels.csv)   labels (and splits) from a CSV
    pets/1.png, pets/2.png                         no labels

An item's external key is its path relative to the folder, with forward slashes
(``train/cat/1.png``).
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import functools
import io
import itertools
import math
import os
import posixpath
import re
import struct
import unicodedata
import warnings
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from assay.errors import DataFormatError
from assay.ingest.pool import OrderedPool
from assay.ingest.staging import ImportJob, ImportResult, content_hash
from assay.processes import can_fork
from assay.progress import ProgressCallback, no_progress
from assay.store import Store
from assay.store.naming import natural_sort_key

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
SPLIT_FOLDERS = ("train", "test", "val", "valid", "validation")
# JPEGs with a side over STATS_MAX_SIDE are decoded in gray at 1/2, 1/4 or 1/8 scale for the
# pixel statistics, keeping at least STATS_DRAFT_SIDE pixels on each side (Image.draft): the
# decoder still reads the whole file (a truncated one still fails), in about 60% of the time
# of a full-size colour decode at COCO's 640 x 480 (the decode is nearly all of reading such
# an image). The mean stays within a fraction of a percent, the std within a few percent.
STATS_MAX_SIDE = 512
STATS_DRAFT_SIDE = 128
FILE_COLUMNS = ("filename", "file", "path", "image")
CHUNK = 64
# From this many images on, an import reads them on forked processes (ingest.pool): below
# it, starting the processes costs more than they save.
POOL_MIN_FILES = 1_000
# Images smaller than this decode faster in the importing thread than through a pool.
THREADS_MIN_BYTES = 256 << 10
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError)


@dataclass(frozen=True)
class ImageFile:
    """One image found in the folder: where it is, and the label and split it gets."""

    key: str
    path: str
    label: str | None
    split: str | None


def import_image_folder(
    store: Store,
    path: str | os.PathLike[str],
    *,
    dataset: str,
    labels: str | os.PathLike[str] | None = None,
    split: str | None = None,
    skip_bad: bool = False,
    workers: int | None = None,
    progress: ProgressCallback = no_progress,
    **job_options: Any,
) -> ImportResult:
    """Import every image in a folder (and its sub-folders), atomically.

    Parameters
    ----------
    store : Store
    path : path
        The folder. Sub-folders are classes (``cat/1.png``); when every top-level sub-folder
        is a split name (train, test, val, valid, validation), they are splits holding class
        sub-folders. Hidden files and folders, and files that are not images
        (.png, .jpg, .jpeg, .bmp, .gif, .webp, .tif, .tiff), are ignored.
    dataset : str
        Dataset to import into (created if new).
    labels : path, optional
        A CSV with a file column (``filename``, ``file``, ``path`` or ``image``: the path
        relative to the folder) and a ``label`` column, and optionally a ``split`` column.
        With it, sub-folders are not classes; images the CSV does not list are imported
        without a label.
    split : str, optional
        Split of the items that do not get one from split folders or the CSV.
    skip_bad : bool
        Leave out files that are not readable images (and report how many in
        ``ImportResult.n_skipped``, with a warning naming them) instead of failing.
    workers : int, optional
        Processes reading images (forked; threads where this process may not fork). By
        default one per core (up to 4) for 1,000 images or more; for fewer, one thread
        when the first image is small (under 256 KB: decoding it is quicker than handing it
        to a thread), else up to 4 threads.
    **job_options
        Passed to :class:`~assay.ingest.staging.ImportJob` (``classes``, ``add_classes``,
        ``layer``, ``batch_size`` ...).

    Returns
    -------
    ImportResult

    Raises
    ------
    DataFormatError
        The folder holds no image, a file is not a readable image (unless ``skip_bad``), the
        labels CSV lacks a column or names a missing file, or a label is not a known class.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataFormatError(f"{root}: not a folder. Give the folder that holds the images.")
    root_abs = os.path.abspath(root)
    table = read_labels_csv(Path(labels), root_abs) if labels is not None else None
    total = sum(1 for _ in walk_images(root_abs))
    if total == 0:
        raise DataFormatError(
            f"{root}: empty folder: no images found (looked for "
            f"{', '.join(IMAGE_SUFFIXES)}). Point at the folder that holds the images."
        )
    by_split = table is None and has_split_folders(root_abs)
    files = _assign(walk_images(root_abs), table, by_split=by_split, split=split)
    with ImportJob(
        store,
        dataset,
        source=str(root),
        format="images",
        total=total,
        progress=progress,
        **job_options,
    ) as job:
        skipped: list[str] = []
        # closing(): an error below must stop the readers now, not when the suspended
        # generator is garbage-collected (until then they would keep the process threaded).
        with contextlib.closing(_read_all(files, skip_bad, workers, total)) as rows:
            for file, row in rows:
                if row is None:
                    skipped.append(file.path)
                    continue
                job.add(row, where=file.path)
        if skipped:
            _warn_skipped(root, skipped)
        result = job.publish()
    return replace(result, n_skipped=len(skipped))


# -- finding the files ---------------------------------------------------------------------


def check_inside(root: str, path: str, what: str) -> None:
    """Refuse a file or folder that resolves (through symlinks) to outside ``root``: an import
    reads only what is in the folder it was given."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if os.path.commonpath([real_root, real]) != real_root:
        raise DataFormatError(
            f"{path}: this {what} is a link to {real}, outside the imported folder {root}; "
            "nothing was imported. Import that folder itself, or copy the files in."
        )


def walk_images(root: str) -> Iterator[tuple[str, str]]:
    """(key, absolute path) of every image under ``root``, in natural order, found lazily.

    Symlinks are followed only while they stay inside ``root``.
    """
    seen: set[tuple[int, int]] = set()

    def walk(folder: str, prefix: str) -> Iterator[tuple[str, str]]:
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in seen:  # a symlink loop
            return
        seen.add((st.st_dev, st.st_ino))
        try:
            with os.scandir(folder) as it:
                entries = [(e.name, e.is_dir()) for e in it if not e.name.startswith(".")]
        except OSError as exc:
            raise DataFormatError(f"{folder}: cannot be read ({exc.strerror or exc}).") from exc
        entries.sort(key=lambda e: (natural_sort_key(e[0]), e[0]))
        for name, is_dir in entries:
            full = os.path.join(folder, name)
            if is_dir:
                if os.path.islink(full):
                    check_inside(root, full, "folder")
                yield from walk(full, f"{prefix}{name}/")
            elif name.lower().endswith(IMAGE_SUFFIXES):
                if os.path.islink(full):
                    check_inside(root, full, "file")
                yield unicodedata.normalize("NFC", prefix + name), full

    yield from walk(root, "")


def has_split_folders(root: str) -> bool:
    """Whether every visible sub-folder of ``root`` is a split (train, test, val ...)."""
    with os.scandir(root) as it:
        folders = [e.name for e in it if not e.name.startswith(".") and e.is_dir()]
    return bool(folders) and all(name.lower() in SPLIT_FOLDERS for name in folders)


def _assign(
    found: Iterable[tuple[str, str]],
    table: dict[str, tuple[str | None, str | None]] | None,
    *,
    by_split: bool,
    split: str | None,
) -> Iterator[ImageFile]:
    """Give each file its label and split, from the CSV or from the folder layout."""
    for key, full in found:
        if table is not None:
            label, row_split = table.get(key, (None, None))
            yield ImageFile(key, full, label, row_split or split)
            continue
        parts = key.split("/")
        item_split = None
        if by_split and len(parts) > 1:
            item_split, parts = parts[0], parts[1:]
        label = parts[0] if len(parts) > 1 else None
        yield ImageFile(key, full, label, item_split or split)


# -- the labels CSV ------------------------------------------------------------------------


def read_labels_csv(path: Path, root: str) -> dict[str, tuple[str | None, str | None]]:
    """Map each image key the CSV lists to its (label, split); checks every file exists."""
    if not path.is_file():
        raise DataFormatError(f"{path}: no such labels file.")
    table: dict[str, tuple[str | None, str | None]] = {}
    lines: dict[str, int] = {}
    with open(path, "rb") as f:
        reader = csv.reader(_decoded_lines(f, path))
        header = [h.strip() for h in next(reader, [])]
        if not any(header):
            raise DataFormatError(
                f"{path}: the labels file is empty; it needs a header line (filename,label) "
                "and one line per image."
            )
        file_col, label_col, split_col = _label_columns(path, header)
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise DataFormatError(
                    f"{path}, line {line}: expected {len(header)} values (like the header), "
                    f"got {len(row)}. Check the quoting and the commas on that line."
                )
            key = _file_key(path, line, row[file_col], root)
            if key in lines:
                raise DataFormatError(
                    f"{path}, line {line}: {key!r} is listed twice (first on line "
                    f"{lines[key]}). List each image once."
                )
            lines[key] = line
            split = row[split_col].strip() or None if split_col is not None else None
            table[key] = (row[label_col].strip() or None, split)
    return table


def _decoded_lines(f: Iterable[bytes], path: Path) -> Iterator[str]:
    for number, raw in enumerate(f, 1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise DataFormatError(
                f"{path}, line {number}: not valid UTF-8 (byte {exc.start + 1} of the line). "
                "Save the file as UTF-8."
            ) from exc


def _label_columns(path: Path, header: list[str]) -> tuple[int, int, int | None]:
    lower = [h.lower() for h in header]
    shown = ", ".join(header)
    file_col = next((lower.index(c) for c in FILE_COLUMNS if c in lower), None)
    if file_col is None:
        raise DataFormatError(
            f"{path}: no column naming the image files (looked for "
            f"{', '.join(FILE_COLUMNS)}). Columns: {shown}."
        )
    if "label" not in lower:
        close = [c for c in difflib.get_close_matches("label", lower, n=1) if c]
        hint = f"; did you mean {header[lower.index(close[0])]!r}?" if close else "."
        raise DataFormatError(f"{path}: no column 'label'{hint} Columns: {shown}.")
    return file_col, lower.index("label"), (lower.index("split") if "split" in lower else None)


def _file_key(path: Path, line: int, name: str, root: str) -> str:
    """The item key of a file named in the CSV (relative, forward slashes), checked on disk."""
    name = name.strip()
    if not name:
        raise DataFormatError(f"{path}, line {line}: the file name is empty.")
    text = name.replace("\\", "/")
    if os.path.isabs(text):
        text = os.path.relpath(text, root).replace(os.sep, "/")
    key = posixpath.normpath(text)
    if key.startswith("../") or key == "..":
        raise DataFormatError(f"{path}, line {line}: {name!r} is outside the folder {root}.")
    check_inside(root, os.path.join(root, *key.split("/")), "file")
    if not os.path.isfile(os.path.join(root, *key.split("/"))):
        raise DataFormatError(
            f"{path}, line {line}: no file {name!r} in {root}. Fix the name, or remove the line."
        )
    if not key.lower().endswith(IMAGE_SUFFIXES):
        raise DataFormatError(
            f"{path}, line {line}: {name!r} is not an image file (expected "
            f"{', '.join(IMAGE_SUFFIXES)})."
        )
    return unicodedata.normalize("NFC", key)


# -- reading the images --------------------------------------------------------------------


def describe_image(data: bytes) -> tuple[int, int, int, float, float]:
    """Width, height, channels, and mean and std of the grayscale pixels of an encoded image.

    JPEGs over :data:`STATS_MAX_SIDE` pixels on a side are decoded in gray at a reduced scale
    (``Image.draft``) for the pixel statistics, which are then close to, not exactly, those
    of the full image.
    """
    with Image.open(io.BytesIO(data)) as im:
        width, height = im.size
        limit = Image.MAX_IMAGE_PIXELS
        if limit and width * height > limit:
            raise Image.DecompressionBombError(f"{width}x{height} pixels")
        channels = _channels(im)
        if max(width, height) > STATS_MAX_SIDE:
            im.draft("L", (STATS_DRAFT_SIDE, STATS_DRAFT_SIDE))
        # A grayscale image is its own "L" histogram: no converted copy.
        gray = im if im.mode == "L" else im.convert("L")
        histogram = gray.histogram()
    mean, std = _histogram_stats(histogram)
    return width, height, channels, mean, std


# Columns 1, level, level squared: one product with a histogram gives n, sum, sum of squares.
_MOMENTS = np.stack([np.ones(256, np.int64), np.arange(256), np.arange(256) ** 2], axis=1)


def _histogram_stats(histogram: list[int]) -> tuple[float, float]:
    """Mean and standard deviation of the pixels counted by a 256-bin histogram.

    Sums in integers (exact) and one square root: a third of the time of the float
    two-pass formula on a small image, where this is a good part of an import's cost.
    """
    n, total, squares = (np.array(histogram, dtype=np.int64) @ _MOMENTS).tolist()
    return total / n, math.sqrt(max(squares * n - total * total, 0)) / n


def _channels(im: Image.Image) -> int:
    if im.mode == "P":
        return 4 if "transparency" in im.info else 3
    return len(im.getbands())


def read_file(path: str) -> bytes:
    """The bytes of a file, by its descriptor: half the time of ``open().read()`` (no
    buffered file object), which counts at an import's tens of thousands of small images."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, size + 1)
        if len(data) == size:  # all of it: the usual case, one read
            return data
        parts = [data]  # a short read, or the file grew: read on to its end
        while chunk := os.read(fd, 1 << 20):
            parts.append(chunk)
        return b"".join(parts)
    finally:
        os.close(fd)


def image_file_row(file: ImageFile) -> dict[str, Any]:
    """The staged row of one image file (raises DataFormatError if it is not a readable image)."""
    try:
        data = read_file(file.path)
    except OSError as exc:
        raise DataFormatError(f"{file.path}: cannot be read ({exc.strerror or exc}).") from exc
    try:
        width, height, channels, mean, std = describe_image(data)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Our own check says "WxH pixels"; Pillow's (inside Image.open) says "(N pixels)".
        found = re.search(r"\d+(x\d+)? pixels", str(exc))
        size = found.group() if found else "its size"
        raise DataFormatError(
            f"{file.path}: refused as a possible decompression bomb: {size} is over the limit "
            f"of {Image.MAX_IMAGE_PIXELS} pixels (PIL.Image.MAX_IMAGE_PIXELS). Remove the file, "
            "or shrink the image."
        ) from exc
    except _DECODE_ERRORS as exc:
        raise DataFormatError(
            f"{file.path}: not a readable image ({exc}). Remove or replace the file, or "
            "import with skip_bad=True (--skip-bad) to leave unreadable files out."
        ) from exc
    return {
        "external_key": file.key,
        "kind": "image",
        "split": file.split,
        "media_path": file.path,
        "content_hash": content_hash(data),
        "width": width,
        "height": height,
        "channels": channels,
        "pixel_mean": mean,
        "pixel_std": std,
        "label": file.label,
    }


def _read_or_skip(file: ImageFile, skip_bad: bool) -> dict[str, Any] | None:
    try:
        return image_file_row(file)
    except DataFormatError:
        if skip_bad:
            return None
        raise


def _read_all(
    files: Iterable[ImageFile], skip_bad: bool, workers: int | None, total: int | None = None
) -> Generator[tuple[ImageFile, dict[str, Any] | None]]:
    """Read the files, yielding rows in order: on forked processes for many files (see
    ``ingest.pool``), else on a few threads for big images (decoding releases the GIL), else
    one after another here."""
    files = iter(files)
    first = next(files, None)
    if first is None:
        return
    files = itertools.chain([first], files)
    processes = pool_workers(total, workers)
    if processes > 1:
        seen: deque[ImageFile] = deque()

        def tap(found: Iterable[ImageFile]) -> Iterator[ImageFile]:
            for file in found:  # the pool yields in order: the oldest file seen is the row's
                seen.append(file)
                yield file

        with OrderedPool(functools.partial(_read_or_skip, skip_bad=skip_bad), processes) as pool:
            for row in pool.map(tap(files)):
                yield seen.popleft(), row
        return
    n_workers = workers or _default_workers(first.path)
    if n_workers <= 1:
        for file in files:
            yield file, _read_or_skip(file, skip_bad)
        return
    threads = ThreadPoolExecutor(n_workers, thread_name_prefix="assay-images")
    pending: deque[tuple[ImageFile, Future[dict[str, Any] | None]]] = deque()
    try:
        for file in files:
            pending.append((file, threads.submit(_read_or_skip, file, skip_bad)))
            if len(pending) >= CHUNK * n_workers:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
    finally:
        threads.shutdown(wait=True, cancel_futures=True)


def pool_workers(total: int | None, workers: int | None) -> int:
    """How many processes read an import's images: ``workers`` when given (more than one),
    else one per core (up to 4) for :data:`POOL_MIN_FILES` files or more; 0 where this
    process may not fork (it has threads, or is a daemon) or there is one core."""
    if not can_fork():
        return 0
    if workers is not None:
        return workers if workers > 1 else 0
    cores = min(4, os.cpu_count() or 1)
    return cores if cores > 1 and total is not None and total >= POOL_MIN_FILES else 0


def _default_workers(path: str) -> int:
    try:
        small = os.stat(path).st_size < THREADS_MIN_BYTES
    except OSError:
        small = True
    return 1 if small else min(4, os.cpu_count() or 1)


def _warn_skipped(root: Path, skipped: list[str]) -> None:
    shown = ", ".join(os.path.basename(p) for p in skipped[:5])
    more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
    warnings.warn(
        f"{root}: skipped {len(skipped)} files that are not readable images: {shown}{more}.",
        UserWarning,
        stacklevel=3,
    )
