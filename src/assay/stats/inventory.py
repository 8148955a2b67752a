"""The inventory of a dataset or a slice of it, built from mergeable aggregators.

One scan reads the items in id-ordered chunks (flat memory) and feeds aggregators; the scan
is split into id ranges ("partitions") that run one after another in this process, or as
tasks on a Dask cluster, and are merged in the same order, so both give the same answer.
Exact duplicates come from one indexed ``GROUP BY content_hash`` query instead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.progress import ProgressCallback, no_progress
from assay.stats.aggregators import Categories, Count, NumericSummary
from assay.stats.distributed import connect, reduce_partitions
from assay.stats.drift import categorical_psi, psi_from_summaries, total_variation
from assay.store import Store, filters, queries
from assay.store import schema as t

if TYPE_CHECKING:
    from assay.dataset import Dataset

PARTITION_ROWS = 200_000
DUPLICATE_EXAMPLES = 10
_IMAGE_NUMERIC = ("width", "height", "pixel_mean", "pixel_std")
_SCAN_COLUMNS = (
    t.items.c.kind,
    t.items.c.split,
    t.items.c.fields,
    t.items.c.width,
    t.items.c.height,
    t.items.c.channels,
    t.items.c.pixel_mean,
    t.items.c.pixel_std,
    t.items.c.text_length,
)


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
    id_range: tuple[int, int]  # [low, high)


@dataclass
class InventoryAggregate:
    """The mergeable state of an inventory: one aggregator per statistic."""

    items: Count = field(default_factory=Count)
    kinds: Categories = field(default_factory=Categories)
    splits: Categories = field(default_factory=Categories)
    layer_classes: dict[str, Categories] = field(default_factory=dict)
    layer_authors: dict[str, Categories] = field(default_factory=dict)
    features: dict[str, NumericSummary] = field(default_factory=dict)
    categories: dict[str, Categories] = field(default_factory=dict)
    images: dict[str, NumericSummary] = field(default_factory=dict)
    image_sizes: Categories = field(default_factory=Categories)
    image_channels: Categories = field(default_factory=Categories)
    text_length: NumericSummary = field(default_factory=NumericSummary)

    def merge(self, other: InventoryAggregate) -> InventoryAggregate:
        """Merge another partition's state into this one (in place) and return self."""
        self.items.merge(other.items)
        self.kinds.merge(other.kinds)
        self.splits.merge(other.splits)
        for mine, theirs in (
            (self.layer_classes, other.layer_classes),
            (self.layer_authors, other.layer_authors),
            (self.features, other.features),
            (self.categories, other.categories),
            (self.images, other.images),
        ):
            _merge_dicts(mine, theirs)
        self.image_sizes.merge(other.image_sizes)
        self.image_channels.merge(other.image_channels)
        self.text_length.merge(other.text_length)
        return self


def _merge_dicts(mine: dict[str, Any], theirs: dict[str, Any]) -> None:
    for key, agg in theirs.items():
        if key in mine:
            mine[key].merge(agg)
        else:
            mine[key] = agg


# -- the scan of one partition ---------------------------------------------------------------


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
    agg = InventoryAggregate()
    for name in spec.numeric:
        agg.features[name] = NumericSummary()
    for name in spec.categorical:
        agg.categories[name] = Categories()
    where = filters.compile_filter(conn, spec.dataset_id, spec.filter)
    for rows in queries.iter_item_chunks(
        conn, spec.dataset_id, _SCAN_COLUMNS, where, id_range=spec.id_range
    ):
        _add_items(agg, rows, spec)
        _add_labels(conn, agg, spec, where, rows[0].id, rows[-1].id)
    return agg


def _add_items(agg: InventoryAggregate, rows: list[Any], spec: ScanSpec) -> None:
    kinds = np.array([r.kind for r in rows], dtype=object)
    agg.items.add(kinds)
    agg.kinds.add(kinds)
    agg.splits.add(np.array([r.split if r.split is not None else "(none)" for r in rows], object))
    images = [r for r in rows if r.kind == "image"]
    if images:
        for name in _IMAGE_NUMERIC:
            values = np.array([getattr(r, name) for r in images], dtype=float)
            agg.images.setdefault(name, NumericSummary()).add(values)
        agg.image_sizes.add(np.array([f"{r.width}x{r.height}" for r in images], dtype=object))
        agg.image_channels.add(np.array([str(r.channels) for r in images], dtype=object))
    texts = [r.text_length for r in rows if r.text_length is not None]
    if texts:
        agg.text_length.add(np.array(texts, dtype=float))
    if spec.numeric or spec.categorical:
        _add_fields(agg, [r.fields or {} for r in rows if r.kind == "tabular"])


