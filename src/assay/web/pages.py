"""The HTML pages: server-rendered Jinja templates over the same dicts the API returns.

Each page is the twin of an API endpoint (``service`` computes both). Templates autoescape
everything; the few scripts in ``static/`` build DOM nodes with ``textContent`` only.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from assay import users
from assay.errors import AssayError, InvalidParameter
from assay.store import filters, reads
from assay.store.queries import MAX_PAGE
from assay.store.vocabulary import CASE_REASONS
from assay.web import service
from assay.web.auth import Principal, Signed, authenticate_request, require, safe_next
from assay.web.errors import HTTPError, status_of
from assay.web.login import set_login_cookie, set_session_cookie, sign_in, sign_out
from assay.web.params import Cursor, Id
from assay.web.rendering import render
from assay.web.state import app_state
from assay.web.urls import q

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("read"))]
Admin = Annotated[Principal, Depends(require("manage_users"))]
Member = Annotated[Principal, Depends(require("own_tokens"))]
Labeler = Annotated[Principal, Depends(require("label"))]
TextParam = Annotated[str, Query(max_length=2000)]
GRID_PAGE = 96
CASE_FILTERS = ("any", *CASE_REASONS)


# -- signing in and out -----------------------------------------------------------------------


def _login_page(
    request: Request, next: str, message: str | None, status: int, username: str = ""
) -> Response:
    token, cookie = app_state(request).login_tokens.issue()
    context = {
        "next": safe_next(next),
        "message": message,
        "login_token": token,
        "username": username,
    }
    page = render(request, "login.html", context, status)
    set_login_cookie(request, page, cookie)
    return page


@router.get("/login")
def login_page(request: Request, next: TextParam = "/") -> Response:
    """The sign-in form (signed-in users go straight on)."""
    if authenticate_request(request) is not None:
        return RedirectResponse(safe_next(next), 303)
    return _login_page(request, next, None, 200)


@router.post("/login")
def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the form; on success set the session cookie and go on to ``next``."""
    try:
        cookie, _session = sign_in(request, username, password, csrf_token)
    except HTTPError as exc:
        return _login_page(request, next, exc.message, exc.status, username)
    response = RedirectResponse(safe_next(next), 303)
    set_session_cookie(request, response, cookie)
    return response


@router.post("/logout")
def logout_submit(request: Request, who: Signed) -> Response:
    """End the session and go back to the login page."""
    response = RedirectResponse("/login", 303)
    sign_out(request, response, who.session)
    return response


# -- datasets, items --------------------------------------------------------------------------


@router.get("/")
def home(request: Request, who: Reader) -> Response:
    """The list of datasets."""
    return render(request, "datasets.html", {"datasets": service.list_datasets(app_state(request))})


@router.get("/datasets/{name}")
def overview(request: Request, name: str, who: Reader, filter: TextParam = "") -> Response:
    """A dataset's inventory with charts (drawn by static/overview.js from the API)."""
    state = app_state(request)
    dataset = service.open_dataset(state, name)
    detail = service.dataset_detail(state, who, dataset, count=False)
    return render(request, "overview.html", {"ds": detail, "filter": filter})


def compose_filter(
    split: str,
    label: str,
    layer: str,
    extra: str,
    *,
    model: str = "",
    predicted: str = "",
    below: float | None = None,
    case: str = "",
) -> str:
    """The filter string the grid's form fields stand for.

    ``model``/``predicted`` select a model layer's prediction, ``below`` items whose label in
    the model layer (or else the chosen layer) is less sure than that, ``case`` items with an
    open review case of that reason (``disagreement``, ``mislabel``, ... or ``any``).
    """
    parts = []
    if split:
        parts.append(f"split={split}")
    if label:
        parts.append(f"label[{layer}]={label}" if layer else f"label={label}")
    if model and predicted:
        parts.append(f"label[{model}]={predicted}")
    if below is not None:
        parts.append(f"confidence[{model or layer or filters.DEFAULT_LAYER}]<{below:g}")
    if case:
        parts.append(f"case={case}")
    if extra.strip():
        parts.append(extra.strip())
    return ", ".join(parts)


def _threshold(text: str) -> float | None:
    """The grid's "confidence below" field: empty for none, else a number in [0, 1]."""
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise InvalidParameter(f"Confidence below must be a number from 0 to 1, not {text!r}.")
    return value


