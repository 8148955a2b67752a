"""The app factory uvicorn calls in each worker process of ``assay serve --workers N``.

Several processes serve one project: sessions, tokens, labels and jobs live in the store, so
any process can answer any request. What stays per process: caches (statistics, map points)
and the login rate limit's counters (so with N workers a password is tried at most N times
the limit per window; keep N small or put the limit in the proxy too).
"""

from __future__ import annotations

import json
import os

from fastapi import FastAPI

import assay
from assay.web.app import create_app

PROJECT_ENV = "ASSAY_WEB_PROJECT"
DB_ENV = "ASSAY_WEB_DB"
SETTINGS_ENV = "ASSAY_WEB_SETTINGS"


def environment(project_root: str, db_url: str, settings: dict[str, object]) -> dict[str, str]:
    """The variables :func:`app_from_env` reads, for the worker processes."""
    return {
        PROJECT_ENV: project_root,
        DB_ENV: db_url,
        SETTINGS_ENV: json.dumps(settings, default=str),
    }


def app_from_env() -> FastAPI:
    """A web app on the project the environment names (see :func:`environment`)."""
    project = assay.open(os.environ[PROJECT_ENV], db=os.environ.get(DB_ENV) or None)
    settings = json.loads(os.environ.get(SETTINGS_ENV) or "{}")
    return create_app(project, owns_project=True, **settings)
