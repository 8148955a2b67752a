"""Fixtures for the web app: a project with small datasets, users in every role, clients.

* ``web_project`` - a project on SQLite and on PostgreSQL with datasets
  ``digits`` (images in the store), ``texts`` (JSONL, with HTML in a text, a class name and a
  layer name) and ``other`` (to check that items never cross datasets); users ``admin``,
  ``reviewer`` and ``annotator`` (who owns layer ``ann``), each with password ``PASSWORD``.
* ``app`` / ``client`` - the app on that project and a TestClient (not signed in);
  ``web_helpers.login(client, user)`` signs a client in and returns its CSRF token.

Password hashing uses argon2 with tiny parameters here (tests sign in hundreds of times);
``test_web_auth.py`` checks the real parameters separately.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from web_helpers import PASSWORD, XSS, XSS_CLASS

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
