"""What every request needs: the app's settings and shared state, kept on ``app.state.assay``.

Routes, pages and view modules read it with :func:`app_state`; only :mod:`assay.web.app`
builds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from fastapi import Request

from assay.jobs.launcher import Launcher
from assay.labels.committer import LabelCommitter
from assay.project import Project
from assay.sessions import LoginTokens, SessionStore
from assay.web.limiter import LoginLimiter
from assay.web.stats_cache import StatsCache


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
        The login rate limit (see ``assay.web.limiter.LoginLimiter``).
    max_jobs : int
        Background jobs (training, scans, maps) that may run at once, each in its own
        worker process (see ``assay.jobs``).
    max_body_bytes : int
        Largest request body accepted (JSON, forms); bigger ones get 413 (see
        :class:`assay.web.middleware.BodyLimit`). 2 MiB is far above any single-item request.
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


def app_state(request: Request) -> AppState:
    """The app's shared state (project, settings, sessions...)."""
    state: AppState = request.app.state.assay
    return state
