"""Spans: the span editor's reads and saves (a text item's spans in every span layer you may
see; a whole span set saved on the version loaded, 409 when stale)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from assay.labels.kinds.spans import MAX_SPANS
from assay.store import reads
from assay.web.auth import Labeler, Reader
from assay.web.params import Id
from assay.web.state import app_state
from assay.web.views import spans
from assay.web.views.datasets import open_dataset

router = APIRouter(tags=["labeling"])


@router.get("/datasets/{name}/items/{item_id}/spans")
def item_spans(name: str, item_id: Id, request: Request, who: Reader) -> dict[str, Any]:
    """A text item's text and its spans in every span layer you may see, in one request: per
    layer its spans (offsets in Unicode code points, end exclusive), the label id they are
    (send it as ``base`` when saving), whether spans may overlap, its colour and whether you
    may edit it; the dataset's classes and the keys that pick them in the layers you edit."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    item = reads.item(dataset.store, dataset.id, item_id)
    return spans.item_spans(state, who, dataset, {**item, "key": item["external_key"]})


class SpanSet(BaseModel):
    """A text's whole set of spans in ``layer``, edited on the version ``base``.

    ``spans``: ``[{"start", "end", "class"}]`` in Unicode code points (Python's string
    indices), end exclusive. ``base``: the ``label_id`` the spans were loaded with (0 when the
    text had no label in the layer); if the label changed since, nothing is written (409).
    ``[]`` says "read, no spans".
    """

    model_config = ConfigDict(extra="forbid")
    layer: str = Field(min_length=1, max_length=200)
    spans: list[dict[str, Any]] = Field(max_length=MAX_SPANS)
    base: int = Field(ge=0)
    note: str | None = Field(None, max_length=2000)
    idempotency_key: str | None = Field(None, min_length=8, max_length=80)


@router.post(
    "/datasets/{name}/items/{item_id}/spans",
    status_code=201,
    responses={
        200: {"description": "A retry of a save already made (same idempotency key)."},
        409: {"description": "The spans changed since ``base`` (or the layer is frozen)."},
    },
)
async def save_spans(
    name: str, item_id: Id, body: SpanSet, request: Request, response: Response, who: Labeler
) -> dict[str, Any]:
    """Save a text's spans in a span layer you may write (201; 200 for a repeated
    ``idempotency_key``), kept in the history like every label. 409 when ``base`` is stale,
    403 for a layer you may not write, 422 naming the span when one is invalid (outside the
    text, splitting a character, overlapping where the layer keeps spans apart)."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    out = await spans.save_spans_async(
        state,
        who,
        dataset,
        item_id,
        layer=body.layer,
        spans=body.spans,
        base=body.base,
        note=body.note,
        idempotency_key=body.idempotency_key,
    )
    if not out["written"]:
        response.status_code = 200
    return out
