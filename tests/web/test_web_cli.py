"""The web app's commands: assay user, assay token, assay serve and the demo login."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import assay
from assay import users
from assay.cli import app
from assay.cli.web_cmd import DEMO_LOGIN_FILE, ensure_demo_login
from assay.web import create_app

runner = CliRunner()


def run(project: Path, *args: str, code: int = 0, stdin: str | None = None) -> str:
    result = runner.invoke(app, ["--project", str(project), *args], input=stdin)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.fixture
def project(tmp_path: Path) -> Path:
    assay.init(tmp_path / "p").close()
    return tmp_path / "p"


def test_user_add_list_and_set(project: Path) -> None:
    out = run(project, "user", "add", "Alice", "--role", "admin", "--password-stdin",
              stdin="s3cret password\n")  # fmt: skip
    assert "Created admin 'alice'" in out
    listed = json.loads(run(project, "user", "list", "--json"))
    assert [(u["username"], u["role"], u["disabled"]) for u in listed] == [
        ("alice", "admin", False)
    ]
    again = run(project, "user", "add", "alice", "--password-stdin", stdin="another one\n", code=1)
    assert "Error: There is already a user 'alice'." in again
    short = run(project, "user", "add", "bob", "--password-stdin", stdin="short\n", code=1)
    assert "too short" in short
    bad_role = run(project, "user", "add", "bob", "--role", "boss", "--password-stdin",
                   stdin="long enough pw\n", code=1)  # fmt: skip
    assert "Unknown role 'boss'" in bad_role
    assert "last enabled admin" in run(project, "user", "set", "alice", "--disable", code=1)
    run(project, "user", "add", "bob", "--password-stdin", stdin="long enough pw\n")
    assert "bob: annotator, disabled." in run(project, "user", "set", "bob", "--disable")
    assert "Nothing to change" in run(project, "user", "set", "alice", code=1)


def test_token_create_works_against_the_api(project: Path) -> None:
    run(project, "user", "add", "bot", "--password-stdin", stdin="s3cret password\n")
    out = run(project, "token", "create", "nightly", "--user", "bot")
    token = out.strip().splitlines()[-1]
    assert token.startswith("assay_")
    with assay.open(project) as proj, TestClient(create_app(proj)) as client:
        me = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["user"]["username"] == "bot"
        listed = run(project, "token", "list", "--json")
        assert token not in listed and json.loads(listed)[0]["name"] == "nightly"
        run(project, "token", "revoke", str(json.loads(listed)[0]["id"]))
        again = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
        assert again.status_code == 401


def test_serve_creates_the_first_admin_once(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda web, **kw: calls.append(kw))
    out = run(project, "serve", "--port", "8123")
    assert "Created the first account: user admin, password" in out
    assert "http://127.0.0.1:8123/" in out
    assert calls == [{"host": "127.0.0.1", "port": 8123, "log_level": "warning",
                      "proxy_headers": True}]  # fmt: skip
    password = out.split("password ", 1)[1].split(" ", 1)[0]
    with assay.open(project) as proj:
        assert users.authenticate(proj.store, "admin", password) is not None
    assert "Created the first account" not in run(project, "serve")


def test_demo_login_is_random_kept_and_private(project: Path) -> None:
    with assay.open(project) as proj:
        user, password = ensure_demo_login(proj)
        assert (user, ensure_demo_login(proj)[1]) == ("demo", password)  # kept on reruns
        assert users.authenticate(proj.store, "demo", password) is not None
    path = project / DEMO_LOGIN_FILE
    assert password in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    other = project.parent / "q"
    with assay.init(other) as proj2:
        assert ensure_demo_login(proj2)[1] != password  # never a built-in default
