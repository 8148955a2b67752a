"""Suggestions: what to label next in a layer (start a new list with a ``suggest`` job)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from assay.web.auth import Reader
from assay.web.state import app_state
from assay.web.views import suggestions as view
from assay.web.views.datasets import open_dataset

router = APIRouter(tags=["suggestions"])


@router.get("/datasets/{name}/suggestions")
def suggestions(
    name: str,
    request: Request,
    who: Reader,
    layer: Annotated[str, Query(min_length=1, max_length=200)],
    after: Annotated[int | None, Query(ge=0, le=2**31)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 48,
    pending: bool = True,
) -> dict[str, Any]:
    """The layer's current suggestion list (strategy, model, counts, notes) and its items in
    rank order, each with its score and the reason it was picked; ``pending`` leaves out the
    ones already labeled. ``after`` is a rank (keyset paging)."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    return view.suggestions(
        state, who, dataset, layer, after=after, limit=limit, pending_only=pending
    )
