"""The embedding map page: every item as a point, colored by label, prediction or issue.

The page is a shell; ``static/map.js`` fetches the points (compact binary, see
:mod:`assay.web.views.maps`) and the colors from the API, draws them on a canvas, and sends lasso
selections and bulk labels back through the API with the session's CSRF token.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from assay import jobs, maps
from assay.dataset import Dataset
from assay.web.auth import Reader
from assay.web.rendering import render
from assay.web.state import app_state
from assay.web.urls import q
from assay.web.views import datasets
from assay.web.views.datasets import open_dataset

router = APIRouter(include_in_schema=False)


@router.get("/datasets/{name}/map")
def map_page(request: Request, name: str, who: Reader) -> Response:
    """The newest ready map of the dataset, or a button to compute one."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    detail = datasets.dataset_detail(state, who, dataset, count=False)
    info = dataset.maps.latest()
    recent = dataset.maps.list(limit=1)
    pending = recent[0] if recent and recent[0]["state"] != "ready" else None
    if pending is not None and pending["state"] == "running" and not _map_job_active(dataset):
        pending = None  # left "running" by a killed process: no job is computing it
    layers: list[dict[str, Any]] = detail["layers"]
    names = [la["name"] for la in layers]
    prediction = maps.default_prediction_layer(dataset)
    api = f"/api/v1/datasets/{q(name)}"
    context = {
        "ds": detail,
        "map": info,
        "pending": pending,
        "label_layer": datasets.default_layer(who, dataset) if names else "",
        "prediction_layer": prediction if prediction in names else "",
        "model_layers": [la for la in layers if la["kind"] == "model"],
        "writable": [la for la in layers if la["can_write"] and not la["frozen"]],
        "can_compute": who.can("review"),
        "api": api,
    }
    return render(request, "map.html", context)


def _map_job_active(dataset: Dataset) -> bool:
    """Whether a map job of the dataset is queued or running (stale workers are reaped)."""
    active = jobs.list_jobs(dataset.store, dataset.id, states=("queued", "running"), limit=200)
    return any(j["kind"] == "map" for j in active)
