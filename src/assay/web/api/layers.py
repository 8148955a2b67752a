"""Annotation layers: create, copy, rename, freeze and unfreeze.

Listing is ``GET /datasets/{name}/layers`` (datasets.py). Layer names travel in the request
body, not the path: a name may hold any character, a slash included.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from assay.web import labeling, service
from assay.web.auth import Principal, require
from assay.web.state import app_state

router = APIRouter(tags=["layers"])
Labeler = Annotated[Principal, Depends(require("label"))]
LayerAdmin = Annotated[Principal, Depends(require("manage_layers"))]
LayerName = Annotated[str, Field(min_length=1, max_length=200)]
Kind = Literal["human", "model", "consensus", "reviewed", "import"]


class NewLayer(BaseModel):
    """A layer to create (annotators: ``kind`` human, ``owner`` themselves or left out)."""

    model_config = ConfigDict(extra="forbid")
    name: LayerName
    kind: Kind = "human"
    owner: str | None = Field(None, max_length=64)
    description: str = Field("", max_length=2000)


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
    return labeling.create_layer(
        state,
        who,
        service.open_dataset(state, name),
        name=body.name,
        kind=body.kind,
        owner=body.owner,
        description=body.description,
    )


@router.post("/datasets/{name}/layers/copy", status_code=201)
def copy_layer(name: str, body: LayerCopy, request: Request, who: LayerAdmin) -> dict[str, Any]:
    """A new layer starting from the current labels of another (admins and reviewers)."""
    state = app_state(request)
    return labeling.copy_layer(
        state,
        who,
        service.open_dataset(state, name),
        source=body.source,
        target=body.target,
        owner=body.owner,
    )


@router.post("/datasets/{name}/layers/rename")
def rename_layer(name: str, body: LayerRename, request: Request, who: LayerAdmin) -> dict[str, Any]:
    """Rename a layer; its labels, history and snapshots follow (admins and reviewers)."""
    state = app_state(request)
    dataset = service.open_dataset(state, name)
    return labeling.rename_layer(state, who, dataset, layer=body.layer, name=body.name)


@router.post("/datasets/{name}/layers/freeze")
def freeze_layer(name: str, body: LayerFreeze, request: Request, who: LayerAdmin) -> dict[str, Any]:
    """Freeze a layer (every write refused, 409) or unfreeze it (admins and reviewers)."""
    state = app_state(request)
    dataset = service.open_dataset(state, name)
    return labeling.freeze_layer(state, who, dataset, layer=body.layer, frozen=body.frozen)
