"""Import IDX files (the format of MNIST and Fashion-MNIST), plain or gzipped, streamed.

An item's external key is its 0-based record index, so item ``247`` is the 248th image.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from assay.errors import DataFormatError
from assay.ingest.arrays import import_arrays
from assay.ingest.staging import ImportResult
from assay.progress import ProgressCallback, no_progress
from assay.store import Store

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
CHUNK = 10_000


def _open(path: Path) -> IO[bytes]:
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return cast(IO[bytes], gzip.open(path, "rb")) if gz else open(path, "rb")


def read_header(f: IO[bytes], path: Path) -> tuple[np.dtype[Any], tuple[int, ...]]:
    """Read the magic number and dimensions; raise DataFormatError on anything else."""
    try:
        magic = f.read(4)
    except (OSError, EOFError) as exc:
        raise DataFormatError(f"{path}: cannot be read ({exc}).") from exc
    if len(magic) < 4 or magic[:2] != b"\x00\x00" or magic[2] not in _DTYPES or magic[3] == 0:
        raise DataFormatError(
            f"{path}: not an IDX file (the first bytes are {magic.hex() or 'missing'}; an IDX "
            "file starts with 00 00, a type code and the number of dimensions)."
        )
    ndim = magic[3]
    raw = f.read(4 * ndim)
    if len(raw) < 4 * ndim:
        raise DataFormatError(f"{path}: the IDX header is cut short.")
    return np.dtype(_DTYPES[magic[2]]), struct.unpack(f">{ndim}I", raw)


def iter_records(path: Path, chunk: int = CHUNK) -> tuple[tuple[int, ...], Iterator[np.ndarray]]:
    """The shape in the header and an iterator over chunks of records (flat memory)."""
    f = _open(path)
    dtype, shape = read_header(f, path)
    per_record = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize

    def chunks() -> Iterator[np.ndarray]:
        with f:
            done = 0
            while done < shape[0]:
                n = min(chunk, shape[0] - done)
                try:
                    data = f.read(n * per_record)
                except (OSError, EOFError) as exc:
                    raise DataFormatError(
                        f"{path}: cannot be read past record {done} ({exc})."
                    ) from exc
                if len(data) < n * per_record:
                    got = done + len(data) // max(per_record, 1)
                    raise DataFormatError(
                        f"{path}: truncated: the header announces {shape[0]} records but the "
                        f"file ends after {got}. Download or copy the file again."
                    )
                yield np.frombuffer(data, dtype=dtype).reshape((n, *shape[1:]))
                done += n

    return shape, chunks()


def find_idx_pair(folder: Path) -> tuple[Path, Path | None]:
    """The images file (``*idx3-ubyte*``) and labels file (``*idx1-ubyte*``) in a folder."""
    images = sorted(p for p in folder.iterdir() if "idx3-ubyte" in p.name)
    labels = sorted(p for p in folder.iterdir() if "idx1-ubyte" in p.name)
    if len(images) != 1:
        found = ", ".join(p.name for p in images) or "none"
        raise DataFormatError(
            f"{folder}: expected one IDX images file (*idx3-ubyte*), found {found}. "
            "Import the images file directly and pass its labels with --labels."
        )
    if len(labels) > 1:
        raise DataFormatError(f"{folder}: more than one IDX labels file (*idx1-ubyte*).")
    return images[0], (labels[0] if labels else None)


def import_idx(
    store: Store,
    images: str | Path,
    labels: str | Path | None = None,
    *,
    dataset: str,
    split: str | None = None,
    progress: ProgressCallback = no_progress,
    **job_options: Any,
) -> ImportResult:
    """Import an IDX images file (n, rows, cols) and optionally its IDX labels file (n,).

    Parameters
    ----------
    store : Store
    images, labels : path
        The ``idx3`` images file and the ``idx1`` labels file; ``.gz`` is read directly.
    dataset : str
        Dataset to import into.
    split : str, optional
        Split recorded on every item (for example ``test`` for ``t10k-*``).
    """
    images = Path(images)
    shape, image_chunks = iter_records(images)
    if len(shape) not in (3, 4):
        raise DataFormatError(
            f"{images}: holds {len(shape)}-dimensional records {shape}; images need (n, rows, "
            "cols) or (n, rows, cols, channels). Is this the labels file?"
        )
    label_chunks = _label_chunks(Path(labels), shape[0]) if labels else None
    splits = iter(lambda: split, object()) if split else None
    batches = (
        (chunk, next(label_chunks) if label_chunks else [None] * len(chunk))
        for chunk in image_chunks
    )
    return import_arrays(
        store,
        batches,
        dataset=dataset,
        source=str(images),
        format="idx",
        total=shape[0],
        splits=splits,
        progress=progress,
        **job_options,
    )


def _label_chunks(path: Path, n_images: int) -> Iterator[list[str | None]]:
    shape, chunks = iter_records(path)
    if len(shape) != 1:
        raise DataFormatError(f"{path}: labels must be one value per record, got shape {shape}.")
    if shape[0] != n_images:
        raise DataFormatError(
            f"{path}: holds {shape[0]} labels but the images file holds {n_images} images. "
            "Pair each images file with its own labels file."
        )
    for chunk in chunks:
        yield [str(v) for v in chunk.tolist()]


def import_idx_path(
    store: Store, path: Path, *, labels: str | Path | None = None, **options: Any
) -> ImportResult:
    """Import an IDX images file, or a folder holding an images file and its labels file."""
    if path.is_dir():
        images, found = find_idx_pair(path)
        labels = labels or found
        if "split" not in options and images.name.startswith("t10k"):
            options["split"] = "test"
        return import_idx(store, images, labels, **options)
    return import_idx(store, path, labels, **options)
