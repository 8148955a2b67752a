"""Snapshots of the labels, and diffs between two snapshots or a snapshot and now."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from assay.web.auth import Reader, Reviewer
from assay.web.state import app_state
from assay.web.views import snapshots
from assay.web.views.datasets import open_dataset

router = APIRouter(tags=["snapshots"])
SnapshotRef = Annotated[str, Query(min_length=1, max_length=200)]


class NewSnapshot(BaseModel):
    """A snapshot to take: a new name, and the layers (default: every layer)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    layers: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        None, max_length=200
    )
    description: str = Field("", max_length=2000)


@router.get("/datasets/{name}/snapshots")
def list_snapshots(name: str, request: Request, who: Reader) -> dict[str, Any]:
    """The dataset's snapshots, newest first."""
    state = app_state(request)
    return snapshots.list_snapshots(state, who, open_dataset(state, name))


@router.post("/datasets/{name}/snapshots", status_code=201)
def create_snapshot(
    name: str, body: NewSnapshot, request: Request, who: Reviewer
) -> dict[str, Any]:
    """Record the current labels under a new name (reviewers and admins); never changed later."""
    state = app_state(request)
    return snapshots.create_snapshot(
        state,
        who,
        open_dataset(state, name),
        name=body.name,
        layers=body.layers,
        description=body.description,
    )


@router.get("/datasets/{name}/diff")
def diff(
    name: str,
    request: Request,
    who: Reader,
    a: SnapshotRef,
    b: SnapshotRef = "now",
    limit: Annotated[int, Query(ge=0, le=10_000)] = snapshots.DIFF_ITEMS,
) -> dict[str, Any]:
    """What changed from snapshot ``a`` to ``b`` (a snapshot or ``now``): relabels with the
    class-to-class flows, labels added and removed, per layer, per class and per item."""
    state = app_state(request)
    return snapshots.diff(state, who, open_dataset(state, name), a=a, b=b, limit=limit)
