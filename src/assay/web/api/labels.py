"""Bulk label writes and the labeling queue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay.web import labeling, service
from assay.web.api.datasets import FilterParam
from assay.web.auth import Principal, require
from assay.web.params import Id
from assay.web.state import app_state

router = APIRouter(tags=["labels"])
Labeler = Annotated[Principal, Depends(require("label"))]


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
        service.open_dataset(state, name),
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
        service.open_dataset(state, name),
        layer=layer,
        filter=filter,
        after=after,
        limit=limit,
    )
