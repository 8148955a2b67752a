"""Statistics of a box layer (object detection), from mergeable aggregators.

A box layer holds, per image, the whole set of its boxes as JSON (``labels.value``; see
:mod:`assay.labels.kinds.boxes`). :class:`BoxLayerStats` summarises one layer over the items of
a slice: how many images are annotated (with boxes, or looked at and left empty ``[]``) and how
many are not, boxes per image, box sizes in pixels and relative to their image, aspect
ratios, the class balance of the boxes, COCO's small/medium/large split, boxes touching the
image's edge and, for predictions, their scores. Every part is an exact aggregator of
:mod:`assay.stats.aggregators` with fixed bins, so a summary of two halves merged equals the
summary of the whole, bit for bit: the inventory's partition scan (``stats.scan``) runs it per
id range, in this process, in local processes or on a Dask cluster, and merges.

Rows are read straight from the driver in id-ordered chunks
(:func:`assay.stats.layer_scan.iter_layer_values`), and
each chunk's boxes are turned into numpy columns once, so memory stays flat whatever the
number of boxes.
"""

from __future__ import annotations

import operator
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.stats.aggregators import Aggregator, Categories, Histogram, MinMax, Moments
from assay.stats.layer_scan import kind_layer, partitioned_statistics, scan_layer

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

__all__ = [
    "EDGE_MARGIN",
    "BoxLayerStats",
    "box_layer_names",
    "box_statistics",
    "scan_box_layer",
]

VALUE_KIND = "boxes"
#: A box "touches the edge" when one of its sides is within this many pixels of the image's
#: border (annotation tools round corners; a box cut by the frame sits on it).
EDGE_MARGIN = 1.0
#: Bins of box width and height in pixels: half-octaves from 1 to 16,384 px (sizes span
#: orders of magnitude, so equal-width bins would put every box in the first one).
PIXEL_EDGES = tuple(float(2 ** (k / 2)) for k in range(29))
#: Bins of box area in square pixels: octaves from 1 to 2**28.
AREA_EDGES = tuple(float(2**k) for k in range(29))
#: Bins of a size relative to its image (width / image width, ...): 20 equal bins of [0, 1].
RELATIVE_EDGES = tuple(round(k / 20, 10) for k in range(21))
#: Bins of aspect ratio (width / height): quarter-octaves from 1/16 to 16, symmetric around 1.
ASPECT_EDGES = tuple(float(2 ** (k / 4)) for k in range(-16, 17))
#: Bins of a prediction's score.
SCORE_EDGES = RELATIVE_EDGES
#: COCO's size classes, by area in square pixels: small < 32², medium < 96², large above.
COCO_SMALL, COCO_MEDIUM = 32.0**2, 96.0**2
_CORNERS = operator.itemgetter("x", "y", "w", "h")
_CLASS = operator.itemgetter("class")
#: Boxes per image: exact counts per number of boxes (at most MAX_BOXES distinct values).
PER_IMAGE_BINS = 30


@dataclass
class _Numeric:
    """An exact numeric summary with fixed bins: count, mean, min, max and a histogram."""

    edges: tuple[float, ...]
    moments: Moments = field(default_factory=Moments)
    minmax: MinMax = field(default_factory=MinMax)
    histogram: Histogram | None = None

    def __post_init__(self) -> None:
        if self.histogram is None:
            self.histogram = Histogram(self.edges)

    def add(self, values: np.ndarray) -> None:
        if values.size:
            self.moments.add(values)
            self.minmax.add(values)
            assert self.histogram is not None
            self.histogram.add(values)

    def merge(self, other: _Numeric) -> None:
        self.moments.merge(other.moments)
        self.minmax.merge(other.minmax)
        assert self.histogram is not None and other.histogram is not None
        self.histogram.merge(other.histogram)

    def result(self) -> dict[str, Any]:
        assert self.histogram is not None
        hist = self.histogram.result()
        return {
            "count": self.moments.n,
            "mean": self.moments.result()["mean"],
            **self.minmax.result(),
            "histogram": {"edges": hist["edges"], "counts": hist["counts"]},
            "below": hist["below"],
            "above": hist["above"],
        }


