"""Embedding maps under /api/v1: the list, points as compact binary, colors, selections.

The binary layout of ``/points`` is documented in :mod:`assay.web.views.maps`.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay.store.selections import MAX_SELECTION
from assay.web.auth import Reader
from assay.web.params import Id
from assay.web.state import app_state
from assay.web.views import maps
from assay.web.views.datasets import open_dataset

router = APIRouter(tags=["maps"])
MapId = Id


@router.get("/datasets/{name}/maps")
def list_maps(name: str, request: Request, who: Reader) -> dict[str, Any]:
    """The dataset's maps, newest first, in every state (running, ready, failed)."""
    return maps.list_maps(open_dataset(app_state(request), name))


@router.get("/datasets/{name}/maps/latest")
def latest_map(name: str, request: Request, who: Reader) -> dict[str, Any]:
    """The newest ready map (404 with a hint when the dataset has none yet)."""
    return maps.latest(open_dataset(app_state(request), name))


@router.get(
    "/datasets/{name}/maps/{map_id}/points",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def map_points(name: str, map_id: MapId, request: Request, who: Reader) -> Response:
    """The map's points as little-endian binary: ``uint32 n, uint32 id_bytes, float32
    bounds[4], float32 x[n], float32 y[n]``, then ids as ``uint32[n]`` (id_bytes 4) or
    ``float64[n]`` (id_bytes 8), in ascending id order."""
    state = app_state(request)
    started = time.perf_counter()
    cached = maps.cached_map(state, open_dataset(state, name), map_id)
    total_ms = (time.perf_counter() - started) * 1000
    return Response(
        cached.payload,
        media_type="application/octet-stream",
        headers={
            # A ready map never changes; the session decides who may fetch it.
            "Cache-Control": "private, max-age=3600",
            "Server-Timing": f"map;dur={total_ms:.1f}, encode;dur={cached.encode_ms:.1f}",
        },
    )


@router.get("/datasets/{name}/maps/{map_id}/colors")
def map_colors(
    name: str,
    map_id: MapId,
    request: Request,
    who: Reader,
    by: Annotated[str, Query(max_length=32)] = "label",
    layer: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """One uint8 code per point (same order as ``/points``; 255 = none), base64 in
    ``codes``, and the ``legend`` the codes index.

    ``by``: ``label`` (the class in ``layer``, default ground_truth), ``prediction`` (a model
    layer, default the newest run's), ``issue`` (open review case reason) or
    ``disagreement`` (human layers disagree). Blind mode limits annotators to their layers.
    """
    state = app_state(request)
    dataset = open_dataset(state, name)
    return maps.colors(state, who, dataset, map_id, by=by, layer=layer or None)


class NewSelection(BaseModel):
    """Items to save as a selection: ``item_ids``, or a lasso ``polygon`` on map ``map_id``
    (in the map's coordinates)."""

    model_config = ConfigDict(extra="forbid")
    item_ids: list[Id] | None = Field(None, min_length=1, max_length=MAX_SELECTION)
    map_id: MapId | None = None
    polygon: list[tuple[float, float]] | None = Field(
        None, min_length=3, max_length=maps.MAX_POLYGON
    )

    @model_validator(mode="after")
    def one_way(self) -> NewSelection:
        """Either ``item_ids``, or ``map_id`` with ``polygon``."""
        by_ids = self.item_ids is not None
        by_lasso = self.map_id is not None or self.polygon is not None
        if by_ids == by_lasso:
            raise ValueError("give either item_ids, or map_id and polygon")
        if by_lasso and (self.map_id is None or self.polygon is None):
            raise ValueError("a lasso needs both map_id and polygon")
        return self


@router.post("/datasets/{name}/selections", status_code=201)
def create_selection(
    name: str, body: NewSelection, request: Request, who: Reader
) -> dict[str, Any]:
    """Save a selection; use it as the filter ``selection=ID`` (``grid_url`` shows it).

    Every id must be an item of this dataset, or nothing is saved (404).
    """
    state = app_state(request)
    return maps.select(
        state,
        who,
        open_dataset(state, name),
        item_ids=body.item_ids,
        map_id=body.map_id,
        polygon=body.polygon,
    )
