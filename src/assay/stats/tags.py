"""Statistics of a tag layer (multi-label), from mergeable counts.

A tag layer holds, per item, its set of tags as JSON (:mod:`assay.labels.kinds.tags`).
:class:`TagLayerStats` summarises one layer over the items of a slice: how many items are
annotated (with tags, or looked at and left empty ``[]``) and how many are not, how often each
tag is given, how often two tags are given together (co-occurrence) and how many tags an item
carries. Every part is an exact count, so the summary of two halves merged equals that of the
whole: the layer is scanned per id range like the inventory (here, or on a Dask cluster) and
merged. Rows come in id-ordered chunks (:func:`assay.stats.layer_scan.iter_layer_values`), so
memory stays flat whatever the number of items.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any, Self

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.stats.layer_scan import kind_layer, partitioned_statistics, scan_layer
from assay.store import queries

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

__all__ = ["TagLayerStats", "scan_tag_layer", "tag_statistics"]

VALUE_KIND = "tags"


@dataclass
class TagLayerStats:
    """Exact, mergeable counts of one tag layer (see the module doc)."""

    n_items: int = 0
    n_annotated: int = 0
    n_empty: int = 0
    tags: Counter[str] = field(default_factory=Counter)
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    per_item: Counter[int] = field(default_factory=Counter)

    def add(self, rows: Any) -> Self:
        """Count a chunk of ``(item_id, width, height, value)`` rows (value: JSON or None)."""
        for row in rows:
            self.n_items += 1
            value = row[3]
            if value is None:
                continue
            tags = orjson.loads(value) if isinstance(value, str | bytes) else value
            if tags is None:
                continue
            self.n_annotated += 1
            self.per_item[len(tags)] += 1
            if not tags:
                self.n_empty += 1
                continue
            self.tags.update(tags)
            if len(tags) > 1:
                self.pairs.update(combinations(sorted(tags), 2))
        return self

    def merge(self, other: Self) -> Self:
        self.n_items += other.n_items
        self.n_annotated += other.n_annotated
        self.n_empty += other.n_empty
        self.tags.update(other.tags)
        self.pairs.update(other.pairs)
        self.per_item.update(other.per_item)
        return self

    def result(self, order: list[str] | None = None) -> dict[str, Any]:
        """As JSON: ``tags`` (tag -> items, in ``order`` then by name), ``tag_shares`` (of the
        annotated items), ``cooccurrence`` (a tag x tag matrix of items with both, the
        diagonal the tag's own count), ``tags_per_item`` (counts per number of tags, mean,
        max) and the counts of items annotated, empty and not annotated."""
        known = [t for t in (order or []) if t in self.tags]
        names = known + sorted(set(self.tags) - set(known))
        index = {t: k for k, t in enumerate(names)}
        matrix = [[0] * len(names) for _ in names]
        for t, n in self.tags.items():
            matrix[index[t]][index[t]] = n
        for (a, b), n in self.pairs.items():
            matrix[index[a]][index[b]] = matrix[index[b]][index[a]] = n
        total = sum(k * n for k, n in self.per_item.items())
        annotated = self.n_annotated
        return {
            "n_items": self.n_items,
            "n_annotated": annotated,
            "n_empty": self.n_empty,
            "n_not_annotated": self.n_items - annotated,
            "n_tags": total,
            "tags": {t: self.tags[t] for t in names},
            "tag_shares": {t: self.tags[t] / annotated if annotated else 0.0 for t in names},
            "cooccurrence": {"tags": names, "counts": matrix},
            "tags_per_item": {
                "counts": {str(k): self.per_item[k] for k in sorted(self.per_item)},
                "mean": total / annotated if annotated else None,
                "max": max(self.per_item, default=None),
            },
        }


def scan_tag_layer(
    conn: Connection,
    dataset_id: int,
    layer_id: int,
    *,
    where: sa.ColumnElement[bool] | None = None,
    id_range: tuple[int, int] | None = None,
) -> TagLayerStats:
    """The counts of one tag layer over the items of one partition (or all of them)."""
    return scan_layer(conn, dataset_id, layer_id, TagLayerStats(), where=where, id_range=id_range)


def tag_statistics(
    dataset: Dataset,
    layer: str,
    filter: str | None = None,
    *,
    dask: Any = None,
    partition_rows: int | None = None,
) -> dict[str, Any]:
    """The statistics of tag layer ``layer`` over the dataset or the slice ``filter``
    selects, as JSON (``name``, ``kind``, ``owner`` and :meth:`TagLayerStats.result`), its
    partitions run here or on a Dask cluster (``dask``: an address or a Client) and merged.
    InvalidParameter when the layer holds no tags."""
    row = kind_layer(dataset, layer, VALUE_KIND, "not tags: tag statistics are for tag layers.")
    with dataset.store.read() as conn:
        classes = [c.name for c in queries.list_classes(conn, dataset.id)]
    stats = partitioned_statistics(
        dataset, row, filter, TagLayerStats, dask=dask, partition_rows=partition_rows
    )
    return {"name": row.name, "kind": row.kind, "owner": row.owner, **stats.result(classes)}
