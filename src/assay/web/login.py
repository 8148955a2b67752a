"""Signing in and out, shared by the login page and ``/api/v1/login``.

Order of checks on a login: the login CSRF token, then the rate limit, then the password
(argon2, in a worker thread). A wrong username and a wrong password get the same answer.
"""

from __future__ import annotations

from fastapi import Request, Response

from assay.sessions import COOKIE, LOGIN_COOKIE, Session
from assay.users import authenticate
from assay.web.auth import client_address
from assay.web.errors import Forbidden, Unauthorized
from assay.web.state import app_state

LOGIN_TOKEN_TTL_S = 3600


def _secure(request: Request) -> bool:
    configured = app_state(request).settings.secure_cookies
    return request.url.scheme == "https" if configured is None else configured


def issue_login_token(request: Request, response: Response) -> str:
    """A fresh login-form CSRF token; its signed twin goes into a short-lived cookie."""
    token, cookie = app_state(request).login_tokens.issue()
    set_login_cookie(request, response, cookie)
    return token


def set_login_cookie(request: Request, response: Response, cookie: str) -> None:
    """Put the signed login token on ``response`` (HttpOnly, SameSite=Strict, one hour)."""
    response.set_cookie(
        LOGIN_COOKIE,
        cookie,
        max_age=LOGIN_TOKEN_TTL_S,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
    )


def sign_in(
    request: Request, username: str, password: str, token: str | None
) -> tuple[str, Session]:
    """Check a login; returns the session cookie value and the new session.

    Raises Forbidden (no or wrong login token), TooManyRequests (rate limit) or
    Unauthorized (wrong username or password, or a disabled account). A session the request
    already had is ended: every sign-in starts a new one.
    """
    state = app_state(request)
    if not state.login_tokens.check(request.cookies.get(LOGIN_COOKIE), token):
        raise Forbidden(
            "Missing or wrong CSRF token for the login: load the login page (or GET "
            "/api/v1/login) first and send its csrf_token."
        )
    address = client_address(request)
    state.limiter.check(username, address)
    user = authenticate(state.project.store, username, password)
    if user is None:
        state.limiter.failed(username, address)
        raise Unauthorized("Wrong username or password.")
    state.limiter.succeeded(username, address)
    # No session fixation: whatever session the browser had before is ended, and the new
    # one gets a fresh random id (a cookie planted before sign-in is worth nothing after).
    previous = request.cookies.get(COOKIE)
    if previous and (old := state.sessions.find(previous)) is not None:
        state.sessions.end(old)
    return state.sessions.create(user)


def set_session_cookie(request: Request, response: Response, value: str) -> None:
    """Put the session cookie on ``response`` (HttpOnly, SameSite=Lax, Secure over HTTPS)."""
    response.set_cookie(
        COOKIE,
        value,
        max_age=app_state(request).settings.session_ttl_s,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/")


def sign_out(request: Request, response: Response, session: Session | None) -> None:
    """End the session (if any) and clear its cookie."""
    if session is not None:
        app_state(request).sessions.end(session)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
