"""The datasets pages: the list of datasets (home) and a dataset's overview, whose charts
``static/overview.js`` draws from the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from assay.web import kinds as web_kinds
from assay.web.auth import Reader
from assay.web.rendering import render
from assay.web.state import app_state
from assay.web.views import data_checks, datasets, tag_views
from assay.web.views.datasets import open_dataset

router = APIRouter(include_in_schema=False)
TextParam = Annotated[str, Query(max_length=2000)]


@router.get("/")
def home(request: Request, who: Reader) -> Response:
    """The list of datasets."""
    return render(
        request, "datasets.html", {"datasets": datasets.list_datasets(app_state(request))}
    )


@router.get("/datasets/{name}")
def overview(request: Request, name: str, who: Reader, filter: TextParam = "") -> Response:
    """A dataset's inventory with charts (drawn by static/overview.js from the API), and its
    latest data checks (``_data_checks.html``)."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    detail = datasets.dataset_detail(state, who, dataset, count=False)
    span_stats = [  # drawn by kinds/_spans_stats.html
        datasets.layer_statistics(state, who, dataset, la["name"], filter or None)["layer"]
        for la in detail["layers"] if la.get("value_kind") == "spans"
    ]  # fmt: skip
    tags = tag_views.layer_stats(state, who, dataset, filter)  # kinds/_tags_stats.html
    cards = [  # the other kinds' cards (web/kinds.STATS_CARDS)
        (template, datasets.layer_statistics(state, who, dataset, la["name"], filter or None))
        for la in detail["layers"]
        if (template := web_kinds.STATS_CARDS.get(la.get("value_kind") or ""))
    ]
    context = {
        "ds": detail, "filter": filter, "span_stats": span_stats, "tag_stats": tags,
        "checks": data_checks.latest(who, dataset),
        "stats_cards": [(template, found["layer"]) for template, found in cards],
    }  # fmt: skip
    return render(request, "overview.html", context)
