"""Export a box layer as COCO (one ``instances`` JSON: images, categories, annotations) or as
YOLO (``images/`` copied from the store, ``labels/*.txt`` normalized ``class cx cy w h``,
``classes.txt``).

Items without a label in the layer (not annotated) are left out; an image whose label is
``[]`` is listed with no annotation (COCO) or an empty ``.txt`` (YOLO). Files are written under
a temporary name and renamed into place, so an interrupted export leaves nothing half-written.
Image ids are the items' COCO ids when a COCO import gave every exported item one (a round
trip keeps them), else the item ids; category ids are the COCO file's when the layer came from
one, else 1, 2 ... in class order.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import DataFormatError, InvalidParameter
from assay.progress import ProgressCallback, no_progress
from assay.store import Store, queries
from assay.store import schema as t

__all__ = ["BOX_EXPORT_FORMATS", "export_boxes"]

BOX_EXPORT_FORMATS = ("coco", "yolo")
CHUNK = 5_000


def _rows(conn: Connection, layer_id: int) -> Iterator[Any]:
    """(item id, key, width, height, meta, media_path, value) of every labeled item, by id,
    in keyset chunks (memory bounded by the chunk)."""
    h, lab, i = t.label_heads.c, t.labels.c, t.items.c
    after = 0
    while True:
        rows = conn.execute(
            sa.select(i.id, i.external_key, i.width, i.height, i.meta, i.media_path, lab.value)
            .select_from(
                t.label_heads.join(t.labels, lab.id == h.label_id).join(t.items, i.id == h.item_id)
            )
            .where(h.layer_id == layer_id, h.item_id > after)
            .order_by(h.item_id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1][0]


def _category_ids(origin: Any, classes: list[str]) -> dict[str, int]:
    cats = origin.get("categories") if isinstance(origin, dict) else None
    out: dict[str, int] = {}
    if isinstance(cats, dict):
        out = {name: int(cid) for cid, name in cats.items() if name in classes}
    next_id = max(out.values(), default=0) + 1
    for name in classes:
        if name not in out:
            out[name], next_id = next_id, next_id + 1
    return out


def export_boxes(
    store: Store,
    dataset_id: int,
    path: str | os.PathLike[str],
    *,
    layer: str,
    format: str,
    progress: ProgressCallback = no_progress,
) -> int:
    """Write box layer ``layer`` to ``path`` (a .json file for COCO, a new folder for YOLO);
    returns the number of images written."""
    if format not in BOX_EXPORT_FORMATS:
        raise InvalidParameter(
            f"Unknown box export format {format!r}; choose one of {', '.join(BOX_EXPORT_FORMATS)}."
        )
    out = Path(path).expanduser()
    with store.read() as conn:
        row = queries.get_layer(conn, dataset_id, layer)
        if row.value_kind != "boxes":
            raise InvalidParameter(
                f"Layer {layer!r} holds {row.value_kind} labels, not boxes; export it as CSV, "
                "Parquet or JSONL."
            )
        classes = [c.name for c in queries.list_classes(conn, dataset_id)]
        if format == "coco":
            return _coco(conn, row, classes, out, progress)
        return _yolo(conn, store, row, classes, out, progress)


def _coco(
    conn: Connection, layer: Any, classes: list[str], out: Path, progress: ProgressCallback
) -> int:
    cat_ids = _category_ids(layer.origin, classes)
    images: list[dict[str, Any]] = []
    coco_ids: list[Any] = []
    for item_id, key, width, height, meta, _, _ in _rows(conn, layer.id):
        coco_ids.append(meta.get("coco_id") if isinstance(meta, dict) else None)
        images.append({"id": item_id, "file_name": key, "width": width, "height": height})
    use_coco = all(isinstance(c, int) for c in coco_ids) and len(set(coco_ids)) == len(coco_ids)
    image_id = {
        im["id"]: (c if use_coco else im["id"]) for im, c in zip(images, coco_ids, strict=True)
    }
    for im in images:
        im["id"] = image_id[im["id"]]
    n_ann = 0
    tmp = _temp_file(out)
    try:
        with open(tmp, "wb") as f:
            f.write(b'{"info":{"description":"exported by Assay"},"categories":')
            f.write(orjson.dumps([{"id": cat_ids[c], "name": c} for c in classes]))
            f.write(b',"images":')
            f.write(orjson.dumps(images))
            f.write(b',"annotations":[')
            for k, (item_id, *_, value) in enumerate(_rows(conn, layer.id)):
                anns = []
                for box in value or []:
                    n_ann += 1
                    ann = {
                        "id": n_ann,
                        "image_id": image_id[item_id],
                        "category_id": cat_ids[box["class"]],
                        "bbox": [box["x"], box["y"], box["w"], box["h"]],
                        "area": box["w"] * box["h"],
                        "iscrowd": 0,
                    }
                    if "score" in box:
                        ann["score"] = box["score"]
                    anns.append(orjson.dumps(ann))
                if anns:
                    f.write((b"," if n_ann > len(anns) else b"") + b",".join(anns))
                if k % CHUNK == 0:
                    progress(k, len(images), f"writing {out.name}")
            f.write(b"]}")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return len(images)


def _temp_file(out: Path) -> str:
    if not out.parent.is_dir():
        raise DataFormatError(f"{out.parent}: no such folder to write {out.name} into.")
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    return tmp


def _yolo(
    conn: Connection,
    store: Store,
    layer: Any,
    classes: list[str],
    out: Path,
    progress: ProgressCallback,
) -> int:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataFormatError(f"{out}: already exists and is not empty; give a new folder.")
    if not out.parent.is_dir():
        raise DataFormatError(f"{out.parent}: no such folder to write {out.name} into.")
    index = {c: n for n, c in enumerate(classes)}
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    n = 0
    try:
        (tmp / "classes.txt").write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")
        for item_id, key, width, height, _, media_path, value in _rows(conn, layer.id):
            if not width or not height:
                raise DataFormatError(
                    f"Item {key!r} has no known image size; YOLO coordinates are fractions of it."
                )
            image = tmp / "images" / key
            image.parent.mkdir(parents=True, exist_ok=True)
            if media_path:
                shutil.copyfile(media_path, image)
            else:
                blob = conn.execute(
                    sa.select(t.media_blobs.c.data).where(t.media_blobs.c.item_id == item_id)
                ).scalar()
                if blob is None:
                    raise DataFormatError(f"Item {key!r} has no image in the store to export.")
                image.write_bytes(blob)
            label = tmp / "labels" / (os.path.splitext(key)[0] + ".txt")
            label.parent.mkdir(parents=True, exist_ok=True)
            lines = [
                f"{index[b['class']]} {(b['x'] + b['w'] / 2) / width:.6f} "
                f"{(b['y'] + b['h'] / 2) / height:.6f} {b['w'] / width:.6f} {b['h'] / height:.6f}\n"
                for b in value or []
            ]
            label.write_text("".join(lines), encoding="utf-8")
            n += 1
            if n % CHUNK == 0:
                progress(n, None, f"writing {out.name}")
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return n
