"""Fixtures shared by the whole test suite.

* ``pg_server_url`` - a PostgreSQL server: ``$ASSAY_TEST_POSTGRES_URL`` if set, else a throwaway
  cluster started here from ``/usr/lib/postgresql/*/bin`` (as ``.ci/run`` does). Without either
  the PostgreSQL tests are skipped, unless ``ASSAY_REQUIRE_POSTGRES=1`` (CI), where they fail.
* ``store_url`` - parametrized ``sqlite`` / ``postgresql``: an SQLite file in ``tmp_path``, or a
  fresh database cloned from a migrated template (``CREATE DATABASE ... TEMPLATE``), dropped
  after the test.
* ``store`` - a migrated ``Store`` on ``store_url``, closed after the test.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
import sqlalchemy as sa

from assay.store.engine import Store

# Hub libraries read this once, when they are imported (which may happen while tests are
# collected), so set it at import time too; the session fixture below keeps it set.
os.environ["HF_HUB_OFFLINE"] = "1"

PG_URL_ENV = "ASSAY_TEST_POSTGRES_URL"
REQUIRE_PG_ENV = "ASSAY_REQUIRE_POSTGRES"
PG_TEMPLATE = "assay_template"
PG_USER = "assay"

_db_numbers = itertools.count(1)


@pytest.fixture(scope="session", autouse=True)
def _hf_hub_offline() -> Iterator[None]:
    """No test may reach a model hub: models must come from installed packages."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    yield


# ---------------------------------------------------------------------------------------------
# PostgreSQL server
# ---------------------------------------------------------------------------------------------


class _Unavailable(Exception):
    """PostgreSQL can't be had on this machine; the message says why."""


def _pg_unavailable(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_PG_ENV) == "1":
        pytest.fail(f"PostgreSQL not available ({REQUIRE_PG_ENV}=1): {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL not available: {reason}")


def _pg_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/N/bin`` with initdb and pg_ctl, else pg_ctl's on PATH."""

    def version(path: Path) -> int:
        match = re.fullmatch(r"\d+", path.parent.name)
        return int(match.group()) if match else -1

    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _last_lines(text: str, n: int = 3) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-n:]) or "(no output)"


