"""Users (admins only) and API tokens (everyone manages their own; admins everyone's)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from assay import users
from assay.web.auth import Admin, Member
from assay.web.params import Id
from assay.web.state import app_state

router = APIRouter(tags=["users"])
Role = Literal["admin", "reviewer", "annotator"]


class NewUser(BaseModel):
    """A user to create."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    role: Role = "annotator"


class UserChange(BaseModel):
    """Changes to a user; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    disabled: bool | None = None
    password: str | None = Field(None, min_length=1, max_length=1024)


class NewToken(BaseModel):
    """An API token to create."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


@router.get("/users")
def list_users(request: Request, who: Admin) -> dict[str, Any]:
    """Every account."""
    found = users.list_users(app_state(request).project.store)
    return {"ok": True, "users": [u.to_dict() for u in found]}


@router.post("/users", status_code=201)
def create_user(body: NewUser, request: Request, who: Admin) -> dict[str, Any]:
    """Create an account (409 if the username is taken)."""
    store = app_state(request).project.store
    user = users.create_user(store, body.username, body.password, role=body.role)
    return {"ok": True, "user": user.to_dict()}


@router.patch("/users/{username}")
def update_user(username: str, body: UserChange, request: Request, who: Admin) -> dict[str, Any]:
    """Change a user's role, disabled flag or password (disabling ends their sessions; a new
    password ends them and revokes the user's API tokens)."""
    store = app_state(request).project.store
    user = users.update_user(
        store, username, role=body.role, disabled=body.disabled, password=body.password
    )
    return {"ok": True, "user": user.to_dict()}


@router.get("/tokens")
def list_tokens(request: Request, who: Member, all: bool = False) -> dict[str, Any]:
    """Your API tokens (``all=true``: everyone's, for admins)."""
    store = app_state(request).project.store
    if all and not who.can("manage_users"):
        all = False
    found = users.list_tokens(store, None if all else who.user.username)
    return {"ok": True, "tokens": [tok.to_dict() for tok in found]}


@router.post("/tokens", status_code=201)
def create_token(body: NewToken, request: Request, who: Member) -> dict[str, Any]:
    """A new API token for yourself. The token is in this answer only: keep it."""
    store = app_state(request).project.store
    token, record = users.create_token(store, who.user.username, body.name)
    return {"ok": True, "token": token, **record.to_dict()}


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: Id, request: Request, who: Member) -> dict[str, Any]:
    """Revoke one of your tokens (admins: anyone's)."""
    owner = None if who.can("manage_users") else who.user.username
    record = users.revoke_token(app_state(request).project.store, token_id, username=owner)
    return {"ok": True, **record.to_dict()}