def _add_fields(agg: InventoryAggregate, fields: list[dict[str, Any]]) -> None:
    if not fields:
        return
    for name, summary in agg.features.items():
        column = [f.get(name) for f in fields]
        summary.add(np.array([np.nan if v is None else v for v in column], dtype=float))
    for name, cats in agg.categories.items():
        column = [f.get(name) for f in fields]
        cats.add(np.array(["(missing)" if v is None else str(v) for v in column], dtype=object))


def _add_labels(
    conn: Connection,
    agg: InventoryAggregate,
    spec: ScanSpec,
    where: sa.ColumnElement[bool] | None,
    low: int,
    high: int,
) -> None:
    """Class counts and label activity for the items of ids [low, high] that pass the filter."""
    names = dict(spec.classes)
    in_chunk = sa.and_(
        t.items.c.dataset_id == spec.dataset_id, t.items.c.id >= low, t.items.c.id <= high
    )
    if where is not None:
        in_chunk = sa.and_(in_chunk, where)
    for layer_id, layer in spec.layers:
        h = t.label_heads.c
        counts = conn.execute(
            sa.select(h.class_id, sa.func.count())
            .join(t.items, t.items.c.id == h.item_id)
            .where(h.layer_id == layer_id, h.class_id.is_not(None), in_chunk)
            .group_by(h.class_id)
        ).all()
        agg.layer_classes.setdefault(layer, Categories()).add_counts(
            {names[c]: n for c, n in counts}
        )
        lab = t.labels.c
        authors = conn.execute(
            sa.select(lab.author, sa.func.count())
            .join(t.items, t.items.c.id == lab.item_id)
            .where(lab.layer_id == layer_id, in_chunk)
            .group_by(lab.author)
        ).all()
        agg.layer_authors.setdefault(layer, Categories()).add_counts(dict(authors))


# -- planning, running and reporting ---------------------------------------------------------


def plan(
    dataset: Dataset, filter: str | None, partition_rows: int = PARTITION_ROWS
) -> list[ScanSpec]:
    """Split the dataset's id range into partitions of about ``partition_rows`` ids each."""
    store = dataset.store
    with store.read() as conn:
        filters.compile_filter(conn, dataset.id, filter)  # fail early on a bad filter
        bounds = queries.item_id_bounds(conn, dataset.id)
        layers = tuple((r.id, r.name) for r in queries.list_layers(conn, dataset.id))
        classes = tuple((r.id, r.name) for r in queries.list_classes(conn, dataset.id))
        schema = (
            conn.execute(
                sa.select(t.datasets.c.schema).where(t.datasets.c.id == dataset.id)
            ).scalar()
            or []
        )
    numeric = tuple(c["name"] for c in schema if c.get("dtype") == "number")
    categorical = tuple(c["name"] for c in schema if c.get("dtype") != "number")
    low, high = bounds if bounds else (1, 0)
    edges = [*list(range(low, high + 1, partition_rows)), high + 1]
    return [
        ScanSpec(store.url, dataset.id, filter, layers, classes, numeric, categorical, (a, b))
        for a, b in itertools.pairwise(edges)
        if a < b
    ] or [ScanSpec(store.url, dataset.id, filter, layers, classes, numeric, categorical, (1, 1))]


def aggregate(
    dataset: Dataset,
    filter: str | None = None,
    *,
    dask: Any = None,
    progress: ProgressCallback = no_progress,
    partition_rows: int = PARTITION_ROWS,
) -> InventoryAggregate:
    """Run the partitioned scan in this process or on a Dask cluster and merge the results."""
    specs = plan(dataset, filter, partition_rows)
    if isinstance(dask, str):
        with connect(dask) as client:
            return reduce_partitions(scan_partition, specs, client=client)
    if dask is not None:
        return reduce_partitions(scan_partition, specs, client=dask)
    done = 0

    def run(spec: ScanSpec) -> InventoryAggregate:
        nonlocal done
        result = scan_partition(spec, dataset.store)
        done += 1
        progress(done, len(specs), "computing statistics")
        return result

    return reduce_partitions(run, specs)


