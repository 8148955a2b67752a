"""Statistics of one layer by its annotation kind: the one place the faces ask for them.

The inventory (:mod:`assay.stats.inventory`) counts what every layer shares (labels, coverage,
activity); what is particular to a kind (boxes per image and their sizes, tag co-occurrence,
span lengths, the distribution of numbers) comes from the function the kind registers here
with :func:`register`. The CLI (``assay stats --layer``), the API and the web ask
:func:`layer_statistics`; a new kind registers its function below and needs no change in them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assay.errors import InvalidParameter
from assay.store import queries

__all__ = ["STATISTICS", "layer_statistics", "register"]

#: kind name -> compute(dataset, layer, filter, *, dask) -> JSON (``name``, ``kind``, ...).
STATISTICS: dict[str, Callable[..., dict[str, Any]]] = {}


def register(kind: str, compute: Callable[..., dict[str, Any]]) -> None:
    """Make ``compute`` the statistics of layers of annotation kind ``kind``."""
    STATISTICS[kind] = compute


def layer_statistics(
    dataset: Any, layer: str, filter: str | None = None, *, dask: Any = None
) -> dict[str, Any]:
    """The statistics of ``layer`` over the dataset or the slice ``filter`` selects, as JSON
    with ``value_kind`` (which says how to show them); InvalidParameter for a kind without."""
    with dataset.store.read() as conn:
        row = queries.get_layer(conn, dataset.id, layer)
    compute = STATISTICS.get(row.value_kind)
    if compute is None:
        kinds = ", ".join(sorted(STATISTICS)) or "none"
        raise InvalidParameter(
            f"Layer {row.name!r} holds {row.value_kind} labels, whose statistics are the "
            f"inventory's (`assay stats` without --layer); per-layer statistics are for {kinds}."
        )
    return {"value_kind": row.value_kind, **compute(dataset, row.name, filter, dask=dask)}


# The built-in kinds' statistics.
from assay.stats.boxes import box_statistics  # noqa: E402

register("boxes", box_statistics)

from assay.stats.spans import span_statistics  # noqa: E402

register("spans", span_statistics)
from assay.stats.tags import tag_statistics  # noqa: E402

register("tags", tag_statistics)

from assay.stats.numbers import number_statistics  # noqa: E402

register("number", number_statistics)
