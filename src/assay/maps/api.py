"""``ds.maps``: compute a dataset's embedding maps and read them back.

>>> info = ds.maps.compute(method="umap", seed=0)  # doctest: +SKIP
>>> ids, xy = ds.maps.points(info["map_id"])  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assay.maps.compute import compute_map
from assay.maps.read import latest_map, list_maps, map_info, read_points
from assay.maps.specs import MapSpec

if TYPE_CHECKING:
    import numpy as np

    from assay.handle import DatasetHandle
    from assay.progress import ProgressCallback

__all__ = ["DatasetMaps"]


class DatasetMaps:
    """The embedding maps of one dataset: ``dataset.maps`` (see :mod:`assay.maps`)."""

    def __init__(self, dataset: DatasetHandle) -> None:
        self.dataset = dataset

    def __repr__(self) -> str:
        return f"<DatasetMaps of {self.dataset.name!r}>"

    def compute(
        self,
        spec: MapSpec | None = None,
        /,
        *,
        author: str | None = None,
        progress: ProgressCallback | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Compute and store a 2-D map of the slice, as ``spec`` (or the :class:`MapSpec` the
        keyword ``options`` build) says; see :func:`assay.maps.compute_map`."""
        return compute_map(self.dataset, spec, author=author, progress=progress, **options)

    def latest(self) -> dict[str, Any] | None:
        """The newest ``ready`` map, or None when there is none."""
        return latest_map(self.dataset)

    def get(self, map_id: int) -> dict[str, Any]:
        """One map's description (MapNotFound when the dataset has no such map)."""
        return map_info(self.dataset, map_id)

    def points(self, map_id: int) -> tuple[np.ndarray, np.ndarray]:
        """A ready map's points: ``(item_ids ascending, xy float32 of shape (n, 2))``."""
        return read_points(self.dataset, map_id)

    def list(self, limit: int = 100) -> list[dict[str, Any]]:
        """The dataset's maps, newest first, in every state."""
        return list_maps(self.dataset, limit)
