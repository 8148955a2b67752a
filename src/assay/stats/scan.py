"""The scan of one partition (an id range) of a dataset: rows in, aggregators filled.

This is the unit of work that runs in this process or as a Dask task. Rows come from the
driver in id-ordered chunks (flat memory), without per-row ORM processing.
"""

from __future__ import annotations

import copy
import operator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.stats.aggregators import Categories, Count, DuplicateGroups, NumericSummary
from assay.stats.boxes import BoxLayerStats, scan_box_layer
from assay.store import Store, filters, queries
from assay.store import schema as t

IMAGE_NUMERIC = ("width", "height", "pixel_mean", "pixel_std")


@dataclass(frozen=True)
class ScanSpec:
    """What one partition task needs; picklable so Dask can ship it to a worker."""

    url: str
    dataset_id: int
    filter: str | None
    layers: tuple[tuple[int, str], ...]  # (layer id, layer name)
    classes: tuple[tuple[int, str], ...]  # (class id, class name)
    numeric: tuple[str, ...]  # tabular columns summarized as numbers
    categorical: tuple[str, ...]  # tabular columns summarized as categories
    kinds: tuple[str, ...]  # item kinds in the dataset: only their columns are read
    id_range: tuple[int, int]  # [low, high)
    box_layers: tuple[tuple[int, str], ...] = ()  # (layer id, name) of the box layers
    # More aggregators fed the same chunks (the data checks' per-row rules): empty
    # prototypes, copied per partition, merged in partition order like the rest.
    extra: tuple[ChunkAggregator, ...] = ()


class ChunkAggregator(Protocol):
    """An aggregator fed the scan's chunks of item columns, beside the inventory's own (the
    data checks validate rows with it while the inventory reads them, so a check costs no
    second read). Must pickle (partitions may run on other processes or a Dask cluster).

    ``add_chunk`` gets the chunk's columns by name (``id``, ``kind``, ``split``,
    ``content_hash``, and per kind: ``width``, ``height``, ``channels``, ``text_length``...),
    plus ``numbers`` (a float matrix, one column per numeric field of ``spec.numeric``) with
    ``numbers_ids`` (its rows' item ids), and ``fields`` (the parsed fields of the tabular
    rows) with ``fields_ids``, when the dataset has them.
    """

    def add_chunk(self, chunk: dict[str, Any], spec: ScanSpec) -> None: ...

    def merge(self, other: Any) -> Any: ...


@dataclass
class InventoryAggregate:
    """The mergeable state of an inventory: one aggregator per statistic."""

    items: Count = field(default_factory=Count)
    kinds: Categories = field(default_factory=Categories)
    splits: Categories = field(default_factory=Categories)
    layer_classes: dict[str, Categories] = field(default_factory=dict)
    layer_authors: dict[str, Categories] = field(default_factory=dict)
    #: Current labels per layer that hold a value of another kind than a class (tags, spans,
    #: numbers, boxes), as ``{"labeled": n}``: their coverage (their statistics are the kind's).
    layer_values: dict[str, Categories] = field(default_factory=dict)
    features: dict[str, NumericSummary] = field(default_factory=dict)
    categories: dict[str, Categories] = field(default_factory=dict)
    images: dict[str, NumericSummary] = field(default_factory=dict)
    image_sizes: Categories = field(default_factory=Categories)
    image_channels: Categories = field(default_factory=Categories)
    text_length: NumericSummary = field(default_factory=NumericSummary)
    duplicates: DuplicateGroups = field(default_factory=DuplicateGroups)
    box_layers: dict[str, BoxLayerStats] = field(default_factory=dict)
    extra: list[ChunkAggregator] = field(default_factory=list)

    def merge(self, other: InventoryAggregate) -> InventoryAggregate:
        """Merge another partition's state into this one (in place) and return self."""
        for name in ("items", "kinds", "splits", "image_sizes", "image_channels"):
            getattr(self, name).merge(getattr(other, name))
        self.text_length.merge(other.text_length)
        self.duplicates.merge(other.duplicates)
        pairs: tuple[tuple[dict[str, Any], dict[str, Any]], ...] = (
            (self.layer_classes, other.layer_classes),
            (self.layer_authors, other.layer_authors),
            (self.layer_values, other.layer_values),
            (self.features, other.features),
            (self.categories, other.categories),
            (self.images, other.images),
            (self.box_layers, other.box_layers),
        )
        for mine, theirs in pairs:
            for key, agg in theirs.items():
                if key in mine:
                    mine[key].merge(agg)
                else:
                    mine[key] = agg
        for mine_extra, theirs_extra in zip(self.extra, other.extra, strict=True):
            mine_extra.merge(theirs_extra)
        return self


