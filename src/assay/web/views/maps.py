"""The embedding map for the API and its page: points as compact binary, colors, selections.

Maps never change once ready, so a map's encoded points (and its ids, for colors and lasso
selections) are cached per map id in the app's StatsCache. Every map id is checked against
the dataset of the URL before the cache is consulted, so one dataset never serves another's.

Points payload (little-endian, ``application/octet-stream``)::

    offset 0   uint32   n           number of points
    offset 4   uint32   id_bytes    4: ids are uint32; 8: ids are float64 (exact below 2**53)
    offset 8   float32  xmin, ymin, xmax, ymax
    offset 24  float32  x[n]
               float32  y[n]
               uint32 or float64  ids[n]   (offset 24 + 8n, so 8-byte aligned)

Points are in ascending item id order; color codes (``/colors``) follow the same order.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay import maps
from assay.dataset import Dataset
from assay.errors import Conflict, InvalidParameter
from assay.store import reads
from assay.store.selections import create_selection
from assay.web.auth import Principal
from assay.web.errors import Forbidden
from assay.web.state import AppState
from assay.web.urls import q
from assay.web.views import datasets

HEADER_BYTES = 24
MAX_POLYGON = 5_000


@dataclass(frozen=True)
class CachedMap:
    """A ready map's points, decoded and encoded, as kept in the cache."""

    ids: np.ndarray  # int64, ascending
    xy: np.ndarray  # float32 (n, 2)
    payload: bytes
    encode_ms: float


def encode_points(ids: np.ndarray, xy: np.ndarray, bounds: list[float] | None) -> bytes:
    """The binary layout of the module docstring."""
    n = len(ids)
    wide = bool(n) and int(ids.max()) > np.iinfo(np.uint32).max
    header = np.array([n, 8 if wide else 4], dtype="<u4").tobytes()
    box = np.asarray(bounds or [0.0, 0.0, 0.0, 0.0], dtype="<f4").tobytes()
    id_bytes = ids.astype("<f8" if wide else "<u4").tobytes()
    x = np.ascontiguousarray(xy[:, 0], dtype="<f4").tobytes()
    y = np.ascontiguousarray(xy[:, 1], dtype="<f4").tobytes()
    return b"".join((header, box, x, y, id_bytes))


def decode_points(payload: bytes) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """(ids, xy, bounds) from :func:`encode_points` output (for tests and scripts)."""
    n, width = np.frombuffer(payload, dtype="<u4", count=2)
    bounds = np.frombuffer(payload, dtype="<f4", count=4, offset=8).tolist()
    x = np.frombuffer(payload, dtype="<f4", count=n, offset=HEADER_BYTES)
    y = np.frombuffer(payload, dtype="<f4", count=n, offset=HEADER_BYTES + 4 * int(n))
    kind = "<f8" if width == 8 else "<u4"
    ids = np.frombuffer(payload, dtype=kind, count=n, offset=HEADER_BYTES + 8 * int(n))
    return ids.astype(np.int64), np.stack([x, y], axis=1), bounds


def ready_map(dataset: Dataset, map_id: int) -> dict[str, Any]:
    """The map, if it is this dataset's (404 otherwise) and ready (409 otherwise)."""
    info = dataset.maps.get(map_id)
    if info["state"] != "ready":
        raise Conflict(f"Map {map_id} is {info['state']}: only ready maps can be shown.")
    return info


def cached_map(state: AppState, dataset: Dataset, map_id: int) -> CachedMap:
    """The map's points from the cache (read and encoded once per process)."""
    info = ready_map(dataset, map_id)

    def load() -> CachedMap:
        started = time.perf_counter()
        ids, xy = dataset.maps.points(map_id)
        payload = encode_points(ids, xy, info["bounds"])
        return CachedMap(ids, xy, payload, (time.perf_counter() - started) * 1000)

    value: CachedMap = state.stats.get(("map_points", dataset.id, int(map_id)), load)
    return value


def list_maps(dataset: Dataset) -> dict[str, Any]:
    """The dataset's maps, newest first (every state)."""
    return {"ok": True, "dataset": dataset.name, "maps": dataset.maps.list()}


def latest(dataset: Dataset) -> dict[str, Any]:
    """The newest ready map (MapNotFound, a 404, when there is none yet)."""
    info = dataset.maps.latest()
    if info is None:
        raise maps.MapNotFound(
            f"Dataset {dataset.name!r} has no map yet: compute one with `assay map` or the "
            "Compute map button on the map page."
        )
    return {"ok": True, "dataset": dataset.name, "map": info}


def colors(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    map_id: int,
    *,
    by: str,
    layer: str | None,
) -> dict[str, Any]:
    """Color codes for the map's points (base64 of one uint8 per point, 255 = none).

    Blind mode: annotators may color only by the layers they may see, and not by
    disagreement (that would reveal the other annotators' labels).
    """
    if by not in maps.COLOR_BY:
        raise InvalidParameter(f"Unknown color {by!r}; use one of {', '.join(maps.COLOR_BY)}.")
    if by == "disagreement" and who.viewer.blind:
        raise Forbidden("In blind mode annotators may not see where other annotators disagree.")
    if by == "label":
        layer = layer or datasets.default_layer(who, dataset)
    elif by == "prediction":
        layer = layer or maps.default_prediction_layer(dataset)
    if by in ("label", "prediction") and layer:
        who.viewer.layer(dataset, layer)  # 403 / 404
    points = cached_map(state, dataset, map_id)

    def compute() -> dict[str, Any]:
        return maps.color_codes(dataset, points.ids, by, layer)

    if by in ("label", "prediction"):
        # Labels are append-only, so the data version says whether any label changed since.
        key = (
            "map_colors",
            dataset.id,
            int(map_id),
            by,
            layer,
            reads.data_version(dataset.store, dataset.id),
        )
        out: dict[str, Any] = state.stats.get(key, compute)
    else:  # review cases change without a new label; these two are quick anyway
        out = compute()
    codes: np.ndarray = out["codes"]
    return {
        "ok": True,
        "map_id": int(map_id),
        "by": by,
        "layer": out["layer"],
        "legend": out["legend"],
        "n": len(codes),
        "counts": np.bincount(codes, minlength=256)[: len(out["legend"])].tolist(),
        "codes": base64.b64encode(codes.tobytes()).decode("ascii"),
    }


def select(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    *,
    item_ids: list[int] | None,
    map_id: int | None,
    polygon: list[tuple[float, float]] | None,
) -> dict[str, Any]:
    """Save a selection (by ids, or a lasso polygon on a map) and say where the grid shows it.

    Every id must be an item of this dataset: otherwise nothing is saved (404).
    """
    if item_ids is not None:
        ids = item_ids
        source = "api"
    else:
        assert map_id is not None and polygon is not None
        points = cached_map(state, dataset, map_id)
        mask = maps.points_in_polygon(points.xy, np.asarray(polygon, dtype=np.float64))
        ids = points.ids[mask].tolist()
        if not ids:
            raise InvalidParameter("The lasso caught no points: draw around some.")
        source = f"map {int(map_id)}"
    out = create_selection(
        dataset.store, dataset.id, ids, source=source, created_by=who.user.username
    )
    grid = f"/datasets/{q(dataset.name)}/items?filter=selection%3D{out['id']}"
    return {"ok": True, **out, "grid_url": grid}
