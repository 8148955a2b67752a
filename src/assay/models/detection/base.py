"""What a built-in detector is, which ones there are, and the images they see.

A detector learns boxes from images: ``fit(images, box_lists, classes) -> self`` and
``predict(images) -> box lists``, where ``images`` is a list of grayscale uint8 arrays
(height x width, sizes may differ), a box list holds ``{"class", "x", "y", "w", "h"}`` dicts
in pixels (top-left origin, as COCO and :mod:`assay.labels.kinds.boxes`) and predicted boxes
add a ``score`` in [0, 1]. Predictions keep low-scored boxes too (down to
:data:`SCORE_FLOOR`): label-quality checks and precision-recall curves need them, and a
consumer picks its own threshold.

Built-ins (``--model``): ``centernet`` (a small CenterNet in plain PyTorch, the ``torch``
extra) and ``components`` (classical blob proposals and a scikit-learn classifier, no torch;
for clean backgrounds). ``auto`` is centernet when torch imports, else components.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import sqlalchemy as sa

from assay.errors import InvalidParameter
from assay.store import schema as t

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = [
    "DETECTORS",
    "MAX_PREDICTED",
    "SCORE_FLOOR",
    "Detector",
    "clip_box",
    "load_images",
    "make_detector",
    "resolve_detector",
]

#: Predicted boxes scored below this are dropped (they carry no signal, only bulk).
SCORE_FLOOR = 0.05
#: At most this many predicted boxes per image, the best scored kept.
MAX_PREDICTED = 100
DETECTORS = ("centernet", "components")

Box = dict[str, Any]


class Detector(Protocol):
    """A detector: learns boxes from grayscale images, predicts scored boxes."""

    def fit(
        self,
        images: Sequence[np.ndarray],
        box_lists: Sequence[Sequence[Mapping[str, Any]]],
        classes: Sequence[str],
    ) -> Detector: ...

    def predict(self, images: Sequence[np.ndarray]) -> list[list[Box]]: ...


def torch_available() -> bool:
    """True when ``import torch`` works (the ``torch`` extra is installed)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_detector(model: Any) -> str:
    """The detector a name stands for (``auto``: centernet with torch, else components), or
    InvalidParameter for a name that is a classifier's."""
    if model == "auto":
        return "centernet" if torch_available() else "components"
    if model in DETECTORS:
        if model == "centernet" and not torch_available():
            raise InvalidParameter(
                "The centernet detector needs PyTorch: pip install 'assay[torch]', or use "
                "--model components."
            )
        return str(model)
    shown = model if isinstance(model, str) else type(model).__name__
    raise InvalidParameter(
        f"--model {shown} is a classifier: a box layer is learned by a detector, "
        f"{' or '.join(DETECTORS)} (or auto)."
    )


def make_detector(name: str, *, seed: int = 0, params: Mapping[str, Any] | None = None) -> Any:
    """An unfitted built-in detector; InvalidParameter names an unknown parameter."""
    resolved = resolve_detector(name)
    params = dict(params or {})
    if resolved == "components":
        from assay.models.detection.components import ComponentsDetector

        cls: Any = ComponentsDetector
    else:
        from assay.models.detection.centernet import CenterNetDetector

        cls = CenterNetDetector
    known = set(cls.PARAMS)
    unknown = sorted(set(params) - known)
    if unknown:
        raise InvalidParameter(
            f"Unknown parameter(s) {', '.join(unknown)} for the {resolved} detector; it takes "
            f"{', '.join(sorted(known))}."
        )
    return cls(seed=seed, **params)


def clip_box(
    x1: float, y1: float, x2: float, y2: float, width: int, height: int
) -> tuple[float, float, float, float] | None:
    """Corners clipped to the image, as (x, y, w, h) rounded to 0.01 px; None if empty."""
    x1, x2 = max(0.0, min(float(x1), width)), max(0.0, min(float(x2), width))
    y1, y2 = max(0.0, min(float(y1), height)), max(0.0, min(float(y2), height))
    w, h = round(x2 - x1, 2), round(y2 - y1, 2)
    if w < 1 or h < 1:
        return None
    return round(x1, 2), round(y1, 2), w, h


def top_boxes(boxes: list[Box]) -> list[Box]:
    """The boxes scored at least :data:`SCORE_FLOOR`, best first, at most
    :data:`MAX_PREDICTED`."""
    kept = [b for b in boxes if b["score"] >= SCORE_FLOOR]
    kept.sort(key=lambda b: -b["score"])
    return kept[:MAX_PREDICTED]


def load_images(conn: Connection, dataset_id: int, item_ids: Sequence[int]) -> list[np.ndarray]:
    """The images of ``item_ids`` as grayscale uint8 arrays, in that order; InvalidParameter
    naming an item that is not an image."""
    from PIL import Image

    from assay.models.featurizers import _read_media

    i, m = t.items.c, t.media_blobs.c
    found: dict[int, np.ndarray] = {}
    ids = [int(v) for v in item_ids]
    for start in range(0, len(ids), 1000):
        part = ids[start : start + 1000]
        rows = conn.execute(
            sa.select(i.id, i.kind, m.data, i.media_path)
            .select_from(t.items.outerjoin(t.media_blobs, m.item_id == i.id))
            .where(i.dataset_id == dataset_id, i.id.in_(part))
        ).all()
        for item_id, kind, blob, path in rows:
            if kind != "image":
                raise InvalidParameter(
                    f"Item {item_id} is a {kind} item: a detector needs images; leave it out "
                    "with --filter."
                )
            data = bytes(blob) if blob is not None else _read_media(int(item_id), path)
            with Image.open(io.BytesIO(data)) as im:
                found[int(item_id)] = np.asarray(im.convert("L"), dtype=np.uint8)
    missing = [k for k in ids if k not in found]
    if missing:
        raise InvalidParameter(f"Item {missing[0]} is not in this dataset.")
    return [found[k] for k in ids]