def scan_partition(spec: ScanSpec, store: Store | None = None) -> InventoryAggregate:
    """Aggregate the items of one id range (opens its own store when run on a worker)."""
    own = store is None
    store = store or Store(spec.url)
    try:
        with store.read() as conn:
            return _scan(conn, spec)
    finally:
        if own:
            store.close()


def _scan(conn: Connection, spec: ScanSpec) -> InventoryAggregate:
    agg = InventoryAggregate(
        features={name: NumericSummary() for name in spec.numeric},
        categories={name: Categories() for name in spec.categorical},
        extra=[copy.deepcopy(prototype) for prototype in spec.extra],
    )
    where = filters.compile_filter(conn, spec.dataset_id, spec.filter)
    query = _scan_query(conn, spec, where)
    for rows in queries.iter_raw_chunks(conn, query, id_range=spec.id_range):
        _add_items(agg, rows, spec)
    _add_classes(conn, agg, spec, where)
    _add_authors(conn, agg, spec, where)
    for layer_id, layer in spec.box_layers:
        agg.box_layers[layer] = scan_box_layer(
            conn, spec.dataset_id, layer_id, where=where, id_range=spec.id_range
        )
    return agg


_BY_KIND = {
    "tabular": ("numbers", "fields"),
    "image": ("width", "height", "channels", "pixel_mean", "pixel_std"),
    "text": ("text_length",),
}


def _scan_columns(spec: ScanSpec) -> list[str]:
    """The item columns the statistics need for the kinds this dataset holds."""
    columns = ["id", "kind", "split", "content_hash"]
    for kind in spec.kinds:
        columns += _BY_KIND.get(kind, ())
    if not spec.numeric and "numbers" in columns:
        columns.remove("numbers")
    if not spec.categorical and "fields" in columns:  # numeric values come packed in `numbers`
        columns.remove("fields")
    return columns


def _scan_query(
    conn: Connection, spec: ScanSpec, where: sa.ColumnElement[bool] | None
) -> sa.Select[Any]:
    i = t.items.c
    columns: list[Any] = [i[name] for name in _scan_columns(spec)]
    if "fields" in _scan_columns(spec) and conn.dialect.name == "postgresql":
        # psycopg would decode the json; it is parsed here, only for the rows that need it.
        columns[_scan_columns(spec).index("fields")] = sa.cast(i.fields, sa.Text)
    query = sa.select(*columns).where(i.dataset_id == spec.dataset_id)
    return query if where is None else query.where(where)


def _add_items(agg: InventoryAggregate, rows: list[tuple[Any, ...]], spec: ScanSpec) -> None:
    col = dict(zip(_scan_columns(spec), zip(*rows, strict=True), strict=True))
    kind = col["kind"]
    kinds = np.array(kind, dtype=object)
    agg.items.add(kinds)
    agg.kinds.add(kinds)
    agg.splits.add(np.array([s if s is not None else "(none)" for s in col["split"]], object))
    agg.duplicates.add((col["id"], col["content_hash"]))
    present = set(kind)
    if "image" in present:
        is_image = kinds == "image"
        for name in IMAGE_NUMERIC:
            values = np.array(col[name], dtype=float)[is_image]
            agg.images.setdefault(name, NumericSummary()).add(values)
        sizes = [
            f"{w}x{h}"
            for w, h, k in zip(col["width"], col["height"], kind, strict=True)
            if k == "image"
        ]
        agg.image_sizes.add(np.array(sizes, dtype=object))
        agg.image_channels.add(np.array(col["channels"], dtype=object)[is_image].astype(str))
    if "text" in present:
        lengths = np.array(col["text_length"], dtype=float)
        agg.text_length.add(lengths[~np.isnan(lengths)])
    chunk: dict[str, Any] = col
    if "numbers" in col:
        matrix = _add_numbers(agg, [b for b in col["numbers"] if b is not None], spec)
        if agg.extra:
            chunk = {**chunk, "numbers": matrix}
            chunk["numbers_ids"] = [
                i for i, b in zip(col["id"], col["numbers"], strict=True) if b is not None
            ]
    if "fields" in col and "tabular" in present:
        loads = orjson.loads
        parsed = [loads(f) for f, k in zip(col["fields"], kind, strict=True) if k == "tabular"]
        _add_categories(agg, parsed, spec)
        if agg.extra:
            chunk = {**chunk, "fields": parsed}
            chunk["fields_ids"] = [
                i for i, k in zip(col["id"], kind, strict=True) if k == "tabular"
            ]
    for extra in agg.extra:
        extra.add_chunk(chunk, spec)


