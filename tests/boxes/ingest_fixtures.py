"""Tiny box datasets on disk for the import tests: a few PNGs and a COCO, YOLO or VOC file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

SIZES = [(50, 40), (60, 30), (32, 32)]  # (width, height) of images 0.png, 1.png, 2.png
CATEGORIES = [{"id": 1, "name": "cat"}, {"id": 3, "name": "dog"}]
# file name -> boxes (category name, x, y, w, h); 2.png has none.
BOXES: dict[str, list[tuple[str, float, float, float, float]]] = {
    "0.png": [("cat", 1, 2, 10, 10), ("dog", 5, 5, 20, 20)],
    "1.png": [("dog", 30, 0, 30, 30)],
    "2.png": [],
}


def write_images(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n, (w, h) in enumerate(SIZES):
        pixels = np.random.default_rng(n).integers(0, 255, (h, w), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{n}.png")


def coco_doc() -> dict[str, Any]:
    cat_id = {c["name"]: c["id"] for c in CATEGORIES}
    images = [
        {"id": 100 + n, "file_name": f"{n}.png", "width": w, "height": h}
        for n, (w, h) in enumerate(SIZES)
    ]
    anns = []
    for n, boxes in enumerate(BOXES.values()):
        for name, x, y, w, h in boxes:
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": 100 + n,
                    "category_id": cat_id[name],
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
    return {"images": images, "annotations": anns, "categories": CATEGORIES}


def write_coco(root: Path, doc: dict[str, Any] | None = None) -> Path:
    """``root/images/*.png`` and ``root/instances_train.json`` (images found beside it)."""
    write_images(root / "images")
    path = root / "instances_train.json"
    path.write_text(json.dumps(doc or coco_doc()))
    return path


def write_yolo(root: Path, lines: dict[str, str] | None = None) -> Path:
    write_images(root / "images")
    (root / "labels").mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("cat\ndog\n")
    names = ["cat", "dog"]
    for n, (key, boxes) in enumerate(BOXES.items()):
        w_img, h_img = SIZES[n]
        text = "".join(
            f"{names.index(c)} {(x + w / 2) / w_img} {(y + h / 2) / h_img} {w / w_img} "
            f"{h / h_img}\n"
            for c, x, y, w, h in boxes
        )
        (root / "labels" / key.replace(".png", ".txt")).write_text((lines or {}).get(key, text))
    return root


def voc_xml(key: str, size: tuple[int, int] | None, boxes: list[Any]) -> str:
    objects = "".join(
        f"<object><name>{c}</name><bndbox><xmin>{x}</xmin><ymin>{y}</ymin>"
        f"<xmax>{x + w}</xmax><ymax>{y + h}</ymax></bndbox></object>"
        for c, x, y, w, h in boxes
    )
    size_xml = (
        f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>1</depth></size>"
        if size
        else ""
    )
    return f"<annotation><filename>{key}</filename>{size_xml}{objects}</annotation>"


def write_voc(root: Path, override: dict[str, str] | None = None) -> Path:
    write_images(root / "JPEGImages")
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    for n, (key, boxes) in enumerate(BOXES.items()):
        text = (override or {}).get(key) or voc_xml(key, SIZES[n], boxes)
        (root / "Annotations" / key.replace(".png", ".xml")).write_text(text)
    return root


def expected(key: str) -> list[tuple[str, float, float, float, float]]:
    return [(c, float(x), float(y), float(w), float(h)) for c, x, y, w, h in BOXES[key]]


def boxes_of(value: list[dict[str, Any]]) -> list[tuple[str, float, float, float, float]]:
    return [(b["class"], b["x"], b["y"], b["w"], b["h"]) for b in value]
