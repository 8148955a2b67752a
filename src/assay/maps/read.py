"""Reading maps back: the list, one map's description, and its points as numpy arrays."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from assay.errors import Conflict, NotFound
from assay.store import queries
from assay.store import schema as t

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

READ_CHUNK = 50_000


class MapNotFound(NotFound):
    """No map of that id in this dataset."""


def map_dict(row: Any) -> dict[str, Any]:
    """A ``maps`` row as the library and the API show it (JSON-able)."""
    params = dict(row.params or {})
    return {
        "map_id": int(row.id),
        "state": row.state,
        "method": row.method,
        "featurizer": row.featurizer,
        "filter": row.filter,
        "params": params,
        "notes": list(params.get("notes", [])),
        "n_points": None if row.n_points is None else int(row.n_points),
        "bounds": row.bounds,
        "error": row.error,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "finished_at": row.finished_at,
    }


def list_maps(ds: Dataset, limit: int = 100) -> list[dict[str, Any]]:
    """The dataset's maps, newest first, in every state."""
    m = t.maps.c
    with ds.store.read() as conn:
        rows = conn.execute(
            sa.select(t.maps).where(m.dataset_id == ds.id).order_by(m.id.desc()).limit(limit)
        ).all()
    return [map_dict(r) for r in rows]


def latest_map(ds: Dataset) -> dict[str, Any] | None:
    """The newest ``ready`` map of the dataset, or None when there is none."""
    m = t.maps.c
    with ds.store.read() as conn:
        row = conn.execute(
            sa.select(t.maps)
            .where(m.dataset_id == ds.id, m.state == "ready")
            .order_by(m.id.desc())
            .limit(1)
        ).first()
    return None if row is None else map_dict(row)


def map_info(ds: Dataset, map_id: int) -> dict[str, Any]:
    """One map of the dataset (MapNotFound when the id is another dataset's or unknown)."""
    with ds.store.read() as conn:
        row = conn.execute(
            sa.select(t.maps).where(t.maps.c.id == int(map_id), t.maps.c.dataset_id == ds.id)
        ).first()
    if row is None:
        raise MapNotFound(f"Dataset {ds.name!r} has no map {map_id}.")
    return map_dict(row)


def read_points(ds: Dataset, map_id: int) -> tuple[np.ndarray, np.ndarray]:
    """A ready map's points: ``(item_ids int64 ascending, xy float32 of shape (n, 2))``.

    Rows are streamed from the primary key in id order straight into preallocated arrays,
    so the table is read once and no per-row Python objects pile up.
    """
    info = map_info(ds, map_id)
    if info["state"] != "ready":
        raise Conflict(f"Map {map_id} is {info['state']}, not ready: it has no points to show.")
    n = int(info["n_points"] or 0)
    ids = np.empty(n, dtype=np.int64)
    xy = np.empty((n, 2), dtype=np.float32)
    p = t.map_points.c
    query = sa.select(p.item_id, p.x, p.y).where(p.map_id == int(map_id)).order_by(p.item_id)
    at = 0
    with ds.store.read() as conn:
        for rows in queries.iter_tuples(conn, query, READ_CHUNK):
            cols = list(zip(*rows, strict=True))
            k = len(rows)
            if at + k > n:
                raise Conflict(f"Map {map_id} has more points than it says ({n}).")
            ids[at : at + k] = cols[0]
            xy[at : at + k, 0] = cols[1]
            xy[at : at + k, 1] = cols[2]
            at += k
    if at != n:
        raise Conflict(f"Map {map_id} has {at} points, not the {n} it says.")
    return ids, xy
