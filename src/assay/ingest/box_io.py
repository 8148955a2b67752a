"""The box formats' entry points: which reader reads a path, the importers ``assay import``
calls (``--format coco|yolo|voc``), and boxes onto a dataset's existing images."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from assay.errors import DataFormatError, InvalidParameter
from assay.ingest.boxes import DEFAULT_BOX_LAYER, BoxFile, import_box_file, import_boxes_onto
from assay.ingest.staging import ImportResult
from assay.progress import ProgressCallback, no_progress
from assay.store import Store

__all__ = [
    "BOX_FORMATS",
    "box_format",
    "import_boxes",
    "import_coco",
    "import_voc",
    "import_yolo",
    "read_boxes",
]

BOX_FORMATS = ("coco", "yolo", "voc")


def box_format(path: Path) -> str | None:
    """coco, yolo or voc when ``path`` looks like one (a .json file; a folder with
    ``annotations/instances_*.json``, ``images/`` + ``labels/`` + a class list, or
    ``Annotations/`` + ``JPEGImages/``), else None."""
    if path.is_file():
        return "coco" if path.name.lower().endswith(".json") else None
    if not path.is_dir():
        return None
    if (path / "Annotations").is_dir() and (path / "JPEGImages").is_dir():
        return "voc"
    if (path / "images").is_dir() and (path / "labels").is_dir():
        from assay.ingest.yolo import CLASS_FILES, YAML_FILES

        if any((path / n).is_file() for n in (*CLASS_FILES, *YAML_FILES)):
            return "yolo"
    if _coco_json(path) is not None:
        return "coco"
    return None


def _coco_json(folder: Path) -> Path | None:
    """The instances file of a COCO folder: ``annotations/instances*.json`` (or
    ``instances*.json`` at the top), when there is exactly one."""
    found = sorted((folder / "annotations").glob("instances*.json"))
    if not found:
        found = sorted(folder.glob("instances*.json"))
    return found[0] if len(found) == 1 else None


def _coco_path(path: Path) -> Path:
    if path.is_dir():
        found = _coco_json(path)
        if found is None:
            raise DataFormatError(
                f"{path}: no single COCO file in it (annotations/instances_*.json); give the "
                ".json file itself."
            )
        return found
    return path


def read_boxes(
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    images: str | os.PathLike[str] | None = None,
    with_files: bool = True,
    progress: ProgressCallback = no_progress,
) -> BoxFile:
    """Read boxes in ``format`` (default: detected) into a :class:`BoxFile`."""
    source = Path(path).expanduser()
    if not source.exists():
        raise DataFormatError(f"{source}: no such file or folder.")
    fmt = format or box_format(source)
    if fmt == "coco":
        from assay.ingest.coco import read_coco

        return read_coco(_coco_path(source), images=images, with_files=with_files,
                         progress=progress)  # fmt: skip
    if fmt == "yolo":
        from assay.ingest.yolo import read_yolo

        return read_yolo(source, progress=progress)
    if fmt == "voc":
        from assay.ingest.voc import read_voc

        return read_voc(source, progress=progress)
    raise InvalidParameter(
        f"{source}: not a box format Assay reads; choose one of {', '.join(BOX_FORMATS)}."
    )


def _import(
    fmt: str,
    store: Store,
    path: str | os.PathLike[str],
    *,
    dataset: str,
    images: str | os.PathLike[str] | None = None,
    layer: str | None = None,
    progress: ProgressCallback = no_progress,
    **job_options: Any,
) -> ImportResult:
    bf = read_boxes(path, fmt, images=images, progress=progress)
    return import_box_file(
        store, bf, dataset=dataset, layer=layer or DEFAULT_BOX_LAYER, progress=progress,
        **job_options,
    )  # fmt: skip


def import_coco(store: Store, path: str | os.PathLike[str], **options: Any) -> ImportResult:
    """Import a COCO instances file: its images (from ``images``, or found beside the json)
    as items keyed by ``file_name`` (the COCO id kept in ``meta.coco_id``), its categories as
    classes, its boxes as a box layer (``layer``, default ``boxes``). All or nothing."""
    return _import("coco", store, path, **options)


def import_yolo(store: Store, path: str | os.PathLike[str], **options: Any) -> ImportResult:
    """Import a YOLO folder (``images/``, ``labels/*.txt``, a class list), all or nothing."""
    return _import("yolo", store, path, **options)


def import_voc(store: Store, path: str | os.PathLike[str], **options: Any) -> ImportResult:
    """Import a Pascal VOC folder (``Annotations/*.xml``, ``JPEGImages/``), all or nothing."""
    return _import("voc", store, path, **options)


def import_boxes(
    store: Store,
    dataset_id: int,
    path: str | os.PathLike[str],
    *,
    layer: str,
    format: str | None = None,
    author: str = "import",
    progress: ProgressCallback = no_progress,
) -> tuple[int, int]:
    """Add the boxes of a COCO/YOLO/VOC file to images already in the dataset (matched by
    file name = item key) as the new box layer ``layer``, in one transaction (a second
    annotator's file). Returns (labels written, classes added)."""
    bf = read_boxes(path, format, with_files=False, progress=progress)
    return import_boxes_onto(store, dataset_id, bf, layer=layer, author=author, progress=progress)
