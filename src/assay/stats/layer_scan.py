"""One layer of a dataset scanned per partition, as the inventory is: what the statistics of
every annotation kind that keeps JSON values (boxes, tags, numbers) share.

A kind brings a mergeable aggregator with ``add(chunk)`` (a chunk of
``(item_id, width, height, value)`` rows in id order, value the item's current label in the
layer as JSON text or None), ``merge`` and ``result``. :func:`partitioned_statistics` splits
the dataset's id range into the inventory's partitions, scans each (here, one after another,
or as tasks on a Dask cluster) and merges them in order, so the answer is the same either way
and memory stays flat whatever the number of items.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store import Store, filters, queries
from assay.store import schema as t

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

__all__ = [
    "CHUNK_ROWS",
    "LayerAggregator",
    "LayerScanSpec",
    "iter_layer_values",
    "kind_layer",
    "partitioned_statistics",
    "scan_layer",
]

#: Items read per chunk: a tenth of the inventory's, since each carries a value as JSON
#: (5,000 images of 10 boxes: 50,000 boxes in memory at once).
CHUNK_ROWS = 5_000


class LayerAggregator(Protocol):
    """What a kind's statistics of one layer must do to be scanned per partition."""

    def add(self, rows: Any) -> Self: ...

    def merge(self, other: Self) -> Self: ...


def iter_layer_values(
    conn: Connection,
    dataset_id: int,
    layer_id: int,
    *,
    where: sa.ColumnElement[bool] | None = None,
    id_range: tuple[int, int] | None = None,
    annotated_only: bool = False,
    item_columns: tuple[str, ...] = ("width", "height"),
) -> Iterator[list[tuple[Any, ...]]]:
    """Chunks of ``(item_id, width, height, value)`` for the items ``where`` selects, in id
    order: ``value`` the item's current label in the layer as JSON text (None: not annotated,
    or cleared). With ``annotated_only``, only the items the layer annotates;
    ``item_columns`` names the item's columns between id and value (spans read ``text``)."""
    i, h, lab = t.items.c, t.label_heads.c, t.labels.c
    value: Any = lab.value
    if conn.dialect.name == "postgresql":  # psycopg would decode it; orjson parses it faster
        value = sa.cast(lab.value, sa.Text)
    joined = sa.and_(h.item_id == i.id, h.layer_id == layer_id)
    # Chained joins (not items to a joined pair): SQLite would materialize the pair and scan
    # it for every item; this way each item is one primary-key probe of heads, then of labels.
    if annotated_only:
        source = t.items.join(t.label_heads, joined).join(t.labels, lab.id == h.label_id)
    else:
        source = t.items.outerjoin(t.label_heads, joined).outerjoin(t.labels, lab.id == h.label_id)
    query = (
        sa.select(i.id, *(i[c] for c in item_columns), value)
        .select_from(source)
        .where(i.dataset_id == dataset_id)
    )
    if where is not None:
        query = query.where(where)
    yield from queries.iter_raw_chunks(conn, query, id_range=id_range, chunk_size=CHUNK_ROWS)


A = TypeVar("A", bound=LayerAggregator)


def scan_layer(
    conn: Connection,
    dataset_id: int,
    layer_id: int,
    stats: A,
    *,
    where: sa.ColumnElement[bool] | None = None,
    id_range: tuple[int, int] | None = None,
) -> A:
    """``stats`` fed every chunk of one layer over one partition (or all of it)."""
    for rows in iter_layer_values(conn, dataset_id, layer_id, where=where, id_range=id_range):
        stats.add(rows)
    return stats


@dataclass(frozen=True)
class LayerScanSpec:
    """One partition of a layer's statistics; picklable so Dask can ship it (``make`` is a
    class or a module-level function, called with ``args`` for a fresh aggregator)."""

    url: str
    dataset_id: int
    filter: str | None
    layer_id: int
    id_range: tuple[int, int]
    make: Callable[..., Any]
    args: tuple[Any, ...] = ()


def scan_partition(spec: LayerScanSpec, store: Store | None = None) -> Any:
    """The statistics of one partition (opens its own store when run on a worker)."""
    own = store is None
    store = store or Store(spec.url)
    try:
        with store.read() as conn:
            where = filters.compile_filter(conn, spec.dataset_id, spec.filter)
            return scan_layer(
                conn,
                spec.dataset_id,
                spec.layer_id,
                spec.make(*spec.args),
                where=where,
                id_range=spec.id_range,
            )
    finally:
        if own:
            store.close()


def kind_layer(dataset: Dataset, layer: str, kind: str, refusal: str) -> Any:
    """The row of ``layer``; InvalidParameter (``refusal``, after the layer's name and kind)
    when its annotation kind is not ``kind``, LayerNotFound when there is no such layer."""
    from assay.errors import InvalidParameter

    with dataset.store.read() as conn:
        row = queries.get_layer(conn, dataset.id, layer)
    if row.value_kind != kind:
        raise InvalidParameter(f"Layer {layer!r} holds {row.value_kind} labels, {refusal}")
    return row


def partitioned_statistics(
    dataset: Dataset,
    layer_row: Any,
    filter: str | None,
    make: Callable[..., Any],
    args: tuple[Any, ...] = (),
    *,
    dask: Any = None,
    partition_rows: int | None = None,
) -> Any:
    """A fresh ``make(*args)`` fed the layer over the dataset or the slice ``filter``
    selects: the inventory's partitions, run here one after another or on a Dask cluster
    (``dask``: an address or a Client), merged in order."""
    from assay.stats.distributed import connect, merge_pair, reduce_partitions, tree_reduce
    from assay.stats.inventory import PARTITION_ROWS, plan

    parts = plan(dataset, filter, partition_rows or PARTITION_ROWS)
    specs = [
        LayerScanSpec(
            dataset.store.url, dataset.id, filter, int(layer_row.id), p.id_range, make, args
        )
        for p in parts
    ]
    if not specs:
        return make(*args)
    if isinstance(dask, str):
        with connect(dask) as client:
            return reduce_partitions(scan_partition, specs, client=client)
    if dask is not None:
        return reduce_partitions(scan_partition, specs, client=dask)
    return tree_reduce((scan_partition(s, dataset.store) for s in specs), merge_pair)
