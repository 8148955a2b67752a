"""A handle on one dataset of a project: its items, classes, layers, statistics and export."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from assay.progress import ProgressCallback, no_progress
from assay.store import filters, queries
from assay.store import schema as t

if TYPE_CHECKING:
    from assay.project import Project
    from assay.stats.inventory import Comparison, Inventory


class Dataset:
    """One dataset. Get it with ``project.dataset(name)``."""

    def __init__(self, project: Project, id: int, name: str) -> None:
        self.project = project
        self.id = id
        self.name = name

    def __repr__(self) -> str:
        return f"<Dataset {self.name!r} id={self.id}>"

    @property
    def store(self) -> Any:
        return self.project.store

    def __len__(self) -> int:
        with self.store.read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(t.items.c.dataset_id == self.id)
                ).scalar_one()
            )

    def classes(self) -> list[str]:
        """Class names in schema order."""
        with self.store.read() as conn:
            return [c.name for c in queries.list_classes(conn, self.id)]

    def layers(self) -> list[dict[str, Any]]:
        """Annotation layers: name, kind, frozen, created_at."""
        with self.store.read() as conn:
            return [
                {"name": r.name, "kind": r.kind, "frozen": r.frozen, "created_at": r.created_at}
                for r in queries.list_layers(conn, self.id)
            ]

    def items(
        self,
        filter: str | None = None,
        *,
        after: int | None = None,
        limit: int = 50,
        layer: str = filters.DEFAULT_LAYER,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page of items matching ``filter``, with their current label in ``layer``.

        Returns the rows and the cursor to pass as ``after`` for the next page (None at the end).
        """
        with self.store.read() as conn:
            where = filters.compile_filter(conn, self.id, filter)
            rows, cursor = queries.page_items(conn, self.id, where, after=after, limit=limit)
            labels = self._current_labels(conn, layer, [r.id for r in rows])
        items = [{**r._asdict(), "label": labels.get(r.id)} for r in rows]
        for item in items:
            del item["numbers"]  # the packed copy of ``fields`` kept for statistics
        return items, cursor

    def _current_labels(self, conn: Any, layer: str, ids: list[int]) -> dict[int, str | None]:
        layer_row = conn.execute(
            sa.select(t.layers.c.id).where(
                t.layers.c.dataset_id == self.id, t.layers.c.name == layer
            )
        ).first()
        if layer_row is None or not ids:
            return {}
        rows = conn.execute(
            sa.select(t.label_heads.c.item_id, t.classes.c.name)
            .join(t.classes, t.classes.c.id == t.label_heads.c.class_id)
            .where(t.label_heads.c.layer_id == layer_row.id, t.label_heads.c.item_id.in_(ids))
        ).all()
        return {r.item_id: r.name for r in rows}

    def stats(
        self,
        filter: str | None = None,
        *,
        dask: Any = None,
        progress: ProgressCallback = no_progress,
    ) -> Inventory:
        """The inventory of the dataset or of the slice ``filter`` selects.

        Parameters
        ----------
        filter : str, optional
            A filter such as ``"split=train"`` (see :mod:`assay.store.filters`).
        dask : str or distributed.Client, optional
            Run the aggregation on a Dask cluster (an address such as ``tcp://host:8786``).
        """
        from assay.stats.inventory import build_inventory

        return build_inventory(self, filter, dask=dask, progress=progress)

    def compare(
        self,
        filter_a: str | None = None,
        filter_b: str | None = None,
        *,
        other: Dataset | str | None = None,
        dask: Any = None,
    ) -> Comparison:
        """Two slices side by side: class-balance shift and per-feature drift (PSI).

        Slice A is ``filter_a`` of this dataset; slice B is ``filter_b`` of ``other`` (another
        dataset, such as a new batch of data) or, by default, of this dataset.
        """
        from assay.stats.inventory import compare

        if isinstance(other, str):
            other = self.project.dataset(other)
        return compare(self, filter_a, other or self, filter_b, dask=dask)

    def export(
        self,
        path: str | os.PathLike[str],
        *,
        layer: str = filters.DEFAULT_LAYER,
        format: str | None = None,
        filter: str | None = None,
        progress: ProgressCallback = no_progress,
    ) -> int:
        """Write the current labels of ``layer`` to CSV, Parquet or JSONL; returns the row count."""
        from assay.ingest.export import export_layer

        return export_layer(
            self, path, layer=layer, format=format, filter=filter, progress=progress
        )
