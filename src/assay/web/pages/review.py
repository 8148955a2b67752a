"""The review page: cases with their evidence side by side (reviewers triage them with the
keyboard through ``static/review.js`` and the API: accept the suggestion, keep the given label,
pick a class, escalate, skip; bulk accept), and the item page's flag form.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from assay.errors import AssayError
from assay.store.vocabulary import CASE_REASONS, CASE_STATES
from assay.web.auth import Flagger, Reader
from assay.web.errors import status_of
from assay.web.params import Cursor, Id
from assay.web.rendering import render
from assay.web.state import app_state
from assay.web.urls import q
from assay.web.views import datasets, review
from assay.web.views.datasets import open_dataset

router = APIRouter(include_in_schema=False)
NameParam = Annotated[str, Query(max_length=200)]


STATE_CHOICES = ("active", *CASE_STATES, "any")


@router.get("/datasets/{name}/review")
def review_page(
    request: Request,
    name: str,
    who: Reader,
    state: Annotated[str, Query(max_length=20)] = "active",
    reason: Annotated[str, Query(max_length=40)] = "",
    label: NameParam = "",
    assignee: Annotated[str, Query(max_length=64)] = "",
    item: Id | None = None,
    after: Cursor | None = None,
) -> Response:
    """Cases with their evidence side by side; reviewers escalate, resolve or dismiss them."""
    app = app_state(request)
    dataset = open_dataset(app, name)
    detail = datasets.dataset_detail(app, who, dataset, count=False)
    form = {"state": state, "reason": reason, "label": label, "assignee": assignee, "item": item}
    context: dict[str, Any] = {
        "ds": detail,
        "form": form,
        "states": STATE_CHOICES,
        "reasons": CASE_REASONS,
        "counts": review.counts(dataset)["counts"],
        "reviewers": review.reviewers(app) if who.can("review") else [],
        "page": None,
        "evidence": None,
        "whys": {},
        "class_keys": review.class_keys(dataset),
        "presets": review.PRESET_REASONS,
        "error": None,
        "after": after,
    }
    try:
        page = review.list_cases(
            app,
            who,
            dataset,
            states=[state],
            reason=reason or None,
            label=label or None,
            assignee=assignee or None,
            item=item,
            after=after,
        )
    except AssayError as exc:  # a bad filter value: the form again, with the message
        if status_of(exc) not in (404, 422):
            raise
        context["error"] = str(exc)
        return render(request, "review.html", context, status_of(exc))
    context["page"] = page
    context["evidence"] = review.evidence_table(app, who, dataset, page["cases"])
    context["whys"] = review.evidence_of(app, who, dataset, page["cases"])
    next_query = {k: v for k, v in form.items() if v is not None and v != ""}
    if page["next"] is not None:
        context["next_url"] = "?" + urlencode({**next_query, "after": page["next"]})
    context["first_url"] = "?" + urlencode(next_query)
    return render(request, "review.html", context)


@router.post("/datasets/{name}/items/{item_id}/flag")
def flag_item(
    request: Request,
    name: str,
    item_id: Id,
    who: Flagger,
    comment: Annotated[str, Form(max_length=2000)],
    label: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The item page's "flag for review" form: open a case, then show it in the review queue."""
    app = app_state(request)
    dataset = open_dataset(app, name)
    review.flag(app, who, dataset, item_id, comment=comment, label=label or None)
    query = urlencode({"state": "any", "item": item_id})
    return RedirectResponse(f"/datasets/{q(name)}/review?{query}", 303)
