"""Labeling: annotation layers (create, copy, rename, freeze and unfreeze), bulk label writes
and the labeling queue.

Listing layers is ``GET /datasets/{name}/layers`` (datasets.py). Layer names travel in the
request body, not the path: a name may hold any character, a slash included. One item's label
is written through ``POST /datasets/{name}/items/{id}/labels`` (items.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay.labels.kinds import DEFAULT_KIND
from assay.labels.kinds.boxes import MAX_BOXES
from assay.store import reads
from assay.web.api.datasets import FilterParam
from assay.web.auth import Labeler, LayerAdmin, Reader
from assay.web.params import Id
from assay.web.state import app_state
from assay.web.views import boxes, labeling
from assay.web.views.datasets import open_dataset

router = APIRouter(tags=["labeling"])


# -- layers ----------------------------------------------------------------------------------------

LayerName = Annotated[str, Field(min_length=1, max_length=200)]
Kind = Literal["human", "model", "consensus", "reviewed", "import"]


class NewLayer(BaseModel):
    """A layer to create (annotators: ``kind`` human, ``owner`` themselves or left out)."""

    model_config = ConfigDict(extra="forbid")
    name: LayerName
    kind: Kind = "human"
    value_kind: str = Field(
        DEFAULT_KIND, max_length=64, description="The annotation kind of its labels."
    )
    owner: str | None = Field(None, max_length=64)
    description: str = Field("", max_length=2000)
    options: dict[str, str | float | bool | None] = Field(
        default_factory=dict,
        max_length=20,
        description="Settings of the annotation kind for this layer (a number's min, max, unit; "
        "spans' overlap).",
    )


class LayerCopy(BaseModel):
    """Copy the current labels of ``source`` into a new layer ``target``."""

    model_config = ConfigDict(extra="forbid")
    source: LayerName
    target: LayerName
    owner: str | None = Field(None, max_length=64)


class LayerRename(BaseModel):
    """Give ``layer`` the new name ``name``."""

    model_config = ConfigDict(extra="forbid")
    layer: LayerName
    name: LayerName


class LayerFreeze(BaseModel):
    """Freeze (read-only) or, with ``frozen`` false, unfreeze ``layer``."""

    model_config = ConfigDict(extra="forbid")
    layer: LayerName
    frozen: bool = True


@router.post("/datasets/{name}/layers", status_code=201)
def create_layer(name: str, body: NewLayer, request: Request, who: Labeler) -> dict[str, Any]:
    """Add an empty layer (409 if the name is taken).

    Admins and reviewers may add any kind with any owner; annotators a human layer of their own.
    """
    state = app_state(request)
    fields = body.model_dump()
    return labeling.create_layer(
        state, who, open_dataset(state, name), fields.pop("name"), **fields
    )


@router.post("/datasets/{name}/layers/copy", status_code=201)
def copy_layer(name: str, body: LayerCopy, request: Request, who: LayerAdmin) -> dict[str, Any]:
    """A new layer starting from the current labels of another (admins and reviewers)."""
    state = app_state(request)
    return labeling.copy_layer(
        state,
        who,
        open_dataset(state, name),
        source=body.source,
        target=body.target,
        owner=body.owner,
    )


@router.post("/datasets/{name}/layers/rename")
def rename_layer(name: str, body: LayerRename, request: Request, who: LayerAdmin) -> dict[str, Any]:
    """Rename a layer; its labels, history and snapshots follow (admins and reviewers)."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    return labeling.rename_layer(state, who, dataset, layer=body.layer, name=body.name)


@router.post("/datasets/{name}/layers/freeze")
def freeze_layer(name: str, body: LayerFreeze, request: Request, who: LayerAdmin) -> dict[str, Any]:
    """Freeze a layer (every write refused, 409) or unfreeze it (admins and reviewers)."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    return labeling.freeze_layer(state, who, dataset, layer=body.layer, frozen=body.frozen)


class LayerKeys(BaseModel):
    """The keys that pick classes when labeling in ``layer``, {class: key}: they replace those
    set before (empty: back to the default, class names that are one key, then in order)."""

    model_config = ConfigDict(extra="forbid")
    layer: LayerName
    keys: dict[Annotated[str, Field(max_length=200)], Annotated[str, Field(max_length=4)]] = Field(
        default_factory=dict, max_length=1000
    )


@router.post("/datasets/{name}/layers/keys")
def set_layer_keys(name: str, body: LayerKeys, request: Request, who: Labeler) -> dict[str, Any]:
    """Set the keys that pick each class in a layer (whoever may write to it); the answer lists
    every class with its key."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    return labeling.set_layer_keys(state, who, dataset, layer=body.layer, keys=body.keys)


