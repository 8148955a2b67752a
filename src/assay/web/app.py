"""The web app factory: one FastAPI app over one project, its middleware read top to bottom.

>>> from assay.web import create_app
>>> app = create_app("my-project")  # doctest: +SKIP
>>> # uvicorn.run(app)  or  `assay serve`
"""

from __future__ import annotations

import gc
import json
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import assay
from assay.jobs.launcher import Launcher
from assay.labels.committer import LabelCommitter
from assay.project import Project
from assay.web import errors
from assay.web.auth import LoginLimiter
from assay.web.keys import load_or_create_secret_key
from assay.web.sessions import LoginTokens, SessionStore
from assay.web.stats_cache import StatsCache

HERE = Path(__file__).resolve().parent
API_PREFIX = "/api/v1"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@dataclass(frozen=True)
class WebSettings:
    """The web app's settings (``create_app`` keyword arguments).

    Attributes
    ----------
    session_ttl_s : int
        How long a browser session lasts after sign-in.
    blind : bool
        Annotators see only the layers they own (no other annotator's labels).
    secure_cookies : bool or None
        Send cookies only over HTTPS; None: when the request came over HTTPS.
    trusted_origins : tuple of str
        Extra ``Origin`` values accepted on writes (e.g. a proxy's public URL).
    media_roots : tuple of Path
        If set, image files are served only from inside these folders.
    login_failures_per_user, login_failures_per_address, login_window_s : int
        The login rate limit (see ``assay.web.auth.LoginLimiter``).
    max_jobs : int
        Background jobs (training, scans, maps) that may run at once, each in its own
        worker process (see ``assay.jobs``).
    max_body_bytes : int
        Largest request body accepted (JSON, forms); bigger ones get 413 (see
        :class:`BodyLimit`). 2 MiB is far above any single-item request.
    max_bulk_body_bytes : int
        The same for the two bulk endpoints (``POST .../labels``, ``POST .../selections``):
        24 MiB holds the largest bulk label write (100,000 ids of up to 19 digits is 2.1 MB)
        and a selection of 2,000,000 ids below 10^10 (12 bytes each with ``", "``).
    max_upload_bytes : int
        The same for file uploads (``POST .../imports``), which stream to disk, never to
        memory: 2 GiB.
    freeze_gc : bool
        At startup, move every object alive then out of the garbage collector's sight
        (``gc.freeze()``), as ``assay serve`` does. The imports (SQLAlchemy, FastAPI, numpy
        ...) leave hundreds of thousands of long-lived objects that every full collection
        scanned again: pauses of up to 180 ms that were the slowest 5 % of label writes under
        load. Off by default, for apps made inside other programs (and the tests).
    """

    session_ttl_s: int = 14 * 24 * 3600
    blind: bool = False
    secure_cookies: bool | None = None
    trusted_origins: tuple[str, ...] = ()
    media_roots: tuple[Path, ...] = ()
    login_failures_per_user: int = 5
    login_failures_per_address: int = 20
    login_window_s: int = 60
    max_jobs: int = 1
    max_body_bytes: int = 2 * 1024 * 1024
    max_bulk_body_bytes: int = 24 * 1024 * 1024
    max_upload_bytes: int = 2 * 1024**3
    freeze_gc: bool = False


@dataclass
class AppState:
    """What every request needs, kept on ``app.state.assay``."""

    project: Project
    settings: WebSettings
    sessions: SessionStore
    login_tokens: LoginTokens
    limiter: LoginLimiter
    templates: jinja2.Environment
    labels: LabelCommitter
    jobs: Launcher
    stats: StatsCache = field(default_factory=StatsCache)