@router.get("/datasets/{name}/items")
def grid(
    request: Request,
    name: str,
    who: Reader,
    filter: TextParam = "",
    split: TextParam = "",
    label: TextParam = "",
    layer: TextParam = "",
    model: TextParam = "",
    predicted: TextParam = "",
    below: Annotated[str, Query(max_length=20)] = "",  # a number; the form sends "" for none
    case: Annotated[str, Query(max_length=20)] = "",
    after: Cursor | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = GRID_PAGE,
) -> Response:
    """The items grid: thumbnails for images, rows for text and tables, filtered by split,
    class in a layer, prediction, confidence, open review case (disagreement, label issue)
    and any filter expression (metadata, fields, a saved selection)."""
    state = app_state(request)
    dataset = service.open_dataset(state, name)
    detail = service.dataset_detail(state, who, dataset, count=False)
    try:
        threshold, problem = _threshold(below), None
    except InvalidParameter as exc:
        threshold, problem = None, exc
    full = compose_filter(
        split, label, layer, filter, model=model, predicted=predicted, below=threshold, case=case
    )
    form = {
        "filter": filter, "split": split, "label": label, "layer": layer, "model": model,
        "predicted": predicted, "below": below, "case": case,
    }  # fmt: skip
    context: dict[str, Any] = {
        "ds": detail,
        "form": form,
        "case_reasons": CASE_FILTERS,
        # The form's fields for the next page's link (each followed by "&").
        "next_query": "".join(
            f"{urlencode({k: v})}&" for k, v in form.items() if v not in ("", None)
        ),
        "full_filter": full,
        "error": None,
        "page": None,
    }
    try:
        if problem is not None:
            raise problem
        context["page"] = service.items_page(
            state, who, dataset, filter=full, layer=layer or None, after=after, limit=limit
        )
    except AssayError as exc:  # a bad filter: show the form again with the message
        if status_of(exc) != 422 and status_of(exc) != 404:
            raise
        context["error"] = str(exc)
        return render(request, "items.html", context, status_of(exc))
    return render(request, "items.html", context)


@router.get("/datasets/{name}/items/{item_id}")
def item_page(
    request: Request, name: str, item_id: Id, who: Reader, filter: TextParam = ""
) -> Response:
    """One item large, with every visible layer's current label, the models' predictions,
    its conformal set, its nearest neighbours and its history."""
    state = app_state(request)
    dataset = service.open_dataset(state, name)
    detail = service.item_detail(state, who, dataset, item_id, filter or None)
    history = service.label_history(state, who, dataset, item_id)["history"]
    history.sort(key=lambda h: (h["created_at"], h["id"]), reverse=True)  # newest first
    from assay.web.item_insights import insights

    context = {
        "ds": {"name": dataset.name},
        "d": detail,
        "filter": filter,
        "history": history,
        "insights": insights(state, who, dataset, item_id),
    }
    return render(request, "item.html", context)


CLEAR = "__clear__"


@router.post("/datasets/{name}/items/{item_id}/labels")
def item_label_submit(
    request: Request,
    name: str,
    item_id: Id,
    who: Labeler,
    layer: Annotated[str, Form(max_length=200)],
    label: Annotated[str, Form(max_length=200)],
    note: Annotated[str, Form(max_length=2000)] = "",
    filter: Annotated[str, Form(max_length=2000)] = "",
    go: Annotated[str, Form(max_length=10)] = "stay",
) -> Response:
    """The item page's label form: write the label, then show this item or the next one."""
    state = app_state(request)
    dataset = service.open_dataset(state, name)
    who.viewer.check_filter(dataset, filter)  # "next" must not probe a hidden layer
    value = None if label == CLEAR else label
    service.write_label(state, who, dataset, item_id, layer=layer, label=value, note=note or None)
    target = item_id
    if go == "next":
        target = reads.neighbours(dataset.store, dataset.id, item_id, filter or None)[1] or item_id
    query = f"?filter={quote(filter, safe='')}" if filter else ""
    return RedirectResponse(f"/datasets/{q(name)}/items/{target}{query}", 303)


# -- users and tokens -------------------------------------------------------------------------


@router.get("/users")
def users_page(request: Request, who: Admin, message: str | None = None) -> Response:
    """Accounts and roles (admins only)."""
    found = users.list_users(app_state(request).project.store)
    return render(request, "users.html", {"users": found, "message": message})


@router.post("/users")
def users_create(
    request: Request,
    who: Admin,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    role: Annotated[str, Form(max_length=16)] = "annotator",
) -> Response:
    """Create an account from the form."""
    users.create_user(app_state(request).project.store, username, password, role=role)
    return RedirectResponse("/users", 303)


@router.post("/users/{username}")
def users_change(
    request: Request,
    username: str,
    who: Admin,
    role: Annotated[str | None, Form(max_length=16)] = None,
    disabled: Annotated[str | None, Form(max_length=5)] = None,
) -> Response:
    """Change a role or enable/disable an account from the form."""
    flag = None if disabled is None else disabled == "true"
    users.update_user(app_state(request).project.store, username, role=role or None, disabled=flag)
    return RedirectResponse("/users", 303)


@router.get("/account")
def account_page(request: Request, who: Member) -> Response:
    """Your account and API tokens."""
    tokens = users.list_tokens(app_state(request).project.store, who.user.username)
    return render(request, "account.html", {"tokens": tokens, "new_token": None})


@router.post("/account/tokens")
def account_token_create(
    request: Request, who: Member, name: Annotated[str, Form(max_length=200)]
) -> Response:
    """Create a token and show it, once."""
    store = app_state(request).project.store
    token, _record = users.create_token(store, who.user.username, name)
    tokens = users.list_tokens(store, who.user.username)
    return render(request, "account.html", {"tokens": tokens, "new_token": token}, 201)


@router.post("/account/tokens/{token_id}/revoke")
def account_token_revoke(request: Request, token_id: Id, who: Member) -> Response:
    """Revoke one of your tokens."""
    users.revoke_token(app_state(request).project.store, token_id, username=who.user.username)
    return RedirectResponse("/account", 303)
