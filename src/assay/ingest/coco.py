"""COCO: ``instances_*.json`` (images, annotations with ``bbox`` [x, y, w, h], categories) in,
and the COCO results format (``[{image_id, category_id, bbox, score}]``) for predictions.

What bounds memory: each annotation goes straight into numpy columns
(``ingest.boxes.BoxFile``, about 60 bytes a box), never kept as a Python object per box. A
file up to :data:`IN_MEMORY_BYTES` is decoded at once by msgspec with its annotations typed
(small structs, not dicts: about four times faster than a parsed document, and a fraction of
its memory), then turned into columns; if an annotation does not fit the types (a float id,
a NaN, a missing field) it is parsed by orjson and its annotations turned into columns by
numpy (the parsed document, about 10 times the file's size, lives until the columns are
built); a bigger one up to
:data:`RAW_BYTES` is read in one pass by msgspec, its annotations kept as their raw text
(about 50 bytes an annotation besides the file's bytes) and decoded into columns
:data:`RAW_CHUNK` at a time (about four times faster than streaming: 1,000,000 boxes in
about 3 s); a bigger one, or one msgspec refuses, is streamed section by section with
ijson's C backend (three passes over the file, one annotation at a time), so memory then
holds only the columns and the images list: 170 MiB at 100,000 boxes, 300 MiB at 1,000,000
(benchmarks/bench_import_boxes.py). Whichever way, an annotation that is not plainly right
sends the read to the checked loop, which names it.
"""

from __future__ import annotations

import json
import operator
import os
import posixpath
import unicodedata
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ijson
import msgspec
import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import DataFormatError
from assay.ingest.boxes import BoxFile, BoxImage, columns, import_boxes_onto
from assay.progress import ProgressCallback, no_progress
from assay.store import Store, queries
from assay.store import schema as t

__all__ = [
    "coco_id_maps",
    "coco_json_kind",
    "import_coco_results",
    "read_coco",
    "read_coco_results",
]


#: Files up to this size are parsed in one go (see the module's docstring): at most about
#: 700 MB of parsed document; a COCO file of 1,000,000 boxes (~110 MB) is read raw.
IN_MEMORY_BYTES = 64 << 20
#: Bigger files up to this size are read raw (see the module's docstring): the file's bytes
#: plus about 50 bytes an annotation; beyond it they are streamed.
RAW_BYTES = 1 << 30
#: Annotations decoded at a time from their raw text.
RAW_CHUNK = 50_000


class _Top(msgspec.Struct):
    """A COCO file's top level as msgspec reads it: the small sections as Python objects
    (checked by the same code as the other readers'), each annotation as its raw text."""

    categories: list[Any] | None = None
    images: list[Any] | None = None
    annotations: list[msgspec.Raw] | None = None


class _Annotation(msgspec.Struct, gc=False):
    """The fields of an annotation an import keeps, typed (a value of another type fails the
    fast read, and the checked loop then names the annotation)."""

    image_id: int
    category_id: int
    bbox: tuple[float, float, float, float]
    id: int = -1


class _TopTyped(msgspec.Struct):
    """A COCO file's top level with its annotations typed (:class:`_Annotation`): what a
    file up to :data:`IN_MEMORY_BYTES` is read as first (see :meth:`_Sections._read_typed`)."""

    categories: list[Any] | None = None
    images: list[Any] | None = None
    annotations: list[_Annotation] | None = None


