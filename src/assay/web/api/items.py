"""Items: keyset pages of a dataset's items, one item, its image."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from assay.store.queries import MAX_PAGE
from assay.web.api.datasets import FilterParam
from assay.web.auth import Labeler, Reader
from assay.web.params import Cursor, Id
from assay.web.state import app_state
from assay.web.views import boxes as box_views
from assay.web.views import items
from assay.web.views.datasets import open_dataset
from assay.web.views.item_insights import insights

router = APIRouter(tags=["items"])
ItemId = Id


@router.get("/datasets/{name}/items")
def list_items(
    name: str,
    request: Request,
    who: Reader,
    filter: FilterParam = None,
    layer: Annotated[str | None, Query(max_length=200)] = None,
    after: Cursor | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    boxes: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """One page of items matching ``filter``, with their current label in ``layer`` (and,
    with ``boxes``, each item's boxes in that box layer: the grid's overlays).

    Pages are keyset pages: pass the ``next`` of one page as ``after`` to get the next one
    (``next`` is null on the last page).
    """
    state = app_state(request)
    dataset = open_dataset(state, name)
    page = items.items_page(
        state, who, dataset, filter=filter, layer=layer, after=after, limit=limit
    )
    if boxes:
        drawn = box_views.page_boxes(who, dataset, boxes, [it["id"] for it in page["items"]])
        for it in page["items"]:
            it["boxes"] = drawn.get(it["id"], [])
    return page


@router.get("/datasets/{name}/items/{item_id}")
def get_item(
    name: str, item_id: ItemId, request: Request, who: Reader, filter: FilterParam = None
) -> dict[str, Any]:
    """One item, its current label in each layer you may see, and its neighbours."""
    state = app_state(request)
    return items.item_detail(state, who, open_dataset(state, name), item_id, filter)


@router.get("/datasets/{name}/items/{item_id}/insights")
def item_insights(name: str, item_id: ItemId, request: Request, who: Reader) -> dict[str, Any]:
    """What the models make of the item: each model layer's prediction with its top class
    probabilities, the conformal prediction set (90%) of the newest model run, and the
    nearest neighbours (in the cached feature vectors, else the embedding map)."""
    state = app_state(request)
    return insights(state, who, open_dataset(state, name), item_id)


@router.get(
    "/datasets/{name}/items/{item_id}/media",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The image bytes."}},
)
def get_media(
    name: str,
    item_id: ItemId,
    request: Request,
    who: Reader,
    thumb: bool = False,
) -> Response:
    """The item's image (``thumb=true``: at most 160 pixels on a side)."""
    state = app_state(request)
    return items.item_media(state, open_dataset(state, name), item_id, thumb=thumb)


class LabelChange(BaseModel):
    """A label to set: ``label`` null clears the item's label in the layer."""

    model_config = ConfigDict(extra="forbid")
    layer: str = Field(min_length=1, max_length=200)
    label: str | None = Field(max_length=200)
    note: str | None = Field(None, max_length=2000)
    idempotency_key: str | None = Field(None, min_length=8, max_length=80)


@router.post("/datasets/{name}/items/{item_id}/labels", status_code=201)
async def set_label(
    name: str, item_id: ItemId, body: LabelChange, request: Request, who: Labeler
) -> dict[str, Any]:
    """Set an item's label in a layer, as you (kept in the history; nothing is overwritten).

    Annotators may write only to their own layers; frozen layers refuse everyone (409). Send
    an ``idempotency_key`` (any unique string) to make retries of the same write safe.
    """
    state = app_state(request)
    dataset = open_dataset(state, name)
    return await items.write_label_async(
        state,
        who,
        dataset,
        item_id,
        layer=body.layer,
        label=body.label,
        note=body.note,
        idempotency_key=body.idempotency_key,
    )


@router.get("/datasets/{name}/items/{item_id}/history")
def history(
    name: str,
    item_id: ItemId,
    request: Request,
    who: Reader,
    layer: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """Every label the item had (who, what, when, why), per layer, oldest first."""
    state = app_state(request)
    return items.label_history(state, who, open_dataset(state, name), item_id, layer)
