"""Fixtures for the web app: a project with small datasets, users in every role, clients.

* ``web_project`` - a project on SQLite and on PostgreSQL with datasets
  ``digits`` (images in the store), ``texts`` (JSONL, with HTML in a text, a class name and a
  layer name) and ``other`` (to check that items never cross datasets); users ``admin``,
  ``reviewer`` and ``annotator`` (who owns layer ``ann``), each with password ``PASSWORD``.
* ``app`` / ``client`` - the app on that project and a TestClient (not signed in);
  ``web_helpers.login(client, user)`` signs a client in and returns its CSRF token.
* ``browser`` / ``live`` / ``page`` - for the browser tests: Debian's Chromium, a uvicorn
  server on the demo project (one per test module) and a signed-in page.

Password hashing uses argon2 with tiny parameters here (tests sign in hundreds of times);
``test_web_auth.py`` checks the real parameters separately.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from web_helpers import PASSWORD, XSS, XSS_CLASS, serve

import assay
from assay import users
from assay.ingest.arrays import import_arrays
from assay.project import Project

FAST_HASHER = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters (the real ones cost ~150 ms per hash)."""
    monkeypatch.setattr(users, "_hasher", FAST_HASHER)
    monkeypatch.setattr(users, "_dummy_hash", None)


def _digits(project: Project, name: str, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 8, 8), dtype=np.uint8)
    labels = [str(i % 3) for i in range(n)]
    splits = iter(["train" if i % 4 else "test" for i in range(n)])
    import_arrays(
        project.store,
        [(images, labels)],
        dataset=name,
        source="test",
        format="demo",
        total=n,
        splits=splits,
    )


def _texts(project: Project, folder: Path) -> None:
    path = folder / "texts.jsonl"
    records = [
        {"text": XSS, "label": XSS_CLASS},
        {"text": "a plain sentence", "label": "plain"},
        {"text": "another one", "label": "plain"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    project.import_path(path, dataset="texts", label_field="label")


def _fill(project: Project, folder: Path) -> None:
    """Put the test datasets, layers, labels and users into ``project``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(users, "_hasher", FAST_HASHER)
        for role in users.ROLES:  # one user per role, named after it
            users.create_user(project.store, role, PASSWORD, role=role)
    _digits(project, "digits", 30, seed=0)
    _digits(project, "other", 5, seed=1)
    _texts(project, folder)
    digits = project.dataset("digits")
    digits.create_layer("ann", owner="annotator")
    digits.create_layer("frozen")
    digits.freeze_layer("frozen")
    texts = project.dataset("texts")
    texts.create_layer(XSS)
    texts.set_label("0", XSS_CLASS, layer=XSS, author="admin", note=XSS)


# The filled store is built once per backend and copied for each test (an SQLite file copy,
# or PostgreSQL's CREATE DATABASE ... TEMPLATE): building it takes half a second.


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("web-template")
    project = assay.init(folder / "proj")
    try:
        _fill(project, folder)
    finally:
        project.close()  # checkpoints the WAL into the file
    return folder / "proj" / "assay.db"


def _pg(server: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True, connect_timeout=10) as conn:
        for statement in statements:
            conn.execute(statement)


def _pg_url(server: str, database: str) -> str:
    return sa.engine.make_url(server).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _pg_web_template(
    pg_server_url: str, _pg_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    name = "assay_web_template"
    _pg(
        pg_server_url,
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        f'CREATE DATABASE "{name}" TEMPLATE "{_pg_template}"',
    )
    folder = tmp_path_factory.mktemp("web-template-pg")
    project = assay.init(folder / "proj", db=_pg_url(pg_server_url, name))
    try:
        _fill(project, folder)
    finally:
        project.close()  # no connection may stay on a template while it is cloned
    yield name
    _pg(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def web_project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    """The project every web test works on (see the module docstring), on each backend."""
    root = tmp_path / "proj"
    root.mkdir()
    dropped: list[str] = []
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        shutil.copyfile(template, root / "assay.db")
        project = assay.init(root)
    else:
        server: str = request.getfixturevalue("pg_server_url")
        source: str = request.getfixturevalue("_pg_web_template")
        database = f"assay_w_{next(_numbers)}"
        _pg(server, f'CREATE DATABASE "{database}" TEMPLATE "{source}"')
        dropped.append(database)
        project = assay.init(root, db=_pg_url(server, database))
    try:
        yield project
    finally:
        project.close()
        for database in dropped:
            _pg(
                request.getfixturevalue("pg_server_url"), f'DROP DATABASE "{database}" WITH (FORCE)'
            )


@pytest.fixture
def app(web_project: Project) -> FastAPI:
    """The web app on ``web_project``."""
    from assay.web import create_app

    return create_app(web_project)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client that is not signed in (redirects are not followed)."""
    with TestClient(app, follow_redirects=False) as c:
        yield c


# -- the browser tests -------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser tests need Chromium under CI: {reason}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium (never a downloaded browser build)."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, _demo_template: Path
) -> Iterator[dict[str, Any]]:
    """A running server on the demo project (one per test module); yields its URL, the demo
    login and the project (to check what the pages wrote)."""

    from assay.cli.web_cmd import ensure_demo_login

    folder = tmp_path_factory.mktemp("browser")
    shutil.copytree(_demo_template, folder / "demo")
    project = assay.open(folder / "demo")
    texts = folder / "texts.jsonl"
    texts.write_text(
        json.dumps({"text": XSS, "label": XSS_CLASS}) + "\n" + json.dumps({"text": "ok"}) + "\n",
        encoding="utf-8",
    )
    project.import_path(texts, dataset="texts", label_field="label")
    project.dataset("texts").create_layer(XSS)
    user, password = ensure_demo_login(project)
    with serve(project) as url:
        yield {"url": url, "user": user, "password": password, "project": project}


@pytest.fixture(scope="module")
def signed_in_state(browser: Any, live: dict[str, Any]) -> dict[str, Any]:
    """The cookies of a browser that signed in through the login form."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(live["url"] + "/")
    page.fill("input[name=username]", live["user"])
    page.fill("input[name=password]", live["password"])
    page.click("button[type=submit]")
    page.wait_for_url(live["url"] + "/")
    state: dict[str, Any] = context.storage_state()
    context.close()
    return state


@pytest.fixture
def page(browser: Any, signed_in_state: dict[str, Any]) -> Iterator[Any]:
    """A signed-in page; any dialog (alert) or uncaught error fails the test."""
    context = browser.new_context(
        storage_state=signed_in_state, viewport={"width": 1280, "height": 860}
    )
    tab = context.new_page()
    problems: list[str] = []
    tab.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    yield tab
    context.close()
    assert problems == []
