"""The value editors' API (tags, numbers: kinds whose label is one JSON value edited whole):
read an item's value in a layer with the label id it is, save a new one on that version."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from assay.web.auth import Labeler, Reader
from assay.web.params import Id
from assay.web.state import app_state
from assay.web.views import kind_values
from assay.web.views.datasets import open_dataset

router = APIRouter(tags=["labeling"])


@router.get("/datasets/{name}/items/{item_id}/value")
def item_value(
    name: str,
    item_id: Id,
    request: Request,
    who: Reader,
    layer: Annotated[str, Query(min_length=1, max_length=200)],
) -> dict[str, Any]:
    """An item's current value in a tags or number layer you may see: ``value`` (null: not
    annotated), ``label_id`` (send it as ``base`` when saving; 0 for none), the layer's
    options and, for tags, the tag set with the keys that pick each tag."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    return kind_values.item_value(state, who, dataset, item_id, layer)


class ValueSet(BaseModel):
    """An item's value in ``layer`` (a tag list, a number), edited on the version ``base``.

    ``base``: the ``label_id`` the value was loaded with (0 when the item had no label in the
    layer); if the label changed since, nothing is written (409). ``value`` null clears it;
    ``[]`` in a tags layer says "looked at, no tag applies".
    """

    model_config = ConfigDict(extra="forbid")
    layer: str = Field(min_length=1, max_length=200)
    value: (
        Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=1000)]
        | StrictInt
        | StrictFloat
        | None
    )
    base: int = Field(ge=0)
    note: str | None = Field(None, max_length=2000)
    idempotency_key: str | None = Field(None, min_length=8, max_length=80)


@router.post(
    "/datasets/{name}/items/{item_id}/value",
    status_code=201,
    responses={
        200: {"description": "A retry of a save already made (same idempotency key)."},
        409: {"description": "The value changed since ``base`` (or the layer is frozen)."},
    },
)
async def save_value(
    name: str, item_id: Id, body: ValueSet, request: Request, response: Response, who: Labeler
) -> dict[str, Any]:
    """Save an item's value in a layer you may write (201; 200 for a repeated
    ``idempotency_key``), kept in the history like every label. 409 when ``base`` is stale,
    403 for a layer you may not write, 422 naming the value when the layer's kind refuses it
    (a tag not in the tag set, a number outside the layer's range)."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    out = await kind_values.save_value_async(
        state,
        who,
        dataset,
        item_id,
        layer=body.layer,
        value=body.value,
        base=body.base,
        note=body.note,
        idempotency_key=body.idempotency_key,
    )
    if not out["written"]:
        response.status_code = 200
    return out
