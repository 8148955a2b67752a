"""The accounts page (admins) and your own account with its API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from assay import users
from assay.web.auth import Admin, Member
from assay.web.params import Id
from assay.web.rendering import render
from assay.web.state import app_state

router = APIRouter(include_in_schema=False)


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
