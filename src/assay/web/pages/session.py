"""The sign-in page and signing out (the JSON twin: ``api/session.py``; the checks:
:mod:`assay.web.login`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from assay.web.auth import Signed, authenticate_request, safe_next
from assay.web.errors import HTTPError
from assay.web.login import set_login_cookie, set_session_cookie, sign_in, sign_out
from assay.web.rendering import render
from assay.web.state import app_state

router = APIRouter(include_in_schema=False)
TextParam = Annotated[str, Query(max_length=2000)]


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
