"""Choose an importer for a path, and a default dataset name for it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assay.errors import DataFormatError, InvalidParameter

# Text spans (assay.ingest.spans): given with --format, never detected (a .jsonl is text).
SPAN_FORMATS = ("spacy-jsonl", "conll", "label-studio")
FORMATS: tuple[str, ...] = ("images", "idx", "table", "jsonl", "archive", "coco", "yolo", "voc")
FORMATS += SPAN_FORMATS
# Every file suffix Assay imports -> (its format, the suffix an upload of it is stored with).
# The one table of file kinds: detection here and the web upload both read it. A stored
# suffix is itself a key of the table, so a stored upload is detected as what was sent.
FILE_SUFFIXES: dict[str, tuple[str, str]] = {
    ".tar.gz": ("archive", ".tar.gz"),
    ".tgz": ("archive", ".tgz"),
    ".zip": ("archive", ".zip"),
    ".tar": ("archive", ".tar"),
    ".csv.gz": ("table", ".csv.gz"),
    ".csv": ("table", ".csv"),
    ".tsv": ("table", ".tsv"),
    ".parquet": ("table", ".parquet"),
    ".pq": ("table", ".parquet"),
    ".jsonl.gz": ("jsonl", ".jsonl.gz"),
    ".jsonl": ("jsonl", ".jsonl"),
    ".ndjson": ("jsonl", ".jsonl"),
    ".idx.gz": ("idx", ".idx.gz"),
    ".idx": ("idx", ".idx"),
    # A lone COCO file: boxes (an instances file) or predictions (results) onto the images of
    # an existing dataset (the web upload; ``Dataset.import_coco_json``).
    ".json": ("coco", ".json"),
}
# An upload named only ``.gz`` is an IDX file, as MNIST ships (``t10k-images-idx3-ubyte.gz``).
_UPLOAD_GZ = ".gz"


def file_suffix(name: str) -> str | None:
    """The longest suffix of :data:`FILE_SUFFIXES` that ``name`` ends with (and is more than)."""
    lower = name.lower()
    found = [s for s in FILE_SUFFIXES if lower.endswith(s) and len(lower) > len(s)]
    return max(found, key=len, default=None)


def upload_suffix(filename: str) -> str | None:
    """The suffix an uploaded file is stored with (what tells the importer what it is), from
    the client's file name; None when Assay does not import that kind of file."""
    suffix = file_suffix(filename)
    if suffix is not None:
        return FILE_SUFFIXES[suffix][1]
    lower = filename.lower()
    return ".idx.gz" if lower.endswith(_UPLOAD_GZ) and len(lower) > len(_UPLOAD_GZ) else None


def upload_kinds() -> str:
    """The file kinds an upload may be, for a message: ``.zip, .tar, ... (IDX)``."""
    shown = [s for s, (fmt, _) in FILE_SUFFIXES.items() if fmt != "idx"]
    return ", ".join(shown) + ", .gz (IDX)"


def detect_format(path: Path) -> str:
    """Which importer reads ``path``, from its suffix or, for folders, what they hold."""
    from assay.ingest.box_io import box_format

    boxes = box_format(path)
    if boxes is not None:
        return boxes
    if path.is_dir():
        if any("idx3-ubyte" in p.name for p in path.iterdir()):
            return "idx"
        return "images"
    suffix = file_suffix(path.name)
    fmt = FILE_SUFFIXES[suffix][0] if suffix else None
    if fmt != "archive" and "-ubyte" in path.name.lower():
        return "idx"
    if fmt is not None:
        return fmt
    raise DataFormatError(
        f"{path}: cannot tell what kind of data this is. Assay imports image folders, IDX "
        "files, .csv/.parquet tables, .jsonl text, boxes (COCO .json, YOLO and Pascal VOC "
        "folders) and .zip/.tar/.tar.gz archives of these; pass --format to choose."
    )


def default_dataset_name(path: Path) -> str:
    """A dataset name from the path: 'mnist-test' for a folder, 'reviews' for reviews.jsonl."""
    name = path.resolve().name
    name = re.sub(
        r"(\.(csv|tsv|parquet|pq|jsonl|ndjson|gz|idx|zip|tar|tgz|json))+$", "", name, flags=re.I
    )
    return name or "dataset"


def importer_options(fmt: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options in the importer's own words: a JSONL file has fields, not columns, so
    ``label_column`` (as the CLI and the web app say for every format) is its ``label_field``."""
    if fmt != "jsonl":
        return dict(options)
    renamed = {"label_column": "label_field", "key_column": "key_field",
               "split_column": "split_field", "text_column": "text_field"}  # fmt: skip
    return {renamed.get(k, k): v for k, v in options.items()}


def importer(fmt: str) -> Callable[..., Any]:
    """The import function of a format name."""
    if fmt == "idx":
        from assay.ingest.idx import import_idx_path

        return import_idx_path
    if fmt == "images":
        from assay.ingest.images import import_image_folder

        return import_image_folder
    if fmt == "table":
        from assay.ingest.tables import import_table

        return import_table
    if fmt == "jsonl":
        from assay.ingest.jsonl import import_jsonl

        return import_jsonl
    if fmt in ("coco", "yolo", "voc"):
        from assay.ingest import box_io

        return getattr(box_io, f"import_{fmt}")  # type: ignore[no-any-return]
    if fmt in SPAN_FORMATS:
        from assay.ingest import spans

        return getattr(spans, f"import_{fmt.replace('-', '_')}")  # type: ignore[no-any-return]
    raise InvalidParameter(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
