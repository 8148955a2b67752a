"""The agreement page: the report with charts and the confusion matrix of a pair of layers
(drawn by ``static/agreement.js`` from the API)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from assay.web.auth import Reader
from assay.web.rendering import render
from assay.web.state import app_state
from assay.web.urls import q
from assay.web.views import agreement, datasets
from assay.web.views.datasets import open_dataset

router = APIRouter(include_in_schema=False)
TextParam = Annotated[str, Query(max_length=2000)]
NameParam = Annotated[str, Query(max_length=200)]


@router.get("/datasets/{name}/agreement")
def agreement_page(
    request: Request,
    name: str,
    who: Reader,
    layers: Annotated[list[str] | None, Query(max_length=50)] = None,
    filter: TextParam = "",
    a: NameParam = "",
    b: NameParam = "",
) -> Response:
    """The agreement report with charts and the confusion matrix of a pair of layers
    (drawn by static/agreement.js from the API)."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    detail = datasets.dataset_detail(state, who, dataset, count=False)
    if who.viewer.blind:  # the page says why; nothing to compute
        message = agreement.BLIND + " Reviewers see it."
        return render(
            request, "agreement.html", {"ds": detail, "filter": "", "blind_message": message}
        )
    visible = [la["name"] for la in detail["layers"]]
    chosen = [n for n in (layers or dataset.default_layers()) if n in visible]
    a = a if a in visible else (chosen[0] if chosen else "")
    b = b if b in visible and b != a else next((n for n in chosen if n != a), "")
    query = [("layers", n) for n in chosen] + ([("filter", filter)] if filter else [])
    api = f"/api/v1/datasets/{q(name)}"
    context = {
        "ds": detail,
        "chosen": chosen,
        "filter": filter,
        "a": a,
        "b": b,
        "report_url": f"{api}/agreement?{urlencode(query)}",
        "confusion_url": f"{api}/agreement/confusion"
        + (f"?{urlencode({'filter': filter})}" if filter else ""),
    }
    kinds = {la["name"]: la.get("value_kind") for la in detail["layers"]}
    if len(chosen) > 1 and all(kinds.get(n) == "spans" for n in chosen):  # kinds/_spans_agreement
        context["span_report"] = agreement.agreement_report(
            state, who, dataset, layers=chosen, filter=filter or None
        )
    return render(request, "agreement.html", context)