class _Sections:
    """The arrays of a COCO file by name: from the parsed document (small files), read raw
    (big ones), or streamed (huge ones, or a big file msgspec refuses: the streamed reader
    then names what is wrong)."""

    def __init__(self, path: Path, in_memory_bytes: int | None = None) -> None:
        self.path = path
        self.doc: Any = None
        self.raw: list[msgspec.Raw] | None = None
        self.typed: list[_Annotation] | None = None
        limit = IN_MEMORY_BYTES if in_memory_bytes is None else in_memory_bytes
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise DataFormatError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc
        if size <= limit:
            if self._read_typed():
                return
            self.doc = _load(path)
            if not isinstance(self.doc, dict | list):
                raise DataFormatError(f"{path}: not a COCO file (a JSON object or list).")
        elif size <= RAW_BYTES:
            self._read_raw()

    def _read_typed(self) -> bool:
        """msgspec over the file's bytes into typed annotations, when every one is plainly
        right (else False, and the file is parsed as a document): about four times faster
        than orjson's document (no dict per annotation) and a fraction of its memory."""
        try:
            top = msgspec.json.decode(self.path.read_bytes(), type=_TopTyped)
        except OSError as exc:
            raise DataFormatError(f"{self.path}: cannot be read ({exc.strerror or exc}).") from exc
        except (msgspec.DecodeError, msgspec.ValidationError):
            return False  # NaN, a float id, a missing field...: the document names it
        self.doc = {"categories": top.categories, "images": top.images}
        self.typed = top.annotations if top.annotations is not None else []
        return True

    def _read_raw(self) -> None:
        """msgspec over the file's bytes, the annotations kept as their raw text (decoded
        RAW_CHUNK at a time into columns): one pass over the file, where streaming takes one
        pass a section (categories often come last), each slower than this whole read."""
        try:
            top = msgspec.json.decode(self.path.read_bytes(), type=_Top)
        except OSError as exc:
            raise DataFormatError(f"{self.path}: cannot be read ({exc.strerror or exc}).") from exc
        except (msgspec.DecodeError, msgspec.ValidationError):
            return  # not plain JSON (NaN) or not a COCO object: streamed, which says why
        self.doc = {"categories": top.categories, "images": top.images}
        self.raw = top.annotations if top.annotations is not None else []

    def items(self, name: str) -> Iterator[Any]:
        """The items of the top-level array ``name`` ("" for a top-level list)."""
        if name == "annotations" and self.raw is not None:
            return _raw_items(self.raw)
        if name == "annotations" and self.typed is not None:
            # The checked loop, after the typed columns found something wrong (an unknown
            # image or category, a missing id): it needs the annotations as they are.
            doc = _load(self.path)
            node = doc.get("annotations") if isinstance(doc, dict) else None
            return iter(node if isinstance(node, list) else [])
        if self.doc is None:
            return _items(self.path, f"{name}.item" if name else "item")
        node = (
            self.doc if not name else (self.doc.get(name) if isinstance(self.doc, dict) else None)
        )
        if node is not None and not isinstance(node, list):
            raise DataFormatError(f"{self.path}: {name!r} must be a list.")
        return iter(node or [])

    def drop(self) -> None:
        self.doc = None
        self.raw = None
        self.typed = None


def _joined(raw: list[msgspec.Raw], start: int) -> bytes:
    return b"[" + b",".join(raw[start : start + RAW_CHUNK]) + b"]"


def _raw_items(raw: list[msgspec.Raw]) -> Iterator[Any]:
    """The annotations read raw, as Python objects, a chunk at a time."""
    for start in range(0, len(raw), RAW_CHUNK):
        yield from msgspec.json.decode(_joined(raw, start))