def _add_numbers(agg: InventoryAggregate, packed: list[bytes], spec: ScanSpec) -> np.ndarray:
    if not packed:
        return np.empty((0, len(spec.numeric)))
    matrix = np.frombuffer(b"".join(packed), dtype="<f8").reshape(-1, len(spec.numeric))
    for j, name in enumerate(spec.numeric):
        agg.features[name].add(matrix[:, j])
    return matrix


def _add_categories(agg: InventoryAggregate, fields: list[dict[str, Any]], spec: ScanSpec) -> None:
    if spec.categorical:
        values = _columns(fields, spec.categorical)
        for j, name in enumerate(spec.categorical):
            column = ["(missing)" if row[j] is None else str(row[j]) for row in values]
            agg.categories[name].add(np.array(column, dtype=object))


def _columns(fields: list[dict[str, Any]], names: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """The named values of every row, as tuples (None where a row lacks a name)."""
    get = operator.itemgetter(*names)
    try:
        rows = [get(f) for f in fields]
    except KeyError:
        rows = [tuple(f.get(n) for n in names) for f in fields]
    return rows if len(names) > 1 else [(v,) for v in rows]


def _in_partition(spec: ScanSpec, where: sa.ColumnElement[bool] | None) -> sa.ColumnElement[bool]:
    i = t.items.c
    cond = sa.and_(
        i.dataset_id == spec.dataset_id, i.id >= spec.id_range[0], i.id < spec.id_range[1]
    )
    return cond if where is None else sa.and_(cond, where)


def _add_classes(
    conn: Connection, agg: InventoryAggregate, spec: ScanSpec, where: sa.ColumnElement[bool] | None
) -> None:
    """Current class counts per layer, one ``GROUP BY`` per layer over the partition.

    Without a filter the label heads alone answer it (a covering index range); with one,
    they are joined to the items the filter selects.
    """
    names = dict(spec.classes)
    h = t.label_heads.c
    for layer_id, layer in spec.layers:
        query = sa.select(h.class_id, sa.func.count()).where(
            h.layer_id == layer_id, h.class_id.is_not(None)
        )
        if where is None:
            query = query.where(h.item_id >= spec.id_range[0], h.item_id < spec.id_range[1])
        else:
            query = query.join(t.items, t.items.c.id == h.item_id).where(_in_partition(spec, where))
        counts = {names[c]: int(n) for c, n in conn.execute(query.group_by(h.class_id))}
        agg.layer_classes.setdefault(layer, Categories()).add_counts(counts)
        # Labels that are values, not classes: counted for the layer's coverage.
        values = (
            sa.select(sa.func.count())
            .select_from(t.label_heads.join(t.labels, t.labels.c.id == h.label_id))
            .where(h.layer_id == layer_id, h.class_id.is_(None), t.labels.c.value.is_not(None))
        )
        if where is None:
            values = values.where(h.item_id >= spec.id_range[0], h.item_id < spec.id_range[1])
        else:
            values = values.join(t.items, t.items.c.id == h.item_id).where(
                _in_partition(spec, where)
            )
        n_values = int(conn.execute(values).scalar_one())
        if n_values:
            agg.layer_values.setdefault(layer, Categories()).add_counts({"labeled": n_values})


def _add_authors(
    conn: Connection, agg: InventoryAggregate, spec: ScanSpec, where: sa.ColumnElement[bool] | None
) -> None:
    """How many labels each author wrote per layer, on the partition's items (one query)."""
    lab = t.labels.c
    query = sa.select(lab.layer_id, lab.author, sa.func.count()).group_by(lab.layer_id, lab.author)
    if where is None:  # labels of the partition's items: an index range, no join
        query = query.where(lab.item_id >= spec.id_range[0], lab.item_id < spec.id_range[1])
    else:
        query = query.join(t.items, t.items.c.id == lab.item_id).where(_in_partition(spec, where))
    names = dict(spec.layers)
    for _, layer in spec.layers:
        agg.layer_authors.setdefault(layer, Categories())
    for layer_id, author, n in conn.execute(query):
        agg.layer_authors[names[layer_id]].add_counts({author: n})
