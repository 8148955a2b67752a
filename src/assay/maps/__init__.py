"""The embedding map: every item of a dataset as a point in 2-D, from its feature vectors.

A map is computed once (UMAP, or PCA when asked or when umap-learn is missing) and stored in
the ``maps`` / ``map_points`` tables; it never changes after it is ``ready``, so the web app
can cache it. Only ``ready`` maps are ever shown: a map that is still running or that failed
is listed with its state but has no points to read.

Use it through ``dataset.maps`` (:class:`DatasetMaps`):

>>> info = ds.maps.compute(method="umap", seed=0, author="me")  # doctest: +SKIP
>>> ids, xy = ds.maps.points(info["map_id"])  # doctest: +SKIP
"""

from assay.maps.api import DatasetMaps
from assay.maps.colors import COLOR_BY, NONE_CODE, color_codes, default_prediction_layer
from assay.maps.compute import compute_map
from assay.maps.geometry import points_in_polygon
from assay.maps.read import MapNotFound, latest_map, list_maps, map_info, read_points
from assay.maps.specs import METHODS

__all__ = [
    "COLOR_BY",
    "METHODS",
    "NONE_CODE",
    "DatasetMaps",
    "MapNotFound",
    "color_codes",
    "compute_map",
    "default_prediction_layer",
    "latest_map",
    "list_maps",
    "map_info",
    "points_in_polygon",
    "read_points",
]
