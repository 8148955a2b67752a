"""The web app factory: one FastAPI app over one project, its middleware read top to bottom.

>>> from assay.web import create_app
>>> app = create_app("my-project")  # doctest: +SKIP
>>> # uvicorn.run(app)  or  `assay serve`
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import assay
from assay.jobs.launcher import Launcher
from assay.labels.committer import LabelCommitter
from assay.project import Project
from assay.sessions import LoginTokens, SessionStore
from assay.web import api, errors, pages
from assay.web.keys import load_or_create_secret_key
from assay.web.limiter import LoginLimiter
from assay.web.middleware import BodyLimit, SecurityHeaders
from assay.web.rendering import render_error, templates
from assay.web.state import AppState, WebSettings
from assay.web.urls import API_PREFIX

HERE = Path(__file__).resolve().parent


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
        templates=templates(),
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
    errors.install(app, render_error)
    app.add_middleware(
        BodyLimit,
        default=config.max_body_bytes,
        bulk=config.max_bulk_body_bytes,
        upload=config.max_upload_bytes,
    )
    app.add_middleware(SecurityHeaders)  # outermost: every response, errors included

    app.include_router(api.router, prefix=API_PREFIX)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app


def _normalized(settings: dict[str, Any]) -> dict[str, Any]:
    out = dict(settings)
    if "trusted_origins" in out:
        out["trusted_origins"] = tuple(out["trusted_origins"])
    if "media_roots" in out:
        out["media_roots"] = tuple(Path(p).expanduser().resolve() for p in out["media_roots"])
    return out
