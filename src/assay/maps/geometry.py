"""Plane geometry of map selections: which points a lasso encloses."""

from __future__ import annotations

import numpy as np

__all__ = ["points_in_polygon"]


# A vectorized even-odd test rather than matplotlib's Path.contains_points: no plotting
# library is a dependency of the core, and this is a dozen lines over numpy arrays.
def points_in_polygon(xy: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Which points lie inside the polygon (even-odd rule), as a boolean mask."""
    inside = np.zeros(len(xy), dtype=bool)
    lo, hi = polygon.min(axis=0), polygon.max(axis=0)
    near = np.flatnonzero(
        (xy[:, 0] >= lo[0]) & (xy[:, 0] <= hi[0]) & (xy[:, 1] >= lo[1]) & (xy[:, 1] <= hi[1])
    )
    if not len(near):
        return inside
    px, py = xy[near, 0].astype(np.float64), xy[near, 1].astype(np.float64)
    flag = np.zeros(len(near), dtype=bool)
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    for ax, ay, bx, by in zip(x0, y0, x1, y1, strict=True):
        crosses = (ay > py) != (by > py)
        if not crosses.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = ax + (py - ay) * (bx - ax) / (by - ay)
        flag ^= crosses & (px < x_at)
    inside[near] = flag
    return inside
