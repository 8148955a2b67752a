"""The snapshots page: the snapshots, a form to take one, and the diff of two."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from assay.errors import AssayError
from assay.web.auth import Reader, Reviewer
from assay.web.errors import status_of
from assay.web.rendering import render
from assay.web.state import app_state
from assay.web.urls import q
from assay.web.views import datasets, snapshots
from assay.web.views.datasets import open_dataset

router = APIRouter(include_in_schema=False)
NameParam = Annotated[str, Query(max_length=200)]


@router.get("/datasets/{name}/snapshots")
def snapshots_page(
    request: Request, name: str, who: Reader, a: NameParam = "", b: NameParam = "now"
) -> Response:
    """The snapshots, a form to take one, and the diff of two (or of one and now)."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    detail = datasets.dataset_detail(state, who, dataset, count=False)
    snaps = snapshots.list_snapshots(state, who, dataset)["snapshots"]
    context: dict[str, Any] = {
        "ds": detail,
        "snapshots": snaps,
        "a": a,
        "b": b or "now",
        "diff": None,
        "error": None,
    }
    if a:
        try:
            context["diff"] = snapshots.diff(state, who, dataset, a=a, b=b or "now")
        except AssayError as exc:
            if status_of(exc) not in (404, 409, 422):
                raise
            context["error"] = str(exc)
            return render(request, "snapshots.html", context, status_of(exc))
    return render(request, "snapshots.html", context)


@router.post("/datasets/{name}/snapshots")
def snapshots_create(
    request: Request,
    name: str,
    who: Reviewer,
    snapshot: Annotated[str, Form(min_length=1, max_length=200)],
    description: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Take a snapshot of every layer from the form, then diff it against now."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    made = snapshots.create_snapshot(
        state, who, dataset, name=snapshot, layers=None, description=description
    )
    query = urlencode({"a": made["snapshot"]["name"], "b": "now"})
    return RedirectResponse(f"/datasets/{q(name)}/snapshots?{query}", 303)
