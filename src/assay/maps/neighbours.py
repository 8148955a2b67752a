"""An item's nearest items, from what is already stored: the newest cached feature vectors
when there are few enough of them to index in memory, else the newest embedding map's 2-D
points. Nothing is featurized; an index is immutable (its source is), so a caller may keep it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from assay.maps.read import latest_map, read_points

TREE_DIMENSIONS = 16  # points of at most this many dimensions are searched with a KD-tree

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset


@dataclass(frozen=True)
class Source:
    """Where neighbours come from: a feature set or a map (``kind``), by its id."""

    kind: str  # "features" or "map"
    id: int
    description: str


@dataclass(frozen=True)
class NeighbourIndex:
    """Item ids ascending and their points; a KD-tree over low-dimensional points (a map's),
    else their squared norms: an exact search by one matrix-vector product (a few milliseconds
    at 10,000 x 784, where scikit-learn's brute search starts its thread pool every query)."""

    description: str
    ids: np.ndarray
    points: np.ndarray
    norms: np.ndarray
    tree: Any = None

    def nearest(self, item_id: int, k: int) -> list[int] | None:
        """The ``k`` items nearest to ``item_id``, nearest first (None if it is not indexed)."""
        where = int(np.searchsorted(self.ids, item_id))
        if where >= len(self.ids) or self.ids[where] != item_id:
            return None
        n = min(k + 1, len(self.ids))
        if self.tree is not None:
            _, found = self.tree.query(self.points[where : where + 1], k=n)
            return [int(self.ids[j]) for j in found[0] if j != where][:k]
        # |x - q|^2 up to the constant |q|^2; ties broken by position, as a stable sort does.
        distance = self.norms - 2.0 * (self.points @ self.points[where])
        distance[where] = -np.inf  # the item itself first, then left out
        near = np.argpartition(distance, n - 1)[:n]
        near = near[np.lexsort((near, distance[near]))]
        return [int(self.ids[j]) for j in near if j != where][:k]


def newest_source(dataset: Dataset, max_vectors: int) -> Source | None:
    """The newest stored feature set of at most ``max_vectors`` vectors, else the newest
    ready map, else None."""
    from assay.models.features import feature_sets

    ready = [s for s in feature_sets(dataset) if s["state"] == "ready" and (s["n_items"] or 0) > 1]
    if ready and ready[0]["n_items"] <= max_vectors:
        first = ready[0]
        return Source("features", int(first["id"]), f"{first['featurizer']} feature vectors")
    found = latest_map(dataset)
    if found is None:
        return None
    return Source("map", int(found["map_id"]), "embedding map")


def build_index(dataset: Dataset, source: Source) -> NeighbourIndex | None:
    """The index of the source's points (None with fewer than two of them)."""
    from sklearn.neighbors import KDTree

    from assay.models.features import read_cached_vectors

    if source.kind == "features":
        ids, X = read_cached_vectors(dataset, source.id)
    else:
        ids, X = read_points(dataset, source.id)
    if len(ids) < 2:
        return None
    points = np.asarray(X, dtype=np.float32)
    norms = np.einsum("ij,ij->i", points, points)
    tree = KDTree(points) if points.shape[1] <= TREE_DIMENSIONS else None
    return NeighbourIndex(source.description, np.asarray(ids, dtype=np.int64), points, norms, tree)
