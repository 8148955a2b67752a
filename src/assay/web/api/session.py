"""Signing in and out, and who the caller is."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from assay.web.auth import CSRF_HEADER, PERMISSIONS, Signed
from assay.web.login import issue_login_token, set_session_cookie, sign_in, sign_out

router = APIRouter(tags=["session"])


class Login(BaseModel):
    """Credentials for ``POST /login``."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


@router.get("/login")
def login_token(request: Request, response: Response) -> dict[str, Any]:
    """A CSRF token for ``POST /login`` (also set, signed, in a cookie that must come back)."""
    return {"ok": True, "csrf_token": issue_login_token(request, response)}


@router.post("/login")
def login(
    body: Login,
    request: Request,
    response: Response,
    csrf: str | None = Header(None, alias=CSRF_HEADER),
) -> dict[str, Any]:
    """Sign in with a username and password: sets the session cookie.

    Returns the user and the session's CSRF token, to send as ``X-CSRF-Token`` on writes.
    Five failures per username and address within a minute answer 429 until it has passed.
    """
    cookie, session = sign_in(request, body.username, body.password, csrf)
    set_session_cookie(request, response, cookie)
    return {"ok": True, "user": session.user.to_dict(), "csrf_token": session.csrf_token}


@router.post("/logout")
def logout(request: Request, response: Response, who: Signed) -> dict[str, Any]:
    """End the current session (with an API token this does nothing: revoke the token)."""
    sign_out(request, response, who.session)
    return {"ok": True}


@router.get("/whoami")
def whoami(who: Signed) -> dict[str, Any]:
    """The signed-in user, how they signed in, and what their role allows."""
    return {
        "ok": True,
        "user": who.user.to_dict(),
        "via": who.via,
        "csrf_token": who.csrf_token,
        "permissions": sorted(p for p, roles in PERMISSIONS.items() if who.user.role in roles),
    }