def _raw_columns(
    raw: list[msgspec.Raw],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Image ids, category ids, annotation ids and (n, 4) bboxes of annotations read raw,
    or None when one is not plainly right (a field missing or of another type)."""
    n = len(raw)
    image_ids, cat_ids, ann_ids = (np.empty(n, dtype=np.int64) for _ in range(3))
    xywh = np.empty((n, 4), dtype=np.float64)
    decoder = msgspec.json.Decoder(list[_Annotation])
    for start in range(0, n, RAW_CHUNK):
        try:
            chunk = decoder.decode(_joined(raw, start))
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        _fill(chunk, start, image_ids, cat_ids, ann_ids, xywh)
    return image_ids, cat_ids, ann_ids, xywh


def _typed_columns(
    anns: list[_Annotation],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Image ids, category ids, annotation ids and (n, 4) bboxes of typed annotations."""
    n = len(anns)
    image_ids, cat_ids, ann_ids = (np.empty(n, dtype=np.int64) for _ in range(3))
    xywh = np.empty((n, 4), dtype=np.float64)
    for start in range(0, n, RAW_CHUNK):
        _fill(anns[start : start + RAW_CHUNK], start, image_ids, cat_ids, ann_ids, xywh)
    return image_ids, cat_ids, ann_ids, xywh


def _fill(
    chunk: list[_Annotation],
    start: int,
    image_ids: np.ndarray,
    cat_ids: np.ndarray,
    ann_ids: np.ndarray,
    xywh: np.ndarray,
) -> None:
    """Put a chunk of typed annotations into the columns from row ``start`` on."""
    k, stop = len(chunk), start + len(chunk)
    image_ids[start:stop] = np.fromiter(map(_IMAGE_ID, chunk), np.int64, k)
    cat_ids[start:stop] = np.fromiter(map(_CATEGORY_ID, chunk), np.int64, k)
    ann_ids[start:stop] = np.fromiter(map(_ID, chunk), np.int64, k)
    xywh[start:stop] = np.fromiter(map(_BBOX, chunk), np.dtype((np.float64, 4)), k)


_IMAGE_ID = operator.attrgetter("image_id")
_CATEGORY_ID = operator.attrgetter("category_id")
_ID = operator.attrgetter("id")
_BBOX = operator.attrgetter("bbox")


def coco_json_kind(path: str | os.PathLike[str]) -> str:
    """``instances`` for a COCO instances file (a JSON object: images, annotations,
    categories), ``results`` for predictions in the COCO results format (a JSON list), from
    the first character that is not white space (the file is not parsed here: the importer
    that reads it reports any error in it)."""
    path = Path(path).expanduser()
    try:
        with open(path, "rb") as f:
            head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc
    if head.startswith(b"{"):
        return "instances"
    if head.startswith(b"["):
        return "results"
    raise DataFormatError(
        f"{path}: not a COCO file: a JSON object (images, annotations, categories) or a JSON "
        "list of results ({image_id, category_id, bbox, score})."
    )


def _load(path: Path) -> Any:
    """The parsed file: orjson, or (for NaN/Infinity literals, which Python's json module
    writes and orjson refuses) the json module, so such a coordinate is reported as a bad box."""
    import orjson

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataFormatError(f"{path}: not valid JSON ({exc}).") from error


def _items(path: Path, prefix: str) -> Iterator[Any]:
    """The items of the array at ``prefix``, streamed (the json module as in :func:`_load`
    when the C parser refuses NaN literals)."""
    done = 0
    try:
        with open(path, "rb") as f:
            for item in ijson.items(f, prefix, use_float=True):
                done += 1
                yield item
        return
    except ijson.JSONError as exc:
        error = exc
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: not valid JSON ({exc}).") from error
    node: Any = doc
    for part in prefix.split("."):
        if part == "item":
            break
        node = node.get(part) if isinstance(node, dict) else None
    yield from (node or [])[done:]


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _key(name: Any, path: Path, image_id: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise DataFormatError(f"{path}, image id {image_id}: 'file_name' is missing or empty.")
    key = posixpath.normpath(name.strip().replace("\\", "/"))
    if key.startswith(("../", "/")) or key == "..":
        raise DataFormatError(
            f"{path}, image id {image_id}: file_name {name!r} is outside the images folder."
        )
    return unicodedata.normalize("NFC", key)


def read_categories(path: Path, sections: _Sections | None = None) -> dict[int, str]:
    """COCO category id -> name, checked (ids and names unique)."""
    cats: dict[int, str] = {}
    for n, cat in enumerate((sections or _Sections(path)).items("categories"), start=1):
        cid = _int(cat.get("id")) if isinstance(cat, dict) else None
        name = cat.get("name") if isinstance(cat, dict) else None
        if cid is None or not isinstance(name, str) or not name.strip():
            raise DataFormatError(
                f"{path}, category {n}: a category needs an integer 'id' and a 'name'."
            )
        if cid in cats:
            raise DataFormatError(f"{path}: category id {cid} appears twice.")
        if name.strip() in cats.values():
            raise DataFormatError(f"{path}: category name {name!r} appears twice.")
        cats[cid] = name.strip()
    return cats


def read_images(
    path: Path, sections: _Sections | None = None
) -> tuple[list[tuple[int, str, int | None, int | None]], dict[int, int]]:
    """(COCO id, item key, width, height) of every image, and id -> index."""
    images: list[tuple[int, str, int | None, int | None]] = []
    index: dict[int, int] = {}
    keys: dict[str, int] = {}
    for n, im in enumerate((sections or _Sections(path)).items("images"), start=1):
        iid = _int(im.get("id")) if isinstance(im, dict) else None
        if iid is None:
            raise DataFormatError(f"{path}, image {n}: an image needs an integer 'id'.")
        if iid in index:
            raise DataFormatError(f"{path}: image id {iid} appears twice.")
        key = _key(im.get("file_name"), path, iid)
        if key in keys:
            raise DataFormatError(
                f"{path}, image id {iid}: file_name {key!r} is also image id {keys[key]}."
            )
        keys[key] = iid
        width, height = _int(im.get("width")), _int(im.get("height"))
        index[iid] = len(images)
        images.append(
            (
                iid,
                key,
                width if width and width > 0 else None,
                height if height and height > 0 else None,
            )
        )
    return images, index


def coco_image_dir(path: Path, first: str | None, images: str | os.PathLike[str] | None) -> Path:
    """Where the images of a COCO file are: ``images`` when given, else the first of the
    json's folder, its ``images/`` sub-folder, and (the COCO layout,
    ``annotations/instances_val2017.json`` beside ``val2017/``) ``../val2017`` and ``../images``
    that holds the first image."""
    if images is not None:
        return Path(images).expanduser()
    here = path.resolve().parent
    stem = path.stem.removeprefix("instances_")
    candidates = [here, here / "images", here.parent / stem, here.parent / "images"]
    if first is not None:
        for folder in candidates:
            if (folder / first).is_file():
                return folder
    return here


def _annotation_columns(
    sections: _Sections, index: dict[int, int], class_index: dict[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The annotations as columns, by numpy over the parsed document (a loop over a million
    annotations in Python is most of an import's time); None when the file is streamed or any
    annotation is not plainly right (the checked loop then finds and names it)."""
    if sections.typed is not None:
        image_ids, cat_ids, ann_ids, xywh = _typed_columns(sections.typed)
        n = len(image_ids)
    elif sections.raw is not None:
        found = _raw_columns(sections.raw)
        if found is None:
            return None
        image_ids, cat_ids, ann_ids, xywh = found
        n = len(image_ids)
    else:
        anns = sections.doc.get("annotations") if isinstance(sections.doc, dict) else None
        if not isinstance(anns, list):
            return None
        n = len(anns)
        try:
            image_ids = np.fromiter((a["image_id"] for a in anns), dtype=np.float64, count=n)
            cat_ids = np.fromiter((a["category_id"] for a in anns), dtype=np.float64, count=n)
            ann_ids = np.fromiter((a.get("id", -1) for a in anns), dtype=np.float64, count=n)
            xywh = np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(n, 4)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None
    if not (
        (image_ids == np.floor(image_ids)).all()
        and (cat_ids == np.floor(cat_ids)).all()
        and (ann_ids == np.floor(ann_ids)).all()
        and (ann_ids >= 0).all()
    ):
        return None

    def lookup(ids: np.ndarray, table: dict[int, int]) -> np.ndarray | None:
        keys = np.fromiter(table.keys(), dtype=np.int64, count=len(table))
        values = np.fromiter(table.values(), dtype=np.int64, count=len(table))
        order = np.argsort(keys)
        keys, values = keys[order], values[order]
        wanted = ids.astype(np.int64)
        pos = np.clip(np.searchsorted(keys, wanted), 0, max(len(keys) - 1, 0))
        if not len(keys) or not (keys[pos] == wanted).all():
            return None
        return values[pos]

    img = lookup(image_ids, index) if n else np.zeros(0, dtype=np.int64)
    cls = lookup(cat_ids, class_index) if n else np.zeros(0, dtype=np.int64)
    if img is None or cls is None:
        return None
    return img, cls, xywh, ann_ids.astype(np.int64)


def _annotation_columns_checked(
    path: Path,
    sections: _Sections,
    found: list[tuple[int, str, int | None, int | None]],
    index: dict[int, int],
    cats: dict[int, str],
    class_index: dict[int, int],
    progress: ProgressCallback,
) -> tuple[array[int], array[int], array[int], array[float]]:
    """The annotations as columns, one by one: each is checked and named in its error."""
    img, cls, ref = array("q"), array("q"), array("q")
    coords = array("d")
    for n, ann in enumerate(sections.items("annotations"), start=1):
        if not isinstance(ann, dict):
            raise DataFormatError(f"{path}, annotation {n}: not an object.")
        aid = _int(ann.get("id"))
        where = f"{path}, annotation id {aid}" if aid is not None else f"{path}, annotation {n}"
        iid = _int(ann.get("image_id"))
        if iid not in index:
            raise DataFormatError(
                f"{where}: image_id {ann.get('image_id')!r} is not the id of any image in the "
                "file. Nothing was imported."
            )
        cid = _int(ann.get("category_id"))
        if cid not in class_index:
            raise DataFormatError(
                f"{where} (image {found[index[iid]][1]!r}): unknown category_id "
                f"{ann.get('category_id')!r}; the categories are "
                f"{', '.join(f'{k} ({v})' for k, v in list(cats.items())[:10])}. "
                "Nothing was imported."
            )
        bbox = ann.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise DataFormatError(
                f"{where} (image {found[index[iid]][1]!r}): bbox must be [x, y, width, height], "
                f"not {bbox!r}."
            )
        try:
            coords.extend([float(v) for v in bbox])
        except (TypeError, ValueError) as exc:
            raise DataFormatError(
                f"{where} (image {found[index[iid]][1]!r}): bbox {bbox!r} holds a value that "
                "is not a number."
            ) from exc
        img.append(index[iid])
        cls.append(class_index[cid])
        ref.append(aid if aid is not None else -n)
        if n % 100_000 == 0:
            progress(n, None, f"reading {path.name}")
    return img, cls, ref, coords


def read_coco(
    path: str | os.PathLike[str],
    *,
    images: str | os.PathLike[str] | None = None,
    with_files: bool = True,
    in_memory_bytes: int | None = None,
    progress: ProgressCallback = no_progress,
) -> BoxFile:
    """Read a COCO instances file into a :class:`BoxFile` (checked: every annotation's image
    and category exist and its bbox has four numbers). ``with_files=False`` reads only the
    boxes (for images already in a dataset)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file.")
    sections = _Sections(path, in_memory_bytes)
    cats = read_categories(path, sections)
    if not cats:
        raise DataFormatError(f"{path}: no categories; a COCO file lists its categories.")
    class_index = {cid: i for i, cid in enumerate(cats)}
    found, index = read_images(path, sections)
    folder = coco_image_dir(path, found[0][1] if found else None, images) if with_files else None
    # os.path.join, not Path /: a fifth of the time, for every image of the file.
    base = None if folder is None else str(folder)
    box_images = [
        BoxImage(
            key,
            None if base is None else os.path.join(base, key),
            w,
            h,
            {"coco_id": iid},
        )
        for iid, key, w, h in found
    ]
    source = str(path)
    fast = _annotation_columns(sections, index, class_index)
    if fast is None:  # streamed, or something is wrong: the checked loop names the annotation
        img, cls, ref, coords = _annotation_columns_checked(
            path, sections, found, index, cats, class_index, progress
        )
        sections.drop()
        i_col, c_col, xywh, r_col, _ = columns(img, cls, coords, ref)
    else:
        sections.drop()
        i_col, c_col, xywh, r_col = fast

    def where_of(i: int) -> str:
        r = int(r_col[i])
        return f"{source}, annotation id {r}" if r >= 0 else f"{source}, annotation {-r}"

    return BoxFile(
        source=source,
        format="coco",
        images=box_images,
        classes=list(cats.values()),
        image=i_col,
        cls=c_col,
        xywh=xywh,
        ref=r_col,
        where=where_of,
        origin={"format": "coco", "categories": {str(k): v for k, v in cats.items()}},
    )


def read_coco_results(
    path: str | os.PathLike[str],
    *,
    images: dict[int, str],
    categories: dict[int, str],
) -> BoxFile:
    """Read predictions in the COCO results format (a JSON list of ``{image_id,
    category_id, bbox, score}``) given the image id -> item key and category id -> class
    maps. Every image of ``images`` gets a label (``[]`` where nothing was predicted)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file.")
    keys = list(images.values())
    index = {iid: n for n, iid in enumerate(images)}
    names = sorted(set(categories.values()), key=list(categories.values()).index)
    class_index = {cid: names.index(name) for cid, name in categories.items()}
    img, cls, ref = array("q"), array("q"), array("q")
    coords, scores = array("d"), array("d")
    for n, res in enumerate(_Sections(path).items(""), start=1):
        where = f"{path}, result {n}"
        if not isinstance(res, dict):
            raise DataFormatError(f"{where}: not an object {{image_id, category_id, bbox, score}}.")
        iid = _int(res.get("image_id"))
        if iid not in index:
            raise DataFormatError(
                f"{where}: image_id {res.get('image_id')!r} is not an image of the dataset "
                "(from the items' COCO ids, or --instances FILE). Nothing was imported."
            )
        cid = _int(res.get("category_id"))
        if cid not in class_index:
            raise DataFormatError(
                f"{where} (image {keys[index[iid]]!r}): unknown category_id "
                f"{res.get('category_id')!r}. Nothing was imported."
            )
        bbox, score = res.get("bbox"), res.get("score")
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise DataFormatError(f"{where}: bbox must be [x, y, width, height], not {bbox!r}.")
        try:
            coords.extend([float(v) for v in bbox])
            scores.append(float(score))  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise DataFormatError(
                f"{where}: bbox {bbox!r} and score {score!r} must be numbers."
            ) from exc
        img.append(index[iid])
        cls.append(class_index[cid])
        ref.append(n)
    i_col, c_col, xywh, r_col, s_col = columns(img, cls, coords, ref, scores)
    source = str(path)
    return BoxFile(
        source=source,
        format="coco-results",
        images=[BoxImage(k, None) for k in keys],
        classes=names,
        image=i_col,
        cls=c_col,
        xywh=xywh,
        ref=r_col,
        where=lambda i: f"{source}, result {int(r_col[i])}",
        score=s_col,
    )


def coco_id_maps(path: str | os.PathLike[str]) -> tuple[dict[int, str], dict[int, str]]:
    """Image id -> item key and category id -> name of a COCO instances file (``--instances``)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file.")
    sections = _Sections(path)
    found, _ = read_images(path, sections)
    return {iid: key for iid, key, _, _ in found}, read_categories(path, sections)


def dataset_id_maps(
    conn: Connection, dataset_id: int
) -> tuple[dict[int, str], dict[int, str] | None]:
    """Image id -> item key from the items' COCO ids (``meta.coco_id``, kept by a COCO
    import), and category id -> class from a box layer a COCO import made (None if none)."""
    i = t.items.c
    images: dict[int, str] = {}
    rows = conn.execute(
        sa.select(i.external_key, i.meta).where(i.dataset_id == dataset_id, i.meta.is_not(None))
    )
    for key, meta in rows:
        cid = meta.get("coco_id") if isinstance(meta, dict) else None
        if isinstance(cid, int):
            images[cid] = key
    cats: dict[int, str] | None = None
    for origin in conn.execute(
        sa.select(t.layers.c.origin).where(
            t.layers.c.dataset_id == dataset_id, t.layers.c.value_kind == "boxes"
        )
    ).scalars():
        if isinstance(origin, dict) and isinstance(origin.get("categories"), dict):
            cats = {int(k): v for k, v in origin["categories"].items()}
            break
    return images, cats


def import_coco_results(
    store: Store,
    dataset_id: int,
    path: str | os.PathLike[str],
    *,
    layer: str,
    instances: str | os.PathLike[str] | None = None,
    author: str = "import",
    progress: ProgressCallback = no_progress,
    on_written: Callable[[Connection, BoxFile, int], None] | None = None,
) -> tuple[int, int]:
    """Import predictions in the COCO results format into the model box layer ``layer``
    (boxes with a score), all or nothing; returns (labels written, classes added).
    ``on_written`` runs in the import's transaction (see :func:`import_boxes_onto`).

    Image and category ids are those of the dataset's COCO import (items' ``coco_id``, the
    box layer's categories), or of ``instances`` (the COCO file the predictions were made
    on) when the dataset came from elsewhere: its images are matched to items by file name.
    """
    if instances is not None:
        images, cats = coco_id_maps(instances)
    else:
        with store.read() as conn:
            images, found = dataset_id_maps(conn, dataset_id)
        if not images:
            raise DataFormatError(
                f"{path}: the dataset's items have no COCO image ids (it was not imported from "
                "COCO); give the COCO instances file the predictions were made on "
                "(--instances FILE) to match image ids to file names."
            )
        with store.read() as conn:
            classes = [c.name for c in queries.list_classes(conn, dataset_id)]
        cats = found or {int(c): c for c in classes if c.isdigit()}
    bf = read_coco_results(path, images=images, categories=cats)
    return import_boxes_onto(
        store, dataset_id, bf, layer=layer, kind="model", author=author, progress=progress,
        on_written=on_written,
    )  # fmt: skip
