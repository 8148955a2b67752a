"""Session fixation, logout on the server, the real password hashing parameters, and no
server-side request to an address a user chooses (SSRF)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_helpers import PASSWORD, login

from assay import jobs, users
from assay.errors import AssayError
from assay.project import Project
from assay.store import schema as t

# The hasher users.py really uses (the web tests' autouse fixture swaps in a cheap one).
REAL_HASHER = users._hasher
# OWASP Password Storage Cheat Sheet, argon2id: equivalent (memory KiB, iterations) settings.
OWASP_ARGON2ID = [(47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5)]


def _session_cookie(response: Any) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("assay_session="):
            return str(header.split(";")[0].split("=", 1)[1])
    raise AssertionError("no session cookie was set")


def _page_login(client: TestClient, username: str) -> Any:
    # (GET /login redirects a browser that is signed in already; the form's token is this.)
    token = client.get("/api/v1/login").json()["csrf_token"]
    data = {"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"}
    response = client.post("/login", data=data)
    assert response.status_code == 303
    return response


def test_a_planted_cookie_is_not_the_session_after_sign_in(client: TestClient) -> None:
    planted = "attacker-chosen-value"
    client.cookies.set("assay_session", planted, domain="testserver.local", path="/")
    issued = _session_cookie(_page_login(client, "admin"))
    assert issued != planted and planted not in issued
    assert client.get("/api/v1/whoami").json()["user"]["username"] == "admin"


@pytest.mark.parametrize("how", ["api", "page"])
def test_sign_in_ends_the_session_the_browser_had(
    app: FastAPI, client: TestClient, how: str
) -> None:
    """An attacker's own valid session, planted in a victim's browser, does not become the
    victim's: signing in issues a new session and ends the old one on the server."""
    with TestClient(app) as attacker:
        login(attacker, "annotator")
        planted = attacker.cookies["assay_session"]
        old_csrf = attacker.get("/api/v1/whoami").json()["csrf_token"]
    client.cookies.set("assay_session", planted, domain="testserver.local", path="/")
    assert client.get("/api/v1/whoami").json()["user"]["username"] == "annotator"

    if how == "api":
        csrf = login(client, "reviewer")
        fresh = client.cookies["assay_session"]
    else:
        fresh = _session_cookie(_page_login(client, "reviewer"))
        client.cookies.set("assay_session", fresh, domain="testserver.local", path="/")
        csrf = client.get("/api/v1/whoami").json()["csrf_token"]
    assert fresh != planted and csrf != old_csrf
    me = client.get("/api/v1/whoami").json()
    assert me["user"]["username"] == "reviewer"

    with TestClient(
        app, follow_redirects=False
    ) as replay:  # the planted cookie is dead, for the attacker too
        replay.cookies.set("assay_session", planted)
        assert replay.get("/api/v1/whoami").status_code == 401
        assert replay.get("/datasets/digits").status_code in (303, 307)


def test_page_logout_ends_the_session_on_the_server(app: FastAPI, client: TestClient) -> None:
    cookie = _session_cookie(_page_login(client, "admin"))
    client.cookies.set("assay_session", cookie, domain="testserver.local", path="/")
    csrf = client.get("/api/v1/whoami").json()["csrf_token"]
    out = client.post("/logout", data={"csrf_token": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    with TestClient(app, follow_redirects=False) as replay:
        replay.cookies.set("assay_session", cookie)
        assert replay.get("/api/v1/whoami").status_code == 401
        assert replay.get("/").status_code == 303
        write = replay.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
        assert write.status_code == 401


def test_stored_hashes_are_argon2id_with_owasp_parameters(
    web_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(users, "_hasher", REAL_HASHER)
    users.create_user(web_project.store, "hashed", PASSWORD)
    with web_project.store.read() as conn:
        stored = conn.execute(
            sa.select(t.users.c.password_hash).where(t.users.c.username == "hashed")
        ).scalar_one()
    found = re.fullmatch(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[^$]+\$[^$]+", stored)
    assert found, stored
    m, t_cost, p = (int(g) for g in found.groups())
    assert any(m >= mm and t_cost >= tt for mm, tt in OWASP_ARGON2ID), (m, t_cost)
    assert p >= 1
    assert PASSWORD not in stored
    assert users.authenticate(web_project.store, "hashed", PASSWORD) is not None


# -- SSRF ---------------------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, int]]:
    """A TCP listener on loopback that nothing should ever connect to."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    try:
        yield sock, int(sock.getsockname()[1])
    finally:
        sock.close()


def _connections(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def test_imports_take_no_url(
    web_project: Project, listener: tuple[socket.socket, int], tmp_path: Path
) -> None:
    sock, port = listener
    for url in (
        f"http://127.0.0.1:{port}/x.csv",
        f"https://127.0.0.1:{port}/x.jsonl",
        f"ftp://127.0.0.1:{port}/x.csv",
        f"file://{tmp_path}/x.csv",
        f"//127.0.0.1:{port}/share/x.csv",
    ):
        with pytest.raises(AssayError, match="never URLs; download it first"):
            web_project.import_path(url, dataset="fetched")
        for fmt in ("table", "jsonl", "images"):
            with pytest.raises(AssayError):
                web_project.import_path(url, dataset="fetched", format=fmt)
    # An image list naming a URL instead of a file.
    folder = tmp_path / "imgs"
    folder.mkdir()
    from PIL import Image

    Image.new("L", (4, 4)).save(folder / "a.png")
    listing = tmp_path / "labels.csv"
    listing.write_text(f"filename,label\nhttp://127.0.0.1:{port}/b.png,x\n", encoding="utf-8")
    with pytest.raises(AssayError, match="no file"):
        web_project.import_path(folder, dataset="fetched", labels=listing)
    assert _connections(sock) == 0
    assert "fetched" not in [d["name"] for d in web_project.datasets()]


def test_no_route_takes_a_model_server_url(app: FastAPI, client: TestClient) -> None:
    """Model servers are named only in the project's assay.toml (by whoever runs the server):
    no API parameter, body field or job parameter can name a URL or a server to call."""
    login(client, "admin")
    schema = client.get("/api/v1/openapi.json").json()
    suspicious = re.compile(r"(^|_)(url|uri|server|host|endpoint|address|webhook)s?($|_)", re.I)

    def names(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.get("properties", {}).items():
                yield key
                yield from names(value)
            for key, value in node.items():
                if key != "properties":
                    yield from names(value)
        elif isinstance(node, list):
            for value in node:
                yield from names(value)

    params = [
        p["name"]
        for path in schema["paths"].values()
        for op in path.values()
        if isinstance(op, dict)
        for p in op.get("parameters", [])
    ]
    fields = list(names(schema.get("components", {}).get("schemas", {})))
    job_fields = [f for k in jobs.KINDS.values() for f in names(k.params.model_json_schema())]
    assert params and fields and job_fields
    flagged = [n for n in params + fields + job_fields if suspicious.search(n)]
    # grid_url etc. are computed links in responses, never inputs.
    assert [n for n in flagged if not n.endswith(("_url", "_urls"))] == [], flagged
    assert "'format': 'uri'" not in str(schema)
