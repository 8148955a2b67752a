"""The pages a labeling team works in: the labeling queue, the review queue, agreement, and
snapshots with their diffs.

Like :mod:`assay.web.pages`, each page renders what the service modules compute for the API;
the interactive parts (keyboard labeling, review decisions, charts) are small scripts in
``static/`` that call the same API and put text into the page with ``textContent`` only.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from assay.errors import AssayError
from assay.store.vocabulary import CASE_REASONS, CASE_STATES
from assay.web import agreement, labeling, review, service, versions
from assay.web.auth import Principal, require
from assay.web.errors import status_of
from assay.web.params import Cursor, Id
from assay.web.rendering import render
from assay.web.state import app_state
from assay.web.urls import q

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("read"))]
Labeler = Annotated[Principal, Depends(require("label"))]
Reviewer = Annotated[Principal, Depends(require("review"))]
Flagger = Annotated[Principal, Depends(require("flag"))]
TextParam = Annotated[str, Query(max_length=2000)]
NameParam = Annotated[str, Query(max_length=200)]


def class_keys(classes: list[str]) -> list[tuple[str | None, str]]:
    """(key, class) pairs for the labeling queue: 1-9 then 0 for the first ten classes."""
    keys = [*"123456789", "0"]
    return [(keys[i] if i < len(keys) else None, c) for i, c in enumerate(classes)]


# -- the labeling queue -----------------------------------------------------------------------


@router.get("/datasets/{name}/label")
def labeling_queue(
    request: Request, name: str, who: Labeler, layer: NameParam = "", filter: TextParam = ""
) -> Response:
    """One item at a time, labeled with the keyboard, into a layer the user may write."""
    state = app_state(request)
    dataset = service.open_dataset(state, name)
    detail = service.dataset_detail(state, who, dataset, count=False)
    layers = labeling.queue_layers(state, who, dataset)
    names = [la["name"] for la in layers]
    if layer:
        who.viewer.writable_layer(dataset, layer)  # 403 / 404 before the page
        if layer not in names:
            layers.append(next(la for la in detail["layers"] if la["name"] == layer))
    else:
        # Only the user's own layer by default: another's is chosen on purpose, never by chance.
        own = [la["name"] for la in layers if la["owner"] == who.user.username]
        layer = own[0] if own else ""
    current = dataset.suggestions.current(layer) if layer else None
    context = {
        "ds": detail,
        "layers": layers,
        "layer": layer,
        "filter": filter,
        "keys": class_keys(detail["classes"]),
        "own_name": who.user.username,
        "suggestions": current.to_dict() if current else None,
    }
    return render(request, "label_queue.html", context)


@router.post("/datasets/{name}/label/layer")
def labeling_queue_layer(
    request: Request,
    name: str,
    who: Labeler,
    layer: Annotated[str, Form(min_length=1, max_length=200)],
) -> Response:
    """Create a human layer owned by the signed-in user, then open the queue on it."""
    state = app_state(request)
    dataset = service.open_dataset(state, name)
    made = labeling.create_layer(state, who, dataset, name=layer, owner=who.user.username)
    query = urlencode({"layer": made["layer"]["name"]})
    return RedirectResponse(f"/datasets/{q(name)}/label?{query}", 303)


# -- the review queue -------------------------------------------------------------------------

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
    dataset = service.open_dataset(app, name)
    detail = service.dataset_detail(app, who, dataset, count=False)
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
    dataset = service.open_dataset(app, name)
    review.flag(app, who, dataset, item_id, comment=comment, label=label or None)
    query = urlencode({"state": "any", "item": item_id})
    return RedirectResponse(f"/datasets/{q(name)}/review?{query}", 303)


# -- agreement --------------------------------------------------------------------------------


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
    dataset = service.open_dataset(state, name)
    detail = service.dataset_detail(state, who, dataset, count=False)
    if who.viewer.blind:  # the page says why; nothing to compute
        message = agreement.BLIND + " Reviewers see it."
        return render(
            request, "agreement.html", {"ds": detail, "filter": "", "blind_message": message}
        )
    visible = [la["name"] for la in detail["layers"]]
    chosen = [n for n in (layers or agreement.default_agreement_layers(dataset)) if n in visible]
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
    return render(request, "agreement.html", context)


# -- snapshots and diffs ----------------------------------------------------------------------


@router.get("/datasets/{name}/snapshots")
def snapshots_page(
    request: Request, name: str, who: Reader, a: NameParam = "", b: NameParam = "now"
) -> Response:
    """The snapshots, a form to take one, and the diff of two (or of one and now)."""
    state = app_state(request)
    dataset = service.open_dataset(state, name)
    detail = service.dataset_detail(state, who, dataset, count=False)
    snaps = versions.list_snapshots(state, who, dataset)["snapshots"]
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
            context["diff"] = versions.diff(state, who, dataset, a=a, b=b or "now")
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
    dataset = service.open_dataset(state, name)
    made = versions.create_snapshot(
        state, who, dataset, name=snapshot, layers=None, description=description
    )
    query = urlencode({"a": made["snapshot"]["name"], "b": "now"})
    return RedirectResponse(f"/datasets/{q(name)}/snapshots?{query}", 303)
