"""Pascal VOC: ``Annotations/*.xml`` (one file per image: ``filename``, ``size``, ``object``s
with ``name`` and ``bndbox`` xmin/ymin/xmax/ymax) + ``JPEGImages/``.

A VOC box is read as ``x = xmin, y = ymin, w = xmax - xmin, h = ymax - ymin`` (pixels; the
sub-pixel 1-based convention of the original toolkit is within the edge tolerance). XML is
parsed by the standard library's expat, which refuses entity expansion bombs (expat >= 2.4).
"""

from __future__ import annotations

import os
import unicodedata
import xml.etree.ElementTree as ET  # expat >= 2.4 limits entity expansion
from array import array
from pathlib import Path

from assay.errors import DataFormatError
from assay.ingest.boxes import BoxFile, BoxImage, columns
from assay.progress import ProgressCallback, no_progress
from assay.store.naming import natural_sort_key

__all__ = ["read_voc"]


def _number(node: ET.Element, tag: str, where: str) -> float:
    text = node.findtext(tag)
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise DataFormatError(f"{where}: <{tag}> is {text!r}, not a number.") from exc


def read_voc(path: str | os.PathLike[str], *, progress: ProgressCallback = no_progress) -> BoxFile:
    """Read a VOC folder into a :class:`BoxFile`; classes are the object names, sorted."""
    root = Path(path).expanduser()
    ann_dir, img_dir = root / "Annotations", root / "JPEGImages"
    if not ann_dir.is_dir():
        raise DataFormatError(f"{root}: a Pascal VOC dataset has an Annotations/ folder.")
    xmls = sorted(
        (p for p in ann_dir.iterdir() if p.suffix.lower() == ".xml"),
        key=lambda p: natural_sort_key(p.name),
    )
    if not xmls:
        raise DataFormatError(f"{ann_dir}: no .xml annotation files.")
    images: list[BoxImage] = []
    names: list[str] = []
    img, ref, names_idx = array("q"), array("q"), array("q")
    coords = array("d")
    xml_of: list[str] = []
    for n, xml in enumerate(xmls):
        try:
            doc = ET.parse(xml).getroot()
        except ET.ParseError as exc:
            raise DataFormatError(f"{xml}: not valid XML ({exc}).") from exc
        filename = (doc.findtext("filename") or "").strip() or xml.stem + ".jpg"
        key = unicodedata.normalize("NFC", filename)
        size = doc.find("size")
        if size is None or size.find("width") is None or size.find("height") is None:
            raise DataFormatError(
                f"{xml} (image {key!r}): no <size> with <width> and <height>. Nothing was imported."
            )
        width = int(_number(size, "width", str(xml)))
        height = int(_number(size, "height", str(xml)))
        images.append(BoxImage(key, str(img_dir / key), width, height))
        xml_of.append(str(xml))
        for k, obj in enumerate(doc.iter("object"), start=1):
            where = f"{xml}, object {k} (image {key!r})"
            name = (obj.findtext("name") or "").strip()
            if not name:
                raise DataFormatError(f"{where}: no <name>.")
            box = obj.find("bndbox")
            if box is None:
                raise DataFormatError(f"{where}: no <bndbox>. Nothing was imported.")
            x1, y1, x2, y2 = (_number(box, tag, where) for tag in ("xmin", "ymin", "xmax", "ymax"))
            if name not in names:
                names.append(name)
            coords.extend([x1, y1, x2 - x1, y2 - y1])
            img.append(n)
            ref.append(n << 32 | k)
            names_idx.append(names.index(name))
        if n % 10_000 == 0:
            progress(n, len(xmls), f"reading {root.name}")
    classes = sorted(names, key=natural_sort_key)
    remap = [classes.index(x) for x in names]
    i_col, c_col, xywh, r_col, _ = columns(img, [remap[c] for c in names_idx], coords, ref)
    return BoxFile(
        source=str(root),
        format="voc",
        images=images,
        classes=classes,
        image=i_col,
        cls=c_col,
        xywh=xywh,
        ref=r_col,
        where=lambda i: f"{xml_of[int(r_col[i]) >> 32]}, object {int(r_col[i]) & 0xFFFFFFFF}",
    )