def create_app(
    project: Project | str | os.PathLike[str],
    *,
    secret_key: str | None = None,
    owns_project: bool = False,
    **settings: Any,
) -> FastAPI:
    """The ASGI app serving ``project`` (a Project, or the path of one to open).

    Parameters
    ----------
    project : Project or path
        The project to serve. A path is opened here and closed when the app shuts down.
    owns_project : bool
        Close ``project`` when the app shuts down (as for a path).
    secret_key : str, optional
        Signs the session cookies. By default the project's own random key, made on first
        use in ``.assay/secret_key`` (mode 0600), so sessions survive restarts.
    **settings
        Fields of :class:`WebSettings` (``blind=True``, ``media_roots=[...]`` ...).
    """
    owned = owns_project or not isinstance(project, Project)
    proj = assay.open(project) if not isinstance(project, Project) else project
    config = WebSettings(**_normalized(settings))
    key = secret_key or load_or_create_secret_key(proj.root)
    state = AppState(
        project=proj,
        settings=config,
        sessions=SessionStore(proj.store, key, timedelta(seconds=config.session_ttl_s)),
        login_tokens=LoginTokens(key),
        limiter=LoginLimiter(
            config.login_failures_per_user,
            config.login_failures_per_address,
            config.login_window_s,
        ),
        templates=_templates(),
        # Single label writes from many annotators share commits (one fsync per batch).
        labels=LabelCommitter(proj.store),
        jobs=Launcher(proj, max_running=config.max_jobs),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if config.freeze_gc:
            gc.collect()
            gc.freeze()
        yield
        state.jobs.close()
        state.labels.close()
        if owned:
            proj.close()

    app = FastAPI(
        title="Assay",
        version=assay.__version__,
        openapi_url=None,  # served under the API prefix, behind sign-in (api/meta.py)
        docs_url=None,  # FastAPI's docs pages load scripts from a CDN: not here
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.assay = state
    errors.install(app)
    app.add_middleware(
        BodyLimit,
        default=config.max_body_bytes,
        bulk=config.max_bulk_body_bytes,
        upload=config.max_upload_bytes,
    )
    app.add_middleware(SecurityHeaders)  # outermost: every response, errors included

    from assay.web import api, pages, pages_jobs, pages_map, pages_models, pages_work

    app.include_router(api.router, prefix=API_PREFIX)
    app.include_router(pages.router)
    app.include_router(pages_work.router)
    app.include_router(pages_models.router)
    app.include_router(pages_map.router)
    app.include_router(pages_jobs.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app


def _normalized(settings: dict[str, Any]) -> dict[str, Any]:
    out = dict(settings)
    if "trusted_origins" in out:
        out["trusted_origins"] = tuple(out["trusted_origins"])
    if "media_roots" in out:
        out["media_roots"] = tuple(Path(p).expanduser().resolve() for p in out["media_roots"])
    return out


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from assay.web.pages import FILTERS

    env.filters.update(FILTERS)
    return env


class SecurityHeaders:
    """Adds the security headers (CSP, nosniff, no framing, referrer policy) to every response.

    A plain ASGI middleware: it only touches the response start, never the body. Headers a
    response already set (the sandbox CSP of media files) are kept.
    """

    HEADERS = (
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in self.HEADERS if k not in present]
                if b"cache-control" not in present and not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                if https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


# Bulk writes whose bodies may legitimately be larger than the default limit.
BULK_PATHS = re.compile(rf"^{re.escape(API_PREFIX)}/datasets/[^/]+/(?:labels|selections)$")
# File uploads (streamed to disk by api/imports.py), with their own, larger limit.
UPLOAD_PATHS = re.compile(rf"^{re.escape(API_PREFIX)}/datasets/[^/]+/imports$")


class BodyLimit:
    """Refuses request bodies over a size limit with 413 and the API's JSON error.

    A plain ASGI middleware, so no body is ever held whole before it is measured: a
    ``Content-Length`` over the limit is refused before a byte of the body is read, and a body
    without one (chunked) is counted as it streams in; once past the limit the app's read
    fails and whatever it answered is replaced by the 413. Memory per request thus stays
    within the limit, whatever the client sends.
    """

    def __init__(self, app: ASGIApp, *, default: int, bulk: int, upload: int | None = None) -> None:
        self.app = app
        self.default = default
        self.bulk = bulk
        self.upload = default if upload is None else upload

    def limit_for(self, method: str, path: str) -> int:
        """The body limit of a request (bulk writes and uploads get larger ones)."""
        if method == "POST" and UPLOAD_PATHS.match(path):
            return self.upload
        return self.bulk if method == "POST" and BULK_PATHS.match(path) else self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise StarletteHTTPException(413, _too_large(limit))
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:  # the app's own answer to the failed read is replaced below
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _refuse(send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int) -> str:
    return f"Request body too large: at most {limit:,} bytes."


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps(errors.error_body(_too_large(limit), 413)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
