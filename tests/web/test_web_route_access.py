"""Access on every route, enumerated from the app itself (so a new route is covered the day it
is added): without credentials 401 (API) or the login page (pages); an annotator, by session
or by token, gets 403 on every route that needs a role they lack; another dataset's item ids
get 404 and nothing of that item.

A route whose path holds a parameter this module cannot fill fails the test: add a value to
``PATH_VALUES`` when adding such a route.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from web_helpers import item_ids, login

from assay import users
from assay.project import Project
from assay.web.auth import PERMISSIONS

# Reachable without signing in: the login endpoints, the health check (plus /static).
PUBLIC = {
    ("GET", "/api/v1/login"),
    ("POST", "/api/v1/login"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/api/v1/health"),
}
PATH_VALUES = {
    "name": "digits",
    "case_id": "1",
    "map_id": "1",
    "job_id": "1",
    "token_id": "1",
    "username": "annotator",
    "run": "some-run",
    "key": "0",  # an item key of digits (its first item)
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
ANNOTATOR_MAY = {p for p, roles in PERMISSIONS.items() if "annotator" in roles}


def _contexts(app: FastAPI) -> Iterator[Any]:
    """Every endpoint of the app (FastAPI keeps included routers nested)."""
    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):  # FastAPI >= 0.160
            yield from route.effective_route_contexts()
        elif isinstance(route, APIRoute):
            yield route


def _permissions(dependant: Any) -> set[str]:
    """The permissions a route asks of ``require()`` (anywhere in its dependency tree)."""
    found: set[str] = set()
    call = getattr(dependant, "call", None)
    if call is not None and getattr(call, "__qualname__", "") == "require.<locals>.dependency":
        names = call.__code__.co_freevars
        cells = dict(zip(names, call.__closure__ or (), strict=True))
        found.add(cells["permission"].cell_contents)
    for sub in dependant.dependencies:
        found |= _permissions(sub)
    return found


def routes(app: FastAPI) -> list[tuple[str, str, set[str]]]:
    """(method, path template, permissions) of every endpoint, sorted."""
    out = set()
    for ctx in _contexts(app):
        perms = frozenset(_permissions(ctx.dependant))
        for method in ctx.methods or ():
            if method != "HEAD":
                out.add((method, ctx.path, perms))
    return [(m, p, set(perms)) for m, p, perms in sorted(out, key=lambda r: (r[1], r[0]))]


def fill(path: str, **values: str) -> str:
    """The path with its parameters filled (``values`` first, then ``PATH_VALUES``)."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key in values:
            return values[key]
        if key == "item_id":
            raise KeyError("pass item_id")
        if key not in PATH_VALUES:
            pytest.fail(f"no value for path parameter {key!r} of {path}: add it to PATH_VALUES")
        return PATH_VALUES[key]

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


def send(client: TestClient, method: str, path: str, **kwargs: Any) -> Any:
    """One request; writes carry an empty JSON object (API) or an empty form (pages)."""
    if method in WRITE_METHODS:
        if path.startswith("/api/"):
            kwargs.setdefault("json", {})
        else:
            kwargs.setdefault("data", {})
    return client.request(method, path, **kwargs)


def test_the_enumeration_finds_the_routers(app: FastAPI) -> None:
    found = {(m, p) for m, p, _ in routes(app)}
    for expected in [
        ("POST", "/api/v1/datasets/{name}/jobs"),
        ("GET", "/api/v1/datasets/{name}/runs"),
        ("GET", "/api/v1/datasets/{name}/maps/{map_id}/points"),
        ("GET", "/api/v1/datasets/{name}/suggestions"),
        ("POST", "/api/v1/datasets/{name}/selections"),
        ("POST", "/api/v1/users"),
        ("GET", "/datasets/{name}/jobs"),
        ("GET", "/datasets/{name}/map"),
    ]:
        assert expected in found
    assert len(found) > 70
    elevated = {(m, p) for m, p, perms in routes(app) if perms - ANNOTATOR_MAY}
    assert ("POST", "/api/v1/users") in elevated
    assert ("POST", "/api/v1/datasets/{name}/review/scan") in elevated


def test_every_route_without_credentials_is_refused(
    app: FastAPI, client: TestClient, web_project: Project
) -> None:
    item = str(item_ids(web_project, "digits")[0])
    checked = 0
    for method, template, _ in routes(app):
        if (method, template) in PUBLIC:
            continue
        path = fill(template, item_id=item)
        response = send(client, method, path)
        if path.startswith("/api/"):
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["error"].startswith("Sign in first"), (method, path)
        else:
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/login?next="), (method, path)
        assert "digits" not in response.text or response.status_code == 303  # nothing leaks
        checked += 1
    assert checked > 70


def test_the_public_routes_are_only_these(client: TestClient) -> None:
    assert client.get("/api/v1/login").status_code == 200
    assert client.get("/login").status_code == 200
    assert client.get("/api/v1/health").json() == {"ok": True, "store": "ok"}
    assert client.get("/static/app.css").status_code == 200
    # A made-up token or cookie is no better than nothing.
    bad = {"Authorization": "Bearer assay_made_up_token"}
    assert client.get("/api/v1/datasets", headers=bad).status_code == 401
    client.cookies.set("assay_session", "forged.value")
    assert client.get("/api/v1/datasets").status_code == 401


