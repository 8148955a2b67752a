"""The suggestions and jobs page: what to label next in a layer, and the long work
(training, cross-validation, scans, maps, suggestions) started from the page with live
progress. Every form posts a job to ``/api/v1/datasets/{name}/jobs`` (static/jobs.js); the
work runs in a worker process, so the page never waits on it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from assay import jobs
from assay.active.kinds import strategies_for
from assay.models.estimators import BUILTIN
from assay.web.auth import Reader
from assay.web.rendering import render
from assay.web.state import app_state
from assay.web.views import datasets, labeling
from assay.web.views import suggestions as view
from assay.web.views.datasets import open_dataset

router = APIRouter(include_in_schema=False)


@router.get("/datasets/{name}/jobs")
def jobs_page(
    request: Request,
    name: str,
    who: Reader,
    layer: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Suggestions for a layer the user labels in, forms to start jobs, and the job list."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    detail = datasets.dataset_detail(state, who, dataset, count=False)
    own = labeling.queue_layers(state, who, dataset) if who.can("label") else []
    names = [la["name"] for la in own]
    chosen = layer if layer in names else (names[0] if names else "")
    value_kind = next((la["value_kind"] for la in own if la["name"] == chosen), "")
    suggested = view.suggestions(state, who, dataset, chosen, limit=24) if chosen else None
    lists = [lst.to_dict() for lst in dataset.suggestions.lists(chosen, limit=5)] if chosen else []
    context: dict[str, Any] = {
        "ds": detail,
        "suggest_layers": own,
        "layer": chosen,
        "suggested": suggested,
        "lists": lists,
        # The library says which strategies serve the chosen layer's kind (box layers:
        # box-uncertainty from a predictions layer), as it does for the CLI and the API.
        "strategies": strategies_for(value_kind),
        "box_layer": value_kind == "boxes",
        "box_predictions": [
            la["name"]
            for la in detail["layers"]
            if la["kind"] == "model" and la["value_kind"] == "boxes"
        ],
        "models": ("auto", *BUILTIN),
        "issue_methods": _issue_methods(),
        "kinds": {k: who.can(spec.permission) for k, spec in jobs.KINDS.items()},
        "spec": {
            k: kind.params.model_json_schema()["properties"] for k, kind in jobs.KINDS.items()
        },
        "human_layers": [la["name"] for la in detail["layers"] if la["kind"] == "human"],
        "model_layers": [la["name"] for la in detail["layers"] if la["kind"] == "model"],
        "jobs": [who.viewer.job(j) for j in jobs.list_jobs(dataset.store, dataset.id, limit=30)],
    }
    return render(request, "jobs.html", context)


def _issue_methods() -> list[str]:
    """The label-issue methods, the default first (the job's form offers them)."""
    from assay.quality.methods import DEFAULT_METHOD, METHODS

    return [DEFAULT_METHOD, *(m for m in METHODS if m != DEFAULT_METHOD)]
