"""Choose an importer for a path, and a default dataset name for it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assay.errors import DataFormatError, InvalidParameter

FORMATS = ("images", "idx", "table", "jsonl", "archive")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
_TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
_JSONL_SUFFIXES = (".jsonl", ".ndjson")


def detect_format(path: Path) -> str:
    """Which importer reads ``path``, from its suffix or, for folders, what they hold."""
    name = path.name.lower()
    if path.is_dir():
        if any("idx3-ubyte" in p.name for p in path.iterdir()):
            return "idx"
        return "images"
    if name.endswith(ARCHIVE_SUFFIXES):
        return "archive"
    if "-ubyte" in name or name.endswith((".idx", ".idx.gz")):
        return "idx"
    suffixes = "".join(path.suffixes[-2:]).lower()
    if name.endswith(_TABLE_SUFFIXES) or suffixes.endswith(tuple(s + ".gz" for s in (".csv",))):
        return "table"
    if name.endswith(_JSONL_SUFFIXES) or name.endswith(".jsonl.gz"):
        return "jsonl"
    raise DataFormatError(
        f"{path}: cannot tell what kind of data this is. Assay imports image folders, IDX "
        "files, .csv/.parquet tables, .jsonl text and .zip/.tar/.tar.gz archives of these; pass "
        "--format to choose."
    )


def default_dataset_name(path: Path) -> str:
    """A dataset name from the path: 'mnist-test' for a folder, 'reviews' for reviews.jsonl."""
    name = path.resolve().name
    name = re.sub(
        r"(\.(csv|tsv|parquet|pq|jsonl|ndjson|gz|idx|zip|tar|tgz))+$", "", name, flags=re.I
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
    raise InvalidParameter(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