def _start_postgres() -> tuple[str, Callable[[], None]]:
    """Start a throwaway cluster; return its URL and the function that stops and removes it."""
    bindir = _pg_bindir()
    if bindir is None:
        raise _Unavailable("no initdb/pg_ctl under /usr/lib/postgresql/*/bin or on PATH")
    prefix: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise _Unavailable("running as root and there is no 'postgres' user") from None
        if shutil.which("runuser") is None:
            raise _Unavailable("running as root and runuser is missing")
        prefix = ["runuser", "-u", "postgres", "--"]

    # /tmp, not $TMPDIR or pytest's tmp dirs: the postgres user must reach it, and the socket
    # path must stay short.
    root = Path(tempfile.mkdtemp(prefix="assay-test-pg.", dir="/tmp"))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    data, log = root / "data", root / "server.log"

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefix, *map(str, args)],
            cwd=root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def stop() -> None:
        try:
            if (data / "postmaster.pid").exists():
                run(bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(root, ignore_errors=True)

    try:
        done = run(
            bindir / "initdb", "-D", data, "-U", PG_USER, "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        if done.returncode != 0:
            raise _Unavailable(f"initdb failed: {_last_lines(done.stderr)}")
        for _attempt in range(3):  # the port may be taken between choosing and binding it
            port = _free_port()
            options = (
                f"-k {root} -p {port} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            done = run(bindir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60",
                       "-o", options, "start")  # fmt: skip
            if done.returncode == 0:
                return f"postgresql://{PG_USER}@127.0.0.1:{port}/postgres", stop
        server_log = log.read_text(errors="replace") if log.exists() else ""
        raise _Unavailable(f"pg_ctl start failed: {_last_lines(done.stderr + server_log)}")
    except BaseException:
        stop()
        raise


def _check_server(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute("SELECT 1")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a PostgreSQL server (database ``postgres``) whose user may create databases."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _pg_unavailable("psycopg is not installed (pip install -e '.[postgres]')")

    url = os.environ.get(PG_URL_ENV)
    if url:
        try:
            _check_server(url)
        except Exception as exc:
            pytest.fail(
                f"{PG_URL_ENV} is set but its server can't be reached: {exc}", pytrace=False
            )
        yield url
        return

    try:
        url, stop = _start_postgres()
    except (_Unavailable, OSError, subprocess.SubprocessError) as exc:
        _pg_unavailable(f"could not start a throwaway server: {exc}")
    try:
        _check_server(url)
        yield url
    finally:
        stop()


def _with_database(url: str, database: str) -> str:
    return sa.engine.make_url(url).set(database=database).render_as_string(hide_password=False)


def _admin(server_url: str, *statements: str) -> None:
    """Run statements on an autocommit connection (CREATE/DROP DATABASE can't be in a txn)."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as conn:
        for statement in statements:
            conn.execute(statement)


def _ident(name: str) -> str:
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", name), name
    return f'"{name}"'


@pytest.fixture(scope="session")
def _pg_template(pg_server_url: str) -> Iterator[str]:
    """Name of a database migrated to HEAD, cloned by ``store_url`` for each test."""
    name = _ident(PG_TEMPLATE)
    _admin(
        pg_server_url,
        f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
        f"CREATE DATABASE {name}",
    )
    store = Store(_with_database(pg_server_url, PG_TEMPLATE))
    try:
        store.migrate()
    finally:
        store.close()  # no connection may stay on a template while it is cloned
    yield PG_TEMPLATE
    with contextlib.suppress(Exception):
        _admin(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# ---------------------------------------------------------------------------------------------
# Stores on both backends
# ---------------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a test's store lives: an SQLite file path, or a ``postgresql://`` URL of a fresh,
    already migrated database of its own."""
    if request.param == "sqlite":
        yield str(tmp_path / "assay.db")
        return
    server: str = request.getfixturevalue("pg_server_url")
    template: str = request.getfixturevalue("_pg_template")
    database = f"assay_t_{next(_db_numbers)}"
    _admin(
        server,
        f"DROP DATABASE IF EXISTS {_ident(database)} WITH (FORCE)",
        f"CREATE DATABASE {_ident(database)} TEMPLATE {_ident(template)}",
    )
    try:
        yield _with_database(server, database)
    finally:
        _admin(server, f"DROP DATABASE IF EXISTS {_ident(database)} WITH (FORCE)")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated ``Store`` on ``store_url``."""
    s = Store(store_url)
    try:
        s.migrate()
        yield s
    finally:
        s.close()


# ---------------------------------------------------------------------------------------------
# Real data
# ---------------------------------------------------------------------------------------------

MNIST_DIR = Path(
    os.environ.get("ASSAY_MNIST_DIR")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-test"
)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST test set (shared/ beside the checkout): skipped locally, required in CI."""
    if (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        return MNIST_DIR
    reason = f"the MNIST test set is not at {MNIST_DIR} (set ASSAY_MNIST_DIR)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """A client of a real Dask LocalCluster (2 worker processes on 127.0.0.1), one for the
    session: starting and stopping a cluster takes seconds, and every Dask test only submits
    pure tasks to it. Tests that use it carry ``@pytest.mark.dask``, which runs them last
    (see below), so the cluster's threads start only after every other test."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        host="127.0.0.1",
    )  # fmt: skip
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the Dask tests last.

    A Dask client leaves threads running for the rest of the process, and imports and
    statistics only fork worker processes from a single-threaded process (assay.processes):
    run first, the Dask tests would silently switch every later test to the in-process path.
    """
    items.sort(key=lambda item: item.get_closest_marker("dask") is not None)


# ---------------------------------------------------------------------------------------------
# Migrating empty SQLite stores from a template
# ---------------------------------------------------------------------------------------------

_real_migrations = False  # set for tests marked ``real_migrations`` (see below)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture of ``item`` is set up: does it ask for real migrations?"""
    global _real_migrations
    _real_migrations = item.get_closest_marker("real_migrations") is not None


@pytest.fixture(scope="session", autouse=True)
def _sqlite_schema_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Migrate an empty SQLite store by copying a store migrated once per session.

    Hundreds of tests start from an empty SQLite file, and Alembic runs every migration script
    on each (about 0.15 s of CPU, and a second or more of wall time when the disk is busy).
    Here the first such store of the session is migrated by Alembic for real and kept as a
    template; every later upgrade of an *empty* SQLite store in this process copies it with
    SQLite's backup API, which gives the same pages: the same schema, indexes and
    ``alembic_version`` row. The migrations themselves still run for real: for the template
    itself, for PostgreSQL (its template database), for any store that is not empty (older
    revisions: tests/test_migrations.py, tests/ops/test_upgrade.py), in every subprocess
    (servers, CLI runs in a child process), and in tests marked ``real_migrations``.
    """
    import sqlite3

    from assay.store import migrate

    real_upgrade = migrate.upgrade
    template: list[Path] = []

    def empty_sqlite(store: Store) -> bool:
        if store.dialect != "sqlite" or store.engine.url.database in (None, "", ":memory:"):
            return False
        with store.read() as conn:
            return conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar() == 0

    def upgrade(store: Store) -> None:
        if _real_migrations or not empty_sqlite(store):
            real_upgrade(store)
            return
        if not template:
            path = tmp_path_factory.mktemp("sqlite-schema") / "template.db"
            first = Store(path)
            try:
                real_upgrade(first)
            finally:
                first.close()  # checkpoints the WAL into the file
            template.append(path)
        source = sqlite3.connect(template[0])
        raw = store.engine.raw_connection()
        try:
            source.backup(raw.driver_connection)  # type: ignore[arg-type]
        finally:
            raw.close()
            source.close()

    upgrade.__wrapped__ = real_upgrade  # type: ignore[attr-defined]  # for its own test
    migrate.upgrade = upgrade
    yield
    migrate.upgrade = real_upgrade


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo project, built once per session; each user (a web module's server, the demo
    model and quality tests) works on a copy of it (``helpers.demo_copy``), so what one writes
    never reaches another."""
    from assay.demo import build_demo

    root = tmp_path_factory.mktemp("demo-template") / "demo"
    build_demo(root).store.close()  # closed: the database files are whole to copy
    return root