@dataclass
class Inventory:
    """A dataset's inventory: counts, class balance, coverage, per-feature statistics."""

    dataset: str
    filter: str | None
    state: InventoryAggregate
    duplicates: dict[str, Any]

    @property
    def n_items(self) -> int:
        return int(self.state.items.result()["count"])

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-able values (what ``assay stats --json`` prints)."""
        s = self.state
        n = self.n_items
        layers = []
        for name, cats in s.layer_classes.items():
            labeled = cats.total
            layers.append(
                {
                    "name": name,
                    "n_labeled": labeled,
                    "coverage": labeled / n if n else 0.0,
                    "classes": _counts(cats),
                    "authors": _counts(s.layer_authors.get(name, Categories())),
                }
            )
        out: dict[str, Any] = {
            "dataset": self.dataset,
            "filter": self.filter,
            "n_items": n,
            "kinds": _counts(s.kinds),
            "splits": _counts(s.splits),
            "layers": layers,
            "features": {k: v.result() for k, v in s.features.items()},
            "categorical": {k: _counts(v) for k, v in s.categories.items()},
            "duplicates": self.duplicates,
        }
        if s.images:
            out["images"] = {
                **{k: v.result() for k, v in s.images.items()},
                "sizes": _counts(s.image_sizes),
                "channels": _counts(s.image_channels),
            }
        if s.text_length.result()["count"]:
            out["text"] = {"length": s.text_length.result()}
        return out


def _counts(cats: Categories) -> dict[str, int]:
    return dict(cats.result()["counts"])


def duplicates(dataset: Dataset, filter: str | None) -> dict[str, Any]:
    """Groups of items with the same content hash (exact duplicates), biggest first."""
    i = t.items.c
    with dataset.store.read() as conn:
        where = filters.compile_filter(conn, dataset.id, filter)
        query = sa.select(i.content_hash, sa.func.count().label("n")).where(
            i.dataset_id == dataset.id
        )
        if where is not None:
            query = query.where(where)
        groups = query.group_by(i.content_hash).having(sa.func.count() > 1).subquery()
        n_groups, n_items = conn.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(groups.c.n), 0))
        ).one()
        top = (
            conn.execute(
                sa.select(groups.c.content_hash)
                .order_by(groups.c.n.desc(), groups.c.content_hash)
                .limit(DUPLICATE_EXAMPLES)
            )
            .scalars()
            .all()
        )
        examples = []
        for digest in top:
            keys = (
                conn.execute(
                    sa.select(i.external_key)
                    .where(i.dataset_id == dataset.id, i.content_hash == digest)
                    .order_by(i.id)
                    .limit(20)
                )
                .scalars()
                .all()
            )
            examples.append(list(keys))
    return {"n_groups": int(n_groups), "n_items": int(n_items), "examples": examples}


def build_inventory(
    dataset: Dataset,
    filter: str | None = None,
    *,
    dask: Any = None,
    progress: ProgressCallback = no_progress,
) -> Inventory:
    """The inventory of ``dataset`` (or the slice ``filter`` selects)."""
    state = aggregate(dataset, filter, dask=dask, progress=progress)
    return Inventory(dataset.name, filter, state, duplicates(dataset, filter))


@dataclass
class Comparison:
    """Two slices side by side: class-balance shift and per-feature drift."""

    a: Inventory
    b: Inventory

    def to_dict(self) -> dict[str, Any]:
        sa_, sb = self.a.state, self.b.state
        layers = {}
        for name in sorted(set(sa_.layer_classes) & set(sb.layer_classes)):
            ca, cb = sa_.layer_classes[name], sb.layer_classes[name]
            if not (ca.total and cb.total):
                continue
            layers[name] = {
                "a": _counts(ca),
                "b": _counts(cb),
                "psi": categorical_psi(ca, cb),
                "total_variation": _tv(ca, cb),
            }
        drift = {}
        pairs = {**sa_.features, **{f"image.{k}": v for k, v in sa_.images.items()}}
        others = {**sb.features, **{f"image.{k}": v for k, v in sb.images.items()}}
        if sa_.text_length.result()["count"] and sb.text_length.result()["count"]:
            pairs["text.length"], others["text.length"] = sa_.text_length, sb.text_length
        for name, summary in pairs.items():
            if name in others:
                drift[name] = {
                    "psi": psi_from_summaries(summary, others[name]),
                    "mean_a": summary.result().get("mean"),
                    "mean_b": others[name].result().get("mean"),
                }
        return {
            "a": {"dataset": self.a.dataset, "filter": self.a.filter, "n_items": self.a.n_items},
            "b": {"dataset": self.b.dataset, "filter": self.b.filter, "n_items": self.b.n_items},
            "class_balance": layers,
            "drift": drift,
        }


def _tv(a: Categories, b: Categories) -> float:
    ca, cb = _counts(a), _counts(b)
    keys = sorted(set(ca) | set(cb))
    return total_variation([ca.get(k, 0) for k in keys], [cb.get(k, 0) for k in keys])


def compare(
    dataset_a: Dataset,
    filter_a: str | None,
    dataset_b: Dataset,
    filter_b: str | None,
    *,
    dask: Any = None,
) -> Comparison:
    """Inventories of two slices (of one dataset or two) and the shift between them."""
    return Comparison(
        build_inventory(dataset_a, filter_a, dask=dask),
        build_inventory(dataset_b, filter_b, dask=dask),
    )