class BoxLayerStats(Aggregator):
    """The mergeable summary of one box layer over the items of a slice.

    ``add`` takes a chunk of rows ``(item_id, width, height, value)``, one per item of the
    slice, where ``value`` is the item's current boxes (JSON text, bytes or a list; None when
    the layer does not annotate the item).
    """

    def __init__(self) -> None:
        self.n_items = 0
        self.n_annotated = 0
        self.n_empty = 0
        self.n_boxes = 0
        self.n_touching = 0
        self.n_unknown_size = 0  # boxes of images whose size is not known
        self.per_image = Categories()  # boxes per annotated image -> images
        self.classes = Categories()  # boxes per class
        self.images_per_class = Categories()  # images with at least one box of the class
        self.coco_sizes = Categories()
        self.width = _Numeric(PIXEL_EDGES)
        self.height = _Numeric(PIXEL_EDGES)
        self.area = _Numeric(AREA_EDGES)
        self.rel_width = _Numeric(RELATIVE_EDGES)
        self.rel_height = _Numeric(RELATIVE_EDGES)
        self.rel_area = _Numeric(RELATIVE_EDGES)
        self.aspect = _Numeric(ASPECT_EDGES)
        self.scores = _Numeric(SCORE_EDGES)

    def _numeric(self) -> tuple[_Numeric, ...]:
        return (
            self.width, self.height, self.area, self.rel_width, self.rel_height, self.rel_area,
            self.aspect, self.scores,
        )  # fmt: skip

    def add(self, batch: Any) -> Self:
        """Fold in a chunk of ``(item_id, width, height, value)`` rows."""
        loads = orjson.loads
        corners = _CORNERS
        klass = _CLASS
        per_image: list[int] = []
        coords: list[tuple[float, float, float, float]] = []
        names: list[str] = []
        sizes: list[tuple[float, float, int]] = []  # (image width, height, its box count)
        scores: list[float] = []
        present: Counter[str] = Counter()
        nan = float("nan")
        for _, width, height, value in batch:
            self.n_items += 1
            if value is None:
                continue
            boxes = loads(value) if isinstance(value, str | bytes) else value
            if boxes is None:
                continue
            n = len(boxes)
            per_image.append(n)
            if not n:
                continue
            # map/extend run per image in C; a Python loop per box was most of the time.
            coords.extend(map(corners, boxes))
            start = len(names)
            names.extend(map(klass, boxes))
            present.update(set(names[start:]))
            sizes.append((nan if width is None else width, nan if height is None else height, n))
            if any("score" in b for b in boxes):
                scores.extend(b["score"] for b in boxes if b.get("score") is not None)
        self.n_annotated += len(per_image)
        counts = np.asarray(per_image, dtype=np.int64)
        self.n_empty += int(np.count_nonzero(counts == 0))
        self.per_image.add(counts)
        if names:
            xywh = np.asarray(coords, dtype=np.float64)
            image = np.asarray(sizes, dtype=np.float64)
            repeat = image[:, 2].astype(np.int64)
            self._add_boxes(xywh, np.repeat(image[:, 0], repeat), np.repeat(image[:, 1], repeat))
            # Counter tallies a million strings far faster than a pandas value_counts.
            self.classes.add_counts(Counter(names))
            self.images_per_class.add_counts(present)
        if scores:
            self.scores.add(np.asarray(scores, dtype=np.float64))
        return self

    def _add_boxes(self, xywh: np.ndarray, iw: np.ndarray, ih: np.ndarray) -> None:
        x, y, w, h = xywh.T
        area = w * h
        self.n_boxes += int(w.size)
        self.width.add(w)
        self.height.add(h)
        self.area.add(area)
        self.aspect.add(w / h)
        small = int(np.count_nonzero(area < COCO_SMALL))
        medium = int(np.count_nonzero(area < COCO_MEDIUM)) - small
        large = int(w.size) - small - medium
        self.coco_sizes.add_counts(
            {k: v for k, v in (("small", small), ("medium", medium), ("large", large)) if v}
        )
        known = ~(np.isnan(iw) | np.isnan(ih)) & (iw > 0) & (ih > 0)
        self.n_unknown_size += int(np.count_nonzero(~known))
        if known.any():
            x, y, w, h, iw, ih = (a[known] for a in (x, y, w, h, iw, ih))
            self.rel_width.add(w / iw)
            self.rel_height.add(h / ih)
            self.rel_area.add(w * h / (iw * ih))
            touching = (
                (x <= EDGE_MARGIN)
                | (y <= EDGE_MARGIN)
                | (x + w >= iw - EDGE_MARGIN)
                | (y + h >= ih - EDGE_MARGIN)
            )
            self.n_touching += int(np.count_nonzero(touching))

    def merge(self, other: Self) -> Self:
        """Fold another summary of the same layer in (in place)."""
        self._check_mergeable(other)
        for name in ("n_items", "n_annotated", "n_empty", "n_boxes", "n_touching"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.n_unknown_size += other.n_unknown_size
        for name in ("per_image", "classes", "images_per_class", "coco_sizes"):
            getattr(self, name).merge(getattr(other, name))
        for mine, theirs in zip(self._numeric(), other._numeric(), strict=True):
            mine.merge(theirs)
        return self

    def result(self) -> dict[str, Any]:
        """The figures as plain JSON (see the module's docstring for what each means)."""
        n_boxes = self.n_boxes
        classes = dict(self.classes.result()["counts"])
        per_image = {int(k): v for k, v in self.per_image.counts.items()}
        out: dict[str, Any] = {
            "value_kind": VALUE_KIND,
            "n_items": self.n_items,
            "n_annotated": self.n_annotated,
            "n_with_boxes": self.n_annotated - self.n_empty,
            "n_empty": self.n_empty,
            "n_not_annotated": self.n_items - self.n_annotated,
            "coverage": self.n_annotated / self.n_items if self.n_items else 0.0,
            "n_boxes": n_boxes,
            "boxes_per_image": {
                "mean": n_boxes / self.n_annotated if self.n_annotated else None,
                "max": max(per_image, default=None),
                "counts": {str(k): per_image[k] for k in sorted(per_image)},
                "histogram": _per_image_histogram(per_image),
            },
            "classes": classes,
            "class_shares": {c: n / n_boxes for c, n in classes.items()} if n_boxes else {},
            "images_per_class": dict(self.images_per_class.result()["counts"]),
            "width": self.width.result(),
            "height": self.height.result(),
            "area": self.area.result(),
            "relative": {
                "width": self.rel_width.result(),
                "height": self.rel_height.result(),
                "area": self.rel_area.result(),
            },
            "aspect_ratio": self.aspect.result(),
            "coco_sizes": {
                k: self.coco_sizes.counts.get(k, 0) for k in ("small", "medium", "large")
            },
            "n_touching_edge": self.n_touching,
            "touching_edge_share": self.n_touching / n_boxes if n_boxes else 0.0,
            "n_unknown_size": self.n_unknown_size,
        }
        if self.scores.moments.n:
            out["scores"] = self.scores.result()
        return out


def _per_image_histogram(per_image: dict[int, int]) -> dict[str, list[Any]]:
    """Images per number of boxes as a histogram: one bin per count ``[n, n + 1)`` up to
    ``PER_IMAGE_BINS`` distinct counts, else equal-width integer bins from 0 to the maximum."""
    if not per_image:
        return {"edges": [], "counts": []}
    top = max(per_image) + 1
    step = max(1, -(-top // PER_IMAGE_BINS))
    edges = list(range(0, top + step, step))
    counts = [0] * (len(edges) - 1)
    for n, images in per_image.items():
        counts[n // step] += images
    return {"edges": edges, "counts": counts}


def scan_box_layer(
    conn: Connection,
    dataset_id: int,
    layer_id: int,
    *,
    where: sa.ColumnElement[bool] | None = None,
    id_range: tuple[int, int] | None = None,
) -> BoxLayerStats:
    """The statistics of one box layer over the items of one partition (or all of them)."""
    return scan_layer(conn, dataset_id, layer_id, BoxLayerStats(), where=where, id_range=id_range)


def box_layer_names(layers: Any) -> tuple[tuple[int, str], ...]:
    """(id, name) of the box layers among layer rows."""
    return tuple((r.id, r.name) for r in layers if r.value_kind == VALUE_KIND)


def box_statistics(
    dataset: Dataset,
    layer: str,
    filter: str | None = None,
    *,
    dask: Any = None,
    partition_rows: int | None = None,
) -> dict[str, Any]:
    """The statistics of box layer ``layer`` over the dataset or the slice ``filter`` selects,
    as JSON (``name``, ``kind``, ``owner`` and :meth:`BoxLayerStats.result`).

    The id range is split into the inventory's partitions, which run one after another here
    or as tasks on a Dask cluster (``dask``: an address or a Client) and are merged in order.

    Raises
    ------
    LayerNotFound
        No such layer.
    InvalidParameter
        The layer is not a box layer, or the filter is bad.
    """
    row = kind_layer(
        dataset,
        layer,
        VALUE_KIND,
        "not boxes: box statistics are for box layers (its class balance is in `assay stats`).",
    )
    stats = partitioned_statistics(
        dataset, row, filter, BoxLayerStats, dask=dask, partition_rows=partition_rows
    )
    return {"name": row.name, "kind": row.kind, "owner": row.owner, **stats.result()}