# -- label writes and the queue --------------------------------------------------------------------


class BulkLabels(BaseModel):
    """One label for many items: name them in ``items`` or select them with ``filter``.

    ``label`` null clears the items' labels in the layer.
    """

    model_config = ConfigDict(extra="forbid")
    layer: str = Field(min_length=1, max_length=200)
    label: str | None = Field(max_length=200)
    items: list[Id] | None = Field(None, min_length=1, max_length=labeling.MAX_BULK_ITEMS)
    filter: str | None = Field(None, max_length=2000)
    note: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def one_selection(self) -> BulkLabels:
        """Exactly one of ``items`` and ``filter``."""
        if (self.items is None) == (self.filter is None):
            raise ValueError("give either items (a list of item ids) or filter, not both")
        if self.filter is not None and not self.filter.strip():
            raise ValueError("the filter is empty; name the items or give a filter")
        return self


@router.post("/datasets/{name}/labels", status_code=201)
def bulk_label(name: str, body: BulkLabels, request: Request, who: Labeler) -> dict[str, Any]:
    """Label many items in one layer, as you, in one transaction: all land or none does.

    By ids (``items``, up to 100,000) or by ``filter`` (every item it selects). Annotators
    write only to their own layers.
    """
    state = app_state(request)
    return labeling.bulk_label(
        state,
        who,
        open_dataset(state, name),
        layer=body.layer,
        label=body.label,
        items=body.items,
        filter=body.filter,
        note=body.note,
    )


@router.get("/datasets/{name}/queue")
def labeling_queue(
    name: str,
    request: Request,
    who: Labeler,
    layer: Annotated[str, Query(min_length=1, max_length=200)],
    filter: FilterParam = None,
    after: Annotated[str | None, Query(max_length=24, pattern=r"^s?\d+$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    """The next items to label in ``layer`` (one you may write to), in queue order.

    The order: first the layer's current suggestions (what to label next, best first; each
    item says why in ``suggested``), then the other unlabeled items by id. Pass ``next`` as
    ``after`` for the following ones. The first page also gives ``labeled`` and ``total``: how many
    of the queue's items are labeled in the layer, and how many it covers.
    """
    state = app_state(request)
    return labeling.queue_page(
        state,
        who,
        open_dataset(state, name),
        layer=layer,
        filter=filter,
        after=after,
        limit=limit,
    )


# -- boxes: the box editor's reads and saves -------------------------------------------------------


@router.get("/datasets/{name}/items/{item_id}/boxes")
def item_boxes(name: str, item_id: Id, request: Request, who: Reader) -> dict[str, Any]:
    """An item's boxes in every box layer you may see, in one request: per layer its boxes,
    the label id they are (send it as ``base`` when saving), its colour on the pages, whether
    you may edit it and whether its boxes carry scores (predictions); the dataset's classes
    and the keys that pick them in the layers you may edit."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    item = reads.item(dataset.store, dataset.id, item_id)
    return boxes.item_boxes(state, who, dataset, {**item, "key": item["external_key"]})


class BoxSet(BaseModel):
    """An image's whole set of boxes in ``layer``, edited on the version ``base``.

    ``base``: the ``label_id`` the boxes were loaded with (0 when the image had no label in the
    layer). If the label changed since, nothing is written (409): reload, then edit the
    current version. ``boxes`` ``[]`` says "looked at, nothing to box".
    """

    model_config = ConfigDict(extra="forbid")
    layer: LayerName
    boxes: list[dict[str, Any]] = Field(max_length=MAX_BOXES)
    base: int = Field(ge=0)
    note: str | None = Field(None, max_length=2000)
    idempotency_key: str | None = Field(None, min_length=8, max_length=80)


@router.post(
    "/datasets/{name}/items/{item_id}/boxes",
    status_code=201,
    responses={
        200: {"description": "A retry of a save already made (same idempotency key)."},
        409: {"description": "The boxes changed since ``base`` (or the layer is frozen)."},
    },
)
async def save_boxes(
    name: str, item_id: Id, body: BoxSet, request: Request, response: Response, who: Labeler
) -> dict[str, Any]:
    """Save an image's boxes in a box layer you may write (201; 200 for a repeated
    ``idempotency_key``), kept in the history like every label. 409 when ``base`` is stale,
    403 for a layer you may not write (a model's, another annotator's), 422 naming the box
    when one is invalid (outside the image, an unknown class, no size)."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    out = await boxes.save_boxes_async(
        state,
        who,
        dataset,
        item_id,
        layer=body.layer,
        boxes=body.boxes,
        base=body.base,
        note=body.note,
        idempotency_key=body.idempotency_key,
    )
    if not out["written"]:
        response.status_code = 200
    return out
