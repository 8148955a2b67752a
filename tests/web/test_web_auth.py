"""Signing in and out, sessions, CSRF, API tokens, roles and the login rate limit."""

from __future__ import annotations

import os
import stat
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_helpers import PASSWORD, login

from assay import users
from assay.project import Project
from assay.store import schema as t
from assay.web import create_app
from assay.web.auth import safe_next
from assay.web.keys import secret_key_path

API_PATHS = [
    "/api/v1/whoami",
    "/api/v1/datasets",
    "/api/v1/datasets/digits",
    "/api/v1/datasets/digits/items",
    "/api/v1/datasets/digits/items/1",
    "/api/v1/datasets/digits/items/1/media",
    "/api/v1/datasets/digits/items/1/history",
    "/api/v1/datasets/digits/statistics",
    "/api/v1/datasets/digits/classes",
    "/api/v1/datasets/digits/layers",
    "/api/v1/users",
    "/api/v1/tokens",
    "/api/v1/openapi.json",
]
PAGES = ["/", "/datasets/digits", "/datasets/digits/items", "/datasets/digits/items/1", "/users"]


def test_login_then_logout_ends_the_session_for_good(client: TestClient) -> None:
    csrf = login(client, "admin")
    me = client.get("/api/v1/whoami").json()
    assert me["user"]["username"] == "admin" and me["via"] == "session"
    assert me["csrf_token"] == csrf
    cookie = client.cookies["assay_session"]

    assert client.post("/api/v1/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get("/api/v1/whoami").status_code == 401
    # The old cookie, replayed, is refused too: the session is gone from the store.
    client.cookies.set("assay_session", cookie)
    assert client.get("/api/v1/whoami").status_code == 401


def test_page_login_sets_a_safe_cookie_and_redirects(client: TestClient) -> None:
    form = client.get("/login?next=/datasets/digits")
    assert form.status_code == 200
    token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token,
              "next": "/datasets/digits"},
    )  # fmt: skip
    assert response.status_code == 303
    assert response.headers["location"] == "/datasets/digits"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("assay_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert client.get("/datasets/digits").status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_answer(client: TestClient) -> None:
    answers = []
    for username in ("admin", "nobody"):
        token = client.get("/api/v1/login").json()["csrf_token"]
        response = client.post(
            "/api/v1/login",
            json={"username": username, "password": "wrong password"},
            headers={"X-CSRF-Token": token},
        )
        answers.append((response.status_code, response.json()["error"]))
    assert answers[0] == answers[1] == (401, "Wrong username or password.")
    assert "assay_session" not in client.cookies


def test_login_without_its_csrf_token_is_refused(client: TestClient) -> None:
    response = client.post("/api/v1/login", json={"username": "admin", "password": PASSWORD})
    assert response.status_code == 403
    client.get("/api/v1/login")  # a cookie, but the header is missing or wrong
    response = client.post(
        "/api/v1/login",
        json={"username": "admin", "password": PASSWORD},
        headers={"X-CSRF-Token": "made-up"},
    )
    assert response.status_code == 403


def test_login_is_rate_limited_after_five_failures(client: TestClient) -> None:
    token = client.get("/api/v1/login").json()["csrf_token"]

    def attempt(password: str) -> int:
        return client.post(
            "/api/v1/login",
            json={"username": "reviewer", "password": password},
            headers={"X-CSRF-Token": token},
        ).status_code

    assert [attempt("wrong password") for _ in range(5)] == [401] * 5
    response = client.post(
        "/api/v1/login",
        json={"username": "reviewer", "password": PASSWORD},
        headers={"X-CSRF-Token": token},
    )
    assert response.status_code == 429  # even the right password waits out the window
    assert int(response.headers["retry-after"]) > 0
    assert attempt(PASSWORD) == 429
    # Another account from the same address is not locked by these failures.
    login(client, "admin")


@pytest.mark.parametrize("path", API_PATHS)
def test_api_without_credentials_is_401_json(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.json() == {
        "ok": False,
        "error": "Sign in first: send a session cookie or an API token.",
        "errors": [],
        "status": 401,
    }


@pytest.mark.parametrize("path", PAGES)
def test_pages_without_a_session_redirect_to_login(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_static_files_and_login_page_need_no_session(client: TestClient) -> None:
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/login").status_code == 200


def test_writes_without_the_csrf_token_are_refused(client: TestClient) -> None:
    csrf = login(client, "admin")
    assert client.post("/api/v1/tokens", json={"name": "x"}).status_code == 403
    wrong = {"X-CSRF-Token": "not-the-token"}
    assert client.post("/api/v1/tokens", json={"name": "x"}, headers=wrong).status_code == 403
    form = {"username": "eve", "password": PASSWORD, "role": "admin"}
    assert client.post("/users", data=form).status_code == 403
    assert client.post("/logout").status_code == 403
    foreign = {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
    assert client.post("/api/v1/tokens", json={"name": "x"}, headers=foreign).status_code == 403
    assert [u["username"] for u in client.get("/api/v1/users").json()["users"]] == [
        "admin",
        "reviewer",
        "annotator",
    ]
    # With the token (header or form field) the same requests go through.
    ok = client.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    assert client.post("/users", data={**form, "csrf_token": csrf}).status_code == 303


def test_bearer_token_works_without_csrf_until_revoked(
    client: TestClient, app: object, web_project: Project
) -> None:
    csrf = login(client, "reviewer")
    created = client.post("/api/v1/tokens", json={"name": "script"}, headers={"X-CSRF-Token": csrf})
    token, token_id = created.json()["token"], created.json()["id"]
    stored = users.list_tokens(web_project.store, "reviewer")
    assert [t.name for t in stored] == ["script"] and token not in repr(stored)

    with TestClient(app) as script:  # type: ignore[arg-type]
        bearer = {"Authorization": f"Bearer {token}"}
        me = script.get("/api/v1/whoami", headers=bearer).json()
        assert me["user"]["username"] == "reviewer" and me["via"] == "token"
        # A write needs no CSRF token: the header is not sent by browsers on their own.
        assert script.post("/api/v1/tokens", json={"name": "b"}, headers=bearer).status_code == 201
        assert users.list_tokens(web_project.store, "reviewer")[0].last_used_at is not None

        assert client.delete(
            f"/api/v1/tokens/{token_id}", headers={"X-CSRF-Token": csrf}
        ).is_success
        assert script.get("/api/v1/whoami", headers=bearer).status_code == 401
        assert (
            script.get("/api/v1/whoami", headers={"Authorization": "Bearer nonsense"}).status_code
            == 401
        )

    # A bad token is refused even when a valid session cookie comes along.
    response = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_disabled_user_is_refused_on_every_path(client: TestClient, web_project: Project) -> None:
    login(client, "annotator")
    token, _ = users.create_token(web_project.store, "annotator", "t")
    users.update_user(web_project.store, "annotator", disabled=True)
    assert client.get("/api/v1/whoami").status_code == 401
    assert (
        client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    fresh = client.get("/api/v1/login").json()["csrf_token"]
    response = client.post(
        "/api/v1/login",
        json={"username": "annotator", "password": PASSWORD},
        headers={"X-CSRF-Token": fresh},
    )
    assert response.status_code == 401


def test_annotators_and_reviewers_cannot_manage_users(client: TestClient) -> None:
    for role in ("annotator", "reviewer"):
        csrf = login(client, role)
        headers = {"X-CSRF-Token": csrf}
        assert client.get("/api/v1/users").status_code == 403
        body = {"username": "mallory", "password": PASSWORD, "role": "admin"}
        assert client.post("/api/v1/users", json=body, headers=headers).status_code == 403
        change = client.patch(f"/api/v1/users/{role}", json={"role": "admin"}, headers=headers)
        assert change.status_code == 403
        assert client.get("/users").status_code == 403
        assert client.get("/api/v1/whoami").json()["user"]["role"] == role


def test_admin_manages_users_and_unknown_fields_are_refused(client: TestClient) -> None:
    headers = {"X-CSRF-Token": login(client, "admin")}
    body = {"username": "Bob", "password": PASSWORD, "role": "reviewer"}
    created = client.post("/api/v1/users", json=body, headers=headers)
    assert created.status_code == 201 and created.json()["user"]["username"] == "bob"
    assert client.post("/api/v1/users", json=body, headers=headers).status_code == 409
    blank = {"username": "carol", "password": "        "}
    assert client.post("/api/v1/users", json=blank, headers=headers).status_code == 422
    sneaky = client.patch("/api/v1/users/bob", json={"password_hash": "x"}, headers=headers)
    assert sneaky.status_code == 422 and sneaky.json()["errors"]
    changed = client.patch("/api/v1/users/bob", json={"role": "annotator"}, headers=headers)
    assert changed.json()["user"]["role"] == "annotator"
    last = client.patch("/api/v1/users/admin", json={"disabled": True}, headers=headers)
    assert last.status_code == 409 and "last enabled admin" in last.json()["error"]
    assert client.get("/api/v1/whoami").json()["user"]["role"] == "admin"


def test_open_redirects_are_refused() -> None:
    for target in ("//evil.example", "/\\evil.example", "https:evil.example", "https://x.y/",
                   "javascript:alert(1)", "/\t/evil.example", "\\/\\/evil"):  # fmt: skip
        assert safe_next(target) == "/"
    assert safe_next("/datasets/digits?filter=a") == "/datasets/digits?filter=a"


def test_secret_key_is_random_per_install_and_kept(web_project: Project, tmp_path: Path) -> None:
    create_app(web_project)
    path = secret_key_path(web_project.root)
    first = path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    create_app(web_project)
    assert path.read_text() == first  # a restart keeps the sessions
    other = tmp_path / "other"
    other.mkdir()
    from assay.web.keys import load_or_create_secret_key

    assert load_or_create_secret_key(other) != first.strip()


def test_cookie_from_another_install_is_refused(web_project: Project) -> None:
    theirs = create_app(web_project, secret_key="another install's key, 32 chars+")
    ours = create_app(web_project)
    with TestClient(theirs) as c:
        login(c, "admin")
        cookie = c.cookies["assay_session"]
    with TestClient(ours) as c:
        c.cookies.set("assay_session", cookie)
        assert c.get("/api/v1/whoami").status_code == 401


def test_real_password_hashes_are_argon2id_with_owasp_parameters(
    web_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pwdlib import PasswordHash

    monkeypatch.setattr(users, "_hasher", PasswordHash.recommended())
    users.create_user(web_project.store, "strong", PASSWORD)
    import sqlalchemy as sa

    from assay.store import schema as t

    with web_project.store.read() as conn:
        stored = conn.execute(
            sa.select(t.users.c.password_hash).where(t.users.c.username == "strong")
        ).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert users.authenticate(web_project.store, "strong", PASSWORD) is not None
    assert users.authenticate(web_project.store, "STRONG", "wrong password") is None


def test_weak_hashes_are_upgraded_at_login(
    web_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pwdlib import PasswordHash

    # The fixture's cheap parameters stand for an old, weaker setting.
    monkeypatch.setattr(users, "_hasher", PasswordHash.recommended())
    assert users.authenticate(web_project.store, "admin", PASSWORD) is not None
    import sqlalchemy as sa

    from assay.store import schema as t

    with web_project.store.read() as conn:
        stored = conn.execute(
            sa.select(t.users.c.password_hash).where(t.users.c.username == "admin")
        ).scalar_one()
    assert "m=65536,t=3,p=4" in stored


def test_security_headers_on_pages_and_api(client: TestClient) -> None:
    login(client, "admin")
    for path in ("/", "/api/v1/datasets", "/login"):
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert "access-control-allow-origin" not in headers


def test_a_token_revoked_by_another_process_stops_within_the_cache_time(
    client: TestClient, web_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(users, "TOKEN_CACHE_S", 0.3)
    token, made = users.create_token(web_project.store, "reviewer", "script")
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/whoami", headers=bearer).status_code == 200
    # Another process (the CLI, a second server worker) revokes it: this process is not told.
    with web_project.store.write() as conn:
        conn.execute(
            t.api_tokens.update()
            .where(t.api_tokens.c.id == made.id)
            .values(revoked_at=datetime.now(UTC))
        )
    time.sleep(0.35)
    assert client.get("/api/v1/whoami", headers=bearer).status_code == 401
    # In this process a revocation is seen at once, cached or not.
    again, made = users.create_token(web_project.store, "reviewer", "again")
    bearer = {"Authorization": f"Bearer {again}"}
    assert client.get("/api/v1/whoami", headers=bearer).status_code == 200
    users.revoke_token(web_project.store, made.id)
    assert client.get("/api/v1/whoami", headers=bearer).status_code == 401


def test_a_new_token_is_not_held_up_by_a_busy_writer(
    client: TestClient, web_project: Project
) -> None:
    # Recording a token's first use is bookkeeping: while another writer holds the store's
    # write lock (as the label committer nearly always does under load) the request goes on
    # and the use is recorded in the background once the lock is free.
    token, _ = users.create_token(web_project.store, "reviewer", "busy")
    bearer = {"Authorization": f"Bearer {token}"}
    with web_project.store.write() as conn:
        conn.execute(t.layers.update().where(t.layers.c.id == -1).values(name="x"))  # lock held
        started = time.monotonic()
        assert client.get("/api/v1/whoami", headers=bearer).status_code == 200
        assert time.monotonic() - started < 2  # the busy timeout is 5 s
    deadline = time.monotonic() + 20
    while users.list_tokens(web_project.store, "reviewer")[0].last_used_at is None:
        assert time.monotonic() < deadline, "the token's use was never recorded"
        time.sleep(0.05)
