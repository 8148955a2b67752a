"""The inventory of a dataset or a slice of it, built from mergeable aggregators.

One scan reads the items in id-ordered chunks (flat memory) and feeds aggregators; the scan
is split into id ranges ("partitions") that run one after another in this process, or as
tasks on a Dask cluster, and are merged in the same order, so both give the same answer.
The partition scan itself lives in ``stats.scan``.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from assay.processes import can_fork
from assay.progress import ProgressCallback, no_progress
from assay.stats.aggregators import Categories, DuplicateGroups
from assay.stats.boxes import box_layer_names
from assay.stats.distributed import connect, merge_pair, reduce_partitions, tree_reduce
from assay.stats.drift import categorical_psi, psi_from_summaries, total_variation
from assay.stats.scan import ChunkAggregator, InventoryAggregate, ScanSpec, scan_partition
from assay.store import filters, queries
from assay.store import schema as t
from assay.store.schema import ITEM_KINDS

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

PARTITION_ROWS = 200_000
DUPLICATE_EXAMPLES = 10


# -- planning, running and reporting ---------------------------------------------------------


def plan(
    dataset: Dataset,
    filter: str | None,
    partition_rows: int = PARTITION_ROWS,
    workers: int = 1,
    extra: tuple[ChunkAggregator, ...] = (),
) -> list[ScanSpec]:
    """Split the dataset's id range into partitions of at most ``partition_rows`` ids.

    The number of partitions is a multiple of ``workers``, so that each worker gets the same
    share (5 partitions on 2 workers would leave one worker alone for the last one).
    """
    store = dataset.store
    with store.read() as conn:
        filters.compile_filter(conn, dataset.id, filter)  # fail early on a bad filter
        bounds = queries.item_id_bounds(conn, dataset.id)
        layer_rows = queries.list_layers(conn, dataset.id)
        layers = tuple((r.id, r.name) for r in layer_rows)
        classes = tuple((r.id, r.name) for r in queries.list_classes(conn, dataset.id))
        row = conn.execute(
            sa.select(t.datasets.c.schema, t.datasets.c.kinds).where(t.datasets.c.id == dataset.id)
        ).one()
    schema = row.schema or []
    base: dict[str, Any] = {
        "url": store.url,
        "dataset_id": dataset.id,
        "filter": filter,
        "layers": layers,
        "classes": classes,
        "numeric": tuple(c["name"] for c in schema if c.get("dtype") == "number"),
        "categorical": tuple(c["name"] for c in schema if c.get("dtype") != "number"),
        "kinds": tuple(row.kinds or ITEM_KINDS),
        "box_layers": box_layer_names(layer_rows),
        "extra": extra,
    }
    low, high = bounds if bounds else (1, 0)
    span = high - low + 1
    n_parts = -(-span // partition_rows) if span > 0 else 1
    n_parts = -(-n_parts // workers) * workers if n_parts > 1 else 1
    step = -(-span // n_parts) if span > 0 else 1
    edges = [*range(low, high + 1, step), high + 1]
    ranges = [(a, b) for a, b in itertools.pairwise(edges) if a < b] or [(1, 1)]
    return [ScanSpec(**base, id_range=r) for r in ranges]


def aggregate(
    dataset: Dataset,
    filter: str | None = None,
    *,
    dask: Any = None,
    n_jobs: int | None = None,
    progress: ProgressCallback = no_progress,
    partition_rows: int = PARTITION_ROWS,
    extra: tuple[ChunkAggregator, ...] = (),
) -> InventoryAggregate:
    """Run the partitioned scan and merge the results, always as the same tree.

    Partitions run on a Dask cluster when ``dask`` is given (an address or a Client), else
    on ``n_jobs`` local processes (default: one per core, when there is more than one
    partition), else one after another in this process. ``extra`` aggregators are fed the
    same chunks (see :class:`assay.stats.scan.ChunkAggregator`); they come back filled in the
    result's ``extra``, in the same order.
    """
    jobs = n_jobs or os.cpu_count() or 1
    local = dask is None and jobs > 1 and can_fork()
    specs = plan(dataset, filter, partition_rows, workers=jobs if local else 1, extra=extra)
    if isinstance(dask, str):
        with connect(dask) as client:
            return reduce_partitions(scan_partition, specs, client=client)
    if dask is not None:
        return reduce_partitions(scan_partition, specs, client=dask)
    if local and len(specs) > 1:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(min(jobs, len(specs)), mp_context=context) as pool:
            results = pool.map(scan_partition, specs)
            return tree_reduce(_counted(results, len(specs), progress), merge_pair)
    results = (scan_partition(spec, dataset.store) for spec in specs)
    return tree_reduce(_counted(results, len(specs), progress), merge_pair)


def _counted(
    results: Iterator[InventoryAggregate], total: int, progress: ProgressCallback
) -> Iterator[InventoryAggregate]:
    for done, result in enumerate(results, start=1):
        progress(done, total, "computing statistics")
        yield result


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
            layer: dict[str, Any] = {
                "name": name,
                "n_labeled": labeled,
                "coverage": labeled / n if n else 0.0,
                "classes": _counts(cats),
                "authors": _counts(s.layer_authors.get(name, Categories())),
            }
            held = s.layer_values.get(name)
            if held is not None and held.total and not labeled:  # values of another kind
                layer.update(
                    n_labeled=held.total, coverage=held.total / n if n else 0.0, values=True
                )
            if name in s.box_layers:  # beside the class layers: its images and its boxes
                boxes = s.box_layers[name].result()
                layer.update(
                    n_labeled=boxes["n_annotated"],
                    coverage=boxes["coverage"],
                    classes=boxes["classes"],
                    value_kind=boxes["value_kind"],
                    boxes=boxes,
                )
            layers.append(layer)
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


def duplicate_examples(dataset: Dataset, groups: DuplicateGroups) -> dict[str, Any]:
    """The duplicate counts and the external keys of the biggest groups."""
    found = groups.groups()
    examples = []
    with dataset.store.read() as conn:
        for ids in found[:DUPLICATE_EXAMPLES]:
            keys = conn.execute(
                sa.select(t.items.c.external_key)
                .where(t.items.c.id.in_([int(i) for i in ids[:20]]))
                .order_by(t.items.c.id)
            ).scalars()
            examples.append(list(keys))
    return {
        "n_groups": len(found),
        "n_items": int(sum(len(g) for g in found)),
        "examples": examples,
    }


def build_inventory(
    dataset: Dataset,
    filter: str | None = None,
    *,
    dask: Any = None,
    progress: ProgressCallback = no_progress,
) -> Inventory:
    """The inventory of ``dataset`` (or the slice ``filter`` selects)."""
    state = aggregate(dataset, filter, dask=dask, progress=progress)
    return Inventory(dataset.name, filter, state, duplicate_examples(dataset, state.duplicates))


@dataclass
class Comparison:
    """Two slices side by side: class-balance shift and per-feature drift."""

    a: Inventory
    b: Inventory

    def to_dict(self) -> dict[str, Any]:
        sa_, sb = self.a.state, self.b.state
        layers = {}
        for name in sorted(set(sa_.layer_classes) & set(sb.layer_classes)):
            ca, cb = _classes(sa_, name), _classes(sb, name)
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


def _classes(state: InventoryAggregate, layer: str) -> Categories:
    """The class balance of a layer: its labels' classes, or (box layers) its boxes'."""
    boxes = state.box_layers.get(layer)
    return boxes.classes if boxes is not None else state.layer_classes[layer]


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
