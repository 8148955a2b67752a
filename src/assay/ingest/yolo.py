"""YOLO: ``images/`` + ``labels/*.txt`` (one ``class cx cy w h`` line per box, normalized to
[0, 1]) + a class list (``classes.txt``, or ``names`` in ``data.yaml``), in and out.

A label file sits at the image's path under ``labels/`` with ``.txt`` for its suffix
(``images/train/1.png`` -> ``labels/train/1.txt``). An image without one has no boxes (the YOLO
convention for background images), so every image gets a label.
"""

from __future__ import annotations

import os
from array import array
from pathlib import Path

import numpy as np
from PIL import Image

from assay.errors import DataFormatError
from assay.ingest.boxes import BoxFile, BoxImage, columns
from assay.ingest.images import walk_images
from assay.progress import ProgressCallback, no_progress

__all__ = ["read_classes", "read_yolo"]

CLASS_FILES = ("classes.txt", "obj.names", "labels/classes.txt")
YAML_FILES = ("data.yaml", "dataset.yaml", "data.yml")


def read_classes(root: Path) -> list[str]:
    """The class names: one per line of ``classes.txt`` (or ``obj.names``), else the
    ``names`` (a list, or index -> name) of ``data.yaml``."""
    for name in CLASS_FILES:
        path = root / name
        if path.is_file():
            names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
            names = [n for n in names if n]
            if not names:
                raise DataFormatError(f"{path}: no class names in it (one per line).")
            return names
    for name in YAML_FILES:
        path = root / name
        if path.is_file():
            import yaml

            try:
                doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError as exc:
                raise DataFormatError(f"{path}: not valid YAML ({exc}).") from exc
            found = doc.get("names") if isinstance(doc, dict) else None
            if isinstance(found, dict):
                try:
                    return [str(found[k]) for k in sorted(found, key=int)]
                except (TypeError, ValueError) as exc:
                    raise DataFormatError(f"{path}: 'names' keys must be class indexes.") from exc
            if isinstance(found, list) and found:
                return [str(n) for n in found]
            raise DataFormatError(f"{path}: no 'names' list of classes in it.")
    raise DataFormatError(
        f"{root}: no class list; put the class names one per line in {root / 'classes.txt'} "
        "(line 1 is class 0), or a data.yaml with 'names'."
    )


def read_yolo(path: str | os.PathLike[str], *, progress: ProgressCallback = no_progress) -> BoxFile:
    """Read a YOLO folder (``images/``, ``labels/``, a class list) into a :class:`BoxFile`;
    checks each line has five fields and a known class index (errors name file:line)."""
    root = Path(path).expanduser()
    images_dir, labels_dir = root / "images", root / "labels"
    if not images_dir.is_dir() or not labels_dir.is_dir():
        raise DataFormatError(
            f"{root}: a YOLO dataset has an images/ and a labels/ folder (labels/<image>.txt)."
        )
    classes = read_classes(root)
    images: list[BoxImage] = []
    img, cls, ref = array("q"), array("q"), array("q")
    coords = array("d")
    files: list[str] = []
    for n, (key, full) in enumerate(walk_images(str(images_dir))):
        try:
            with Image.open(full) as im:
                width, height = im.size
        except (OSError, ValueError) as exc:
            raise DataFormatError(f"{full}: not a readable image ({exc}).") from exc
        images.append(BoxImage(key, full, width, height))
        label = labels_dir / (os.path.splitext(key)[0] + ".txt")
        if not label.is_file():
            continue
        files.append(str(label))
        with open(label, encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                fields = line.split()
                if not fields:
                    continue
                where = f"{label}:{line_no}"
                if len(fields) != 5:
                    raise DataFormatError(
                        f"{where} (image {key!r}): expected 5 fields 'class cx cy w h', got "
                        f"{len(fields)}. Nothing was imported."
                    )
                try:
                    c = int(fields[0])
                    cx, cy, w, h = (float(v) for v in fields[1:])
                except ValueError as exc:
                    raise DataFormatError(
                        f"{where} (image {key!r}): {line.strip()!r} is not 'class cx cy w h' "
                        "(an integer class and four numbers)."
                    ) from exc
                if not 0 <= c < len(classes):
                    raise DataFormatError(
                        f"{where} (image {key!r}): unknown class {c}; the class list has "
                        f"{len(classes)} classes (0-{len(classes) - 1})."
                    )
                coords.extend([(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height])
                img.append(n)
                cls.append(c)
                ref.append(len(files) - 1 << 32 | line_no)
        if n % 10_000 == 0:
            progress(n, None, f"reading {root.name}")
    i_col, c_col, xywh, r_col, _ = columns(img, cls, coords, ref)
    # Normalized coordinates times the size leave float noise (0.9999999999999996).
    xywh = np.round(xywh, 4)
    return BoxFile(
        source=str(root),
        format="yolo",
        images=images,
        classes=classes,
        image=i_col,
        cls=c_col,
        xywh=xywh,
        ref=r_col,
        where=lambda i: f"{files[int(r_col[i]) >> 32]}:{int(r_col[i]) & 0xFFFFFFFF}",
    )
