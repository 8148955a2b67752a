"""Import images held in memory as arrays (the demo's digits, IDX files such as MNIST).

Small images are kept in the store itself as PNG bytes, so the project needs no media folder.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from PIL import Image

from assay.ingest.staging import ImportJob, ImportResult, content_hash
from assay.progress import ProgressCallback, no_progress
from assay.store import Store


def image_row(
    pixels: np.ndarray, key: str, *, label: str | None, split: str | None
) -> dict[str, Any]:
    """The staged row of one image given as an (h, w) or (h, w, c) uint8 array."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", optimize=False, compress_level=1)
    height, width = pixels.shape[:2]
    return {
        "external_key": key,
        "kind": "image",
        "split": split,
        "content_hash": content_hash(str(pixels.shape), pixels.tobytes()),
        "width": int(width),
        "height": int(height),
        "channels": 1 if pixels.ndim == 2 else int(pixels.shape[2]),
        "pixel_mean": float(pixels.mean()),
        "pixel_std": float(pixels.std()),
        "label": label,
        "blob": buf.getvalue(),
    }


def import_arrays(
    store: Store,
    batches: Iterable[tuple[np.ndarray, Sequence[str | None]]],
    *,
    dataset: str,
    source: str,
    format: str,
    total: int | None = None,
    key_start: int = 0,
    splits: Iterator[str | None] | None = None,
    progress: ProgressCallback = no_progress,
    **job_options: Any,
) -> ImportResult:
    """Import batches of (images, labels); an item's key is its 0-based position overall."""
    with ImportJob(
        store,
        dataset,
        source=source,
        format=format,
        total=total,
        progress=progress,
        **job_options,
    ) as job:
        index = key_start
        for images, labels in batches:
            for pixels, label in zip(images, labels, strict=True):
                split = next(splits) if splits is not None else None
                job.add(image_row(pixels, str(index), label=label, split=split), where=index)
                index += 1
        return job.publish()
