"""Who is asking and what they may do: sessions or tokens, CSRF, roles.

Every route but the login page and static files depends on :func:`principal` (through
:func:`require`), so access is denied by default. A request is signed in by

* ``Authorization: Bearer assay_...``: an API token. Only the header counts, so a request
  carrying a token is never let in by a cookie instead; and as it carries no ambient
  credentials, it needs no CSRF token.
* the ``assay_session`` cookie: then every state-changing request (anything but GET, HEAD,
  OPTIONS) must send the session's CSRF token as ``X-CSRF-Token`` or as the form field
  ``csrf_token``, and an ``Origin`` header, when sent, must name this server.

Roles (``PERMISSIONS``): admins may do everything, reviewers review, manage layers and label
any unfrozen layer, annotators label only the layers they own (and may create layers of their
own); everyone may flag an item for review. What a user may see and write (layers, filters,
review cases, jobs, models; blind mode) is decided by their :class:`assay.access.Viewer`,
built once per request with the principal (``who.viewer``).

Signing in and out is :mod:`assay.web.login`; its rate limit :mod:`assay.web.limiter`.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from assay.access import Viewer
from assay.sessions import COOKIE, Session
from assay.users import User, cached_user_for_token, user_for_token
from assay.web.errors import Forbidden, Unauthorized
from assay.web.state import AppState, app_state

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"

PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset({"admin", "reviewer", "annotator"}),
    "own_tokens": frozenset({"admin", "reviewer", "annotator"}),
    "label": frozenset({"admin", "reviewer", "annotator"}),
    "flag": frozenset({"admin", "reviewer", "annotator"}),
    "review": frozenset({"admin", "reviewer"}),
    "manage_layers": frozenset({"admin", "reviewer"}),
    "manage_users": frozenset({"admin"}),
}


@dataclass(frozen=True)
class Principal:
    """The signed-in user of a request, how they signed in, and their access rules."""

    user: User
    via: str  # "session" or "token"
    session: Session | None = None
    viewer: Viewer = field(kw_only=True)

    @property
    def csrf_token(self) -> str | None:
        return self.session.csrf_token if self.session else None

    def can(self, permission: str) -> bool:
        """Whether the user's role grants ``permission`` (unknown permissions: never)."""
        return self.user.role in PERMISSIONS.get(permission, frozenset())


# -- finding the principal --------------------------------------------------------------------


def authenticate_request(request: Request) -> Principal | None:
    """The principal a request's token or session cookie names, or None."""
    state = app_state(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        user = user_for_token(state.project.store, token.strip())
        return _signed(state, user, "token") if user else None
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    session = state.sessions.find(cookie)
    return _signed(state, session.user, "session", session) if session else None


def _signed(state: AppState, user: User, via: str, session: Session | None = None) -> Principal:
    """The principal, with the viewer that applies the server's blind mode to them."""
    viewer = Viewer.of(user, blind_mode=state.settings.blind)
    return Principal(user, via, session, viewer=viewer)


def _cached_token_principal(request: Request) -> Principal | None:
    """The principal of a bearer token this process found valid a moment ago (no database
    read and no thread: see ``users.TOKEN_CACHE_S``), else None."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    state = app_state(request)
    user = cached_user_for_token(state.project.store, token.strip())
    return _signed(state, user, "token") if user else None


async def principal(request: Request) -> Principal:
    """The signed-in principal (401 without one; 403 on a session write without CSRF)."""
    found = getattr(request.state, "principal", None)
    if found is None:
        found = _cached_token_principal(request)
        if found is None:
            found = await run_in_threadpool(authenticate_request, request)
        if found is None:
            raise Unauthorized("Sign in first: send a session cookie or an API token.")
        # Pages render the signed-in user from here, whichever way the token was found.
        request.state.principal = found
    if found.via == "session" and request.method not in SAFE_METHODS:
        await check_csrf(request, found)
    return found


async def check_csrf(request: Request, who: Principal) -> None:
    """Refuse a cookie-authenticated write without the session's CSRF token."""
    check_origin(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and _is_form(request):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    expected = who.csrf_token
    if not sent or not expected or not secrets.compare_digest(sent, expected):
        raise Forbidden(
            "Missing or wrong CSRF token: send the session's token as the X-CSRF-Token header "
            "or the csrf_token form field (reload the page to get a fresh one)."
        )


def check_origin(request: Request) -> None:
    """Refuse a write whose ``Origin`` names another site (a missing Origin is allowed)."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    trusted = app_state(request).settings.trusted_origins
    host = request.headers.get("host", "")
    if origin == "null" or (urlsplit(origin).netloc != host and origin not in trusted):
        raise Forbidden(f"Cross-site request refused (Origin {origin!r} is not this server).")


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


Signed = Annotated[Principal, Depends(principal)]


def require(permission: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the principal, if their role grants ``permission`` (else 403)."""

    async def dependency(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if not who.can(permission):
            raise Forbidden(f"Your role ({who.user.role}) may not {permission.replace('_', ' ')}.")
        return who

    return dependency


# -- signing in -------------------------------------------------------------------------------


def client_address(request: Request) -> str:
    """The client's address (uvicorn's --proxy-headers makes it the real one behind a proxy)."""
    return request.client.host if request.client else "unknown"


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else (other sites, ``//x``) becomes ``/``."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ch in target for ch in "\\\t\r\n") or urlsplit(target).netloc:
        return "/"
    return target


# The roles a route may require, as FastAPI dependencies (the one place they are spelled).
Admin = Annotated[Principal, Depends(require("manage_users"))]
Flagger = Annotated[Principal, Depends(require("flag"))]
Labeler = Annotated[Principal, Depends(require("label"))]
LayerAdmin = Annotated[Principal, Depends(require("manage_layers"))]
Member = Annotated[Principal, Depends(require("own_tokens"))]
Reader = Annotated[Principal, Depends(require("read"))]
Reviewer = Annotated[Principal, Depends(require("review"))]
