"""HTTP errors and the one place every error becomes a response.

API paths (``/api/...``) get one JSON shape, built by :func:`error_body`::

    {"ok": false, "error": "No dataset named 'x'.", "errors": [], "status": 404}

Pages get ``error.html``; a page that needs a signed-in user redirects to ``/login`` instead.
Library errors map by meaning: NotFound 404 (but an unknown class 422: a class is a value in
a body or filter, never a path), PermissionDenied 403, Conflict 409, InvalidParameter and
DataFormatError 422, StoreBusy 503; a path under the project in their message is shown
relative to it. Anything unexpected is a 500 whose body says nothing about the server (no
traceback, no SQL, no paths); the exception is re-raised for the server log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from assay.errors import (
    AssayError,
    ClassNotFound,
    Conflict,
    DataFormatError,
    InvalidParameter,
    LayerNotFound,
    NotFound,
    PermissionDenied,
    StoreBusy,
    hide_paths,
)
from assay.store.queries import hint
from assay.users import AuthBusy

log = logging.getLogger("assay.web")
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


class HTTPError(Exception):
    """An error with an HTTP status; ``headers`` go on the response."""

    status = 400

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class Unauthorized(HTTPError):
    """No valid session or token (pages redirect to the login page instead)."""

    status = 401


class Forbidden(HTTPError):
    """Signed in, but the role or the CSRF token does not allow this."""

    status = 403


class TooManyRequests(HTTPError):
    """Rate-limited (login failures); ``Retry-After`` says when to try again."""

    status = 429


class ErrorBody(BaseModel):
    """The JSON body of every API error (the OpenAPI schema's description of it)."""

    ok: bool
    error: str
    errors: list[Any]
    status: int


# The errors any API route may answer with, documented on each (see api/__init__.py).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in [
        (400, "A body that cannot be read."),
        (401, "Not signed in: no session cookie or API token, or one that is not valid."),
        (403, "Your role does not allow it, or a missing CSRF token on a session write."),
        (404, "No such dataset, item, layer, case, run, map or job."),
        (409, "Conflicts with the current state (a frozen layer, a name in use...)."),
        (413, "The request body is too large."),
        (422, "Invalid parameters or body."),
        (429, "Too many failed sign-ins; see Retry-After."),
        (503, "The store is busy or unreachable; see Retry-After."),
    ]
}


def error_body(message: str, status: int, errors: list[Any] | None = None) -> dict[str, Any]:
    """The JSON body of every API error."""
    return {"ok": False, "error": message, "errors": errors or [], "status": status}


def status_of(exc: BaseException) -> int:
    """The HTTP status a library or HTTP error stands for."""
    if isinstance(exc, HTTPError):
        return exc.status
    if isinstance(exc, ClassNotFound):
        return 422  # a class is a value in a body or a filter, never a resource in the path
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, InvalidParameter | DataFormatError):
        return 422
    if isinstance(exc, StoreBusy | AuthBusy):
        return 503
    return 500


def is_api(request: Request) -> bool:
    """Whether the request is for the JSON API (errors as JSON) rather than a page."""
    return request.url.path.startswith("/api/")


ErrorPage = Callable[[Request, str, int, dict[str, str] | None], Response]


def _respond(
    request: Request,
    message: str,
    status: int,
    errors: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    headers = dict(headers or {})
    if status == 503:
        headers.setdefault("Retry-After", "5")
    if is_api(request):
        return JSONResponse(error_body(message, status, errors), status, headers=headers)
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", 303)
    page: ErrorPage = request.app.state.error_page
    return page(request, message, status, headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPError)
    return _respond(request, exc.message, exc.status, headers=exc.headers)


async def _assay_error(request: Request, exc: Exception) -> Response:
    status = status_of(exc)
    if status == 500:
        log.error("unexpected library error", exc_info=exc)
        return _respond(request, "Internal error: the server log has the details.", 500)
    if isinstance(exc, LayerNotFound):
        return _respond(request, _layer_not_found(request, exc), status)
    # A library message may name a file by its path: under the project, relative to it.
    root = request.app.state.assay.project.root
    return _respond(request, hide_paths(str(exc), {root: ""}), status)


def _layer_not_found(request: Request, exc: LayerNotFound) -> str:
    """The message, its hint drawn only from the layers the signed-in user may see (a blind
    annotator must not learn the other layers' names from a typo)."""
    who = getattr(request.state, "principal", None)
    if exc.name is None or who is None:
        return str(exc)
    visible = who.viewer.visible(exc.layers)
    if len(visible) == len(exc.layers):
        return str(exc)
    names = [layer.name for layer in visible]
    return f"No layer {exc.name!r} that you can see.{hint(exc.name, names, 'layers')}"


async def _starlette_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):
        # FastAPI's "error parsing the body" for JSON nested deeper than the parser goes.
        return _respond(request, "Invalid request: the JSON body is nested too deeply.", 422)
    messages = {404: "Not found.", 405: "Method not allowed."}
    message = messages.get(exc.status_code) or str(exc.detail)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return _respond(request, message, exc.status_code, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on the request's path (Starlette's own ``Allow`` names
    only the first route of the path, e.g. GET where POST is served too)."""
    found = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            found.append(method)
    return found


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Only where and what: pydantic's "input" would echo what was sent (passwords included).
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"][1:]) or "request"
    return _respond(request, f"Invalid {where}: {first['msg']}.", 422, errors)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _respond(request, "Internal error: the server log has the details.", 500)


def install(app: FastAPI, error_page: ErrorPage) -> None:
    """Register the handlers on ``app``; ``error_page`` renders the error of a page (not an
    API path), so this module needs nothing of the page rendering."""
    app.state.error_page = error_page
    app.add_exception_handler(HTTPError, _http_error)
    app.add_exception_handler(AssayError, _assay_error)
    app.add_exception_handler(StarletteHTTPException, _starlette_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