@pytest.mark.parametrize("via", ["session", "token"])
def test_annotator_gets_403_on_every_elevated_route(
    app: FastAPI, client: TestClient, web_project: Project, via: str
) -> None:
    item = str(item_ids(web_project, "digits")[0])
    if via == "session":
        client.headers["X-CSRF-Token"] = login(client, "annotator")
    else:
        token, _ = users.create_token(web_project.store, "annotator", "t")
        client.headers["Authorization"] = f"Bearer {token}"
    elevated = [(m, p) for m, p, perms in routes(app) if perms - ANNOTATOR_MAY]
    assert len(elevated) >= 15
    for method, template in elevated:
        path = fill(template, item_id=item)
        response = send(client, method, path)
        assert response.status_code == 403, (method, path, response.text[:200])
        if path.startswith("/api/"):
            assert "may not" in response.json()["error"]
    # Nothing the refused requests sent was done.
    assert [u.username for u in users.list_users(web_project.store)] == [
        "admin",
        "reviewer",
        "annotator",
    ]
    assert users.get_user(web_project.store, "annotator").role == "annotator"


def test_every_page_renders_for_a_token_twice(
    app: FastAPI, client: TestClient, web_project: Project
) -> None:
    """A script may fetch the pages with a token. The second request finds the token in the
    process's cache (no database read), and the page must still know who is signed in: it
    used not to, and /account, the review and snapshot pages answered 500."""
    item = str(item_ids(web_project, "digits")[0])
    token, _ = users.create_token(web_project.store, "admin", "pages")
    client.headers["Authorization"] = f"Bearer {token}"
    pages = [fill(p, item_id=item) for m, p, _ in routes(app) if m == "GET"]
    pages = [p for p in pages if not p.startswith(("/api/", "/login"))]
    assert len(pages) >= 12
    for path in pages:
        for attempt in ("first", "cached"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code < 500, (path, attempt, response.text[:300])
            if response.status_code == 200 and "text/html" in response.headers["content-type"]:
                assert 'title="signed in as">admin' in response.text, (path, attempt)


def test_reviewer_gets_403_on_admin_routes(
    app: FastAPI, client: TestClient, web_project: Project
) -> None:
    item = str(item_ids(web_project, "digits")[0])
    client.headers["X-CSRF-Token"] = login(client, "reviewer")
    admin_only = [(m, p) for m, p, perms in routes(app) if "manage_users" in perms]
    assert admin_only
    for method, template in admin_only:
        response = send(client, method, fill(template, item_id=item))
        assert response.status_code == 403, (method, template)


def test_annotator_cannot_start_reviewer_jobs_or_cancel_others(
    client: TestClient, web_project: Project
) -> None:
    """Job kinds carry their own permission, checked inside the route."""
    from assay import jobs

    client.headers["X-CSRF-Token"] = login(client, "annotator")
    kinds = {k.name: k.permission for k in jobs.KINDS.values()}
    elevated = [k for k, perm in kinds.items() if perm not in ANNOTATOR_MAY]
    assert elevated
    for kind in elevated:
        response = client.post("/api/v1/datasets/digits/jobs", json={"kind": kind, "params": {}})
        assert response.status_code == 403, (kind, response.text)
    ds = web_project.dataset("digits")
    job = jobs.submit(ds, "review-scan", {}, by="reviewer")
    response = client.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 403
    assert jobs.get(web_project.store, job["id"])["state"] == "queued"


def test_another_datasets_items_are_404_on_every_item_route(
    app: FastAPI, client: TestClient, web_project: Project
) -> None:
    client.headers["X-CSRF-Token"] = login(client, "admin")
    foreign = item_ids(web_project, "other")[0]
    before = client.get(f"/api/v1/datasets/other/items/{foreign}/history").json()["history"]
    item_routes = [(m, p) for m, p, _ in routes(app) if "{item_id}" in p]
    assert len(item_routes) >= 6
    for method, template in item_routes:
        path = fill(template, name="digits", item_id=str(foreign))
        body: dict[str, Any] = {}
        if method == "POST" and path.endswith("/boxes"):  # a box set, not a class
            body = {"json": {"layer": "ground_truth", "boxes": [], "base": 0}}
        elif method == "POST" and path.endswith("/spans"):  # a span set
            body = {"json": {"layer": "ground_truth", "spans": [], "base": 0}}
        elif method == "POST" and path.endswith("/value"):  # a value of the layer's kind
            body = {"json": {"layer": "ground_truth", "value": 0, "base": 0}}
        elif method == "GET" and path.endswith("/value"):
            body = {"params": {"layer": "ground_truth"}}
        elif method == "POST" and path.startswith("/api/"):
            body = {"json": {"layer": "ground_truth", "label": "0"}}
        elif method == "POST":
            body = {"data": {"layer": "ground_truth", "label": "0", "comment": "c",
                             "csrf_token": client.headers["X-CSRF-Token"]}}  # fmt: skip
        response = client.request(method, path, **body)
        assert response.status_code == 404, (method, path, response.status_code, response.text)
        if path.startswith("/api/"):
            answer = response.json()
            assert set(answer) == {"ok", "error", "errors", "status"}, path
        assert "image/png" not in response.headers.get("content-type", "")
    # Item ids in bodies: bulk labels, selections, flags.
    digits = "/api/v1/datasets/digits"
    for path, payload in [
        (f"{digits}/labels", {"layer": "ground_truth", "label": "0", "items": [foreign]}),
        (f"{digits}/selections", {"item_ids": [foreign]}),
        (f"{digits}/review/flag", {"item_id": foreign, "comment": "look"}),
    ]:
        response = client.post(path, json=payload)
        assert response.status_code == 404, (path, response.text)
    after = client.get(f"/api/v1/datasets/other/items/{foreign}/history").json()["history"]
    assert after == before
    assert client.get("/api/v1/datasets/other/review/cases?state=any").json()["cases"] == []
