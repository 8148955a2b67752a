"""Request limits: oversized bodies (declared or streamed) get 413 before they are held in
memory, deeply nested JSON and huge values get 422, never a 500; the health check."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_helpers import item_ids, login

from assay.project import Project
from assay.store.selections import MAX_SELECTION
from assay.web import WebSettings, create_app
from assay.web.middleware import BodyLimit
from assay.web.views.labeling import MAX_BULK_ITEMS

MiB = 1024 * 1024
LIMIT = WebSettings().max_body_bytes


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    """The client signed in as admin, sending its CSRF token on every request."""
    client.headers["X-CSRF-Token"] = login(client, "admin")
    return client


def _is_413(response: Any) -> None:
    assert response.status_code == 413, response.text[:300]
    body = response.json()
    assert body["ok"] is False and body["status"] == 413
    assert "too large" in body["error"]


def test_a_declared_oversized_body_is_refused_before_sign_in(client: TestClient) -> None:
    big = b'{"name": "' + b"x" * (LIMIT + 10) + b'"}'
    _is_413(
        client.post("/api/v1/tokens", content=big, headers={"content-type": "application/json"})
    )
    _is_413(client.post("/login", content=big))  # pages too, and the login itself
    assert client.get("/api/v1/health").status_code == 200  # the server is fine


def test_a_streamed_oversized_body_is_counted(admin: TestClient) -> None:
    chunk = b" " * 65536

    def body() -> Iterator[bytes]:
        yield b'{"name": "x", "pad": "'
        for _ in range(LIMIT // len(chunk) + 4):
            yield chunk
        yield b'"}'

    response = admin.post(
        "/api/v1/tokens", content=body(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    _is_413(response)
    assert admin.get("/api/v1/tokens").json()["tokens"] == []  # nothing was created
    # Just under the limit goes through to the app (which refuses the unknown field).
    fits = json.dumps({"name": "x", "pad": " " * (LIMIT - 100)}).encode()
    assert admin.post("/api/v1/tokens", content=fits, headers={
        "content-type": "application/json"}).status_code == 422  # fmt: skip


def test_the_limit_is_a_setting(web_project: Project) -> None:
    with TestClient(create_app(web_project, max_body_bytes=1000)) as c:
        headers = {"X-CSRF-Token": login(c, "admin")}
        assert c.post("/api/v1/tokens", json={"name": "n" * 100}, headers=headers).is_success
        _is_413(c.post("/api/v1/tokens", json={"name": "n" * 1001}, headers=headers))


def test_the_biggest_bulk_writes_fit_their_limit(admin: TestClient, web_project: Project) -> None:
    """100,000 ids as large as ids go is over 2 MiB: bulk labels have the larger limit."""
    body = json.dumps(
        {
            "layer": "l" * 200,
            "label": "x" * 200,
            "note": "n" * 2000,
            "items": [2**62] * MAX_BULK_ITEMS,
        }
    ).encode()
    assert len(body) > LIMIT
    headers = {"content-type": "application/json"}
    response = admin.post("/api/v1/datasets/digits/labels", content=body, headers=headers)
    assert response.status_code == 404  # read and checked: no such layer
    _is_413(admin.post("/api/v1/datasets/digits/snapshots", content=body, headers=headers))
    # A selection of the most ids it may hold (ids below 10^10) fits its limit too.
    limits = BodyLimit(lambda *a: None, default=LIMIT, bulk=WebSettings().max_bulk_body_bytes)  # type: ignore[arg-type]
    ids = range(10**10 - MAX_SELECTION, 10**10)
    size = len(json.dumps({"item_ids": list(ids)}))
    assert size <= limits.limit_for("POST", "/api/v1/datasets/digits/selections")
    assert limits.limit_for("POST", "/api/v1/datasets/digits/snapshots") == LIMIT
    # With real ids the write lands.
    ids_ok = item_ids(web_project, "digits")
    written = admin.post(
        "/api/v1/datasets/digits/labels",
        json={"layer": "ann", "label": "1", "items": ids_ok},
    )
    assert written.status_code == 201, written.text


def test_fifty_megabytes_streamed_keep_memory_bounded(app: FastAPI) -> None:
    """The body limiter stops reading at the limit: a 50 MB chunked body costs neither the
    memory nor the time of reading it all."""
    chunk = b"[" * 65536
    total_chunks = 50 * MiB // len(chunk)
    served = 0

    async def request(path: str, declared: bool = False) -> list[dict[str, Any]]:
        nonlocal served
        served = 0
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            nonlocal served
            served += 1
            more = served < total_chunks
            return {"type": "http.request", "body": chunk, "more_body": more}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        kind = b"application/x-www-form-urlencoded" if path == "/login" else b"application/json"
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "headers": [(b"host", b"testserver"),
                                         (b"content-type", kind),
                                         (b"content-length", str(50 * MiB).encode())
                                         if declared else (b"transfer-encoding", b"chunked")],
            "client": ("127.0.0.1", 1), "server": ("testserver", 80), "state": {},
        }  # fmt: skip
        await app(scope, receive, send)
        return sent

    asyncio.run(request("/api/v1/tokens"))  # warm up (imports, pools)
    gc.collect()
    process = psutil.Process()
    before = process.memory_info().rss
    for path in ("/api/v1/tokens", "/api/v1/datasets/digits/labels", "/login"):
        sent = asyncio.run(request(path))
        # (Starlette's form parser refuses a 1 MB form field on its own, with 400.)
        expected = {413, 400} if path == "/login" else {413}
        assert sent[0]["status"] in expected, path
        if path.startswith("/api/"):
            assert json.loads(sent[1]["body"])["status"] == 413
        limit = 24 * MiB if path.endswith("/labels") else LIMIT
        assert served <= limit // len(chunk) + 2, (path, served)  # stopped at the limit
    # A Content-Length over the limit is refused before a byte of the body is read.
    assert asyncio.run(request("/api/v1/tokens", declared=True))[0]["status"] == 413
    assert served == 0
    grown = (process.memory_info().rss - before) / MiB
    assert grown < 30, f"RSS grew by {grown:.1f} MiB"


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_deeply_nested_json_is_422_not_500(admin: TestClient, depth: int) -> None:
    headers = {"content-type": "application/json"}
    bodies = [
        "[" * depth + "]" * depth,
        '{"name": ' + "[" * depth + "]" * depth + "}",
        '{"kind": "suggest", "params": ' + '{"a": ' * depth + "1" + "}" * depth + "}",
    ]
    for path, body in zip(
        ["/api/v1/tokens", "/api/v1/tokens", "/api/v1/datasets/digits/jobs"], bodies, strict=True
    ):
        response = admin.post(path, content=body, headers=headers)
        assert response.status_code == 422, (path, response.status_code, response.text[:200])
        assert "nested too deeply" in response.json()["error"]


def test_moderately_nested_job_params_are_a_clear_4xx(admin: TestClient) -> None:
    """Below the parser's depth, a nested value where a job expects a flat one is a 422."""
    nested: Any = 1
    for _ in range(500):
        nested = {"a": nested}
    response = admin.post(
        "/api/v1/datasets/digits/jobs", json={"kind": "review-scan", "params": {"x": nested}}
    )
    assert response.status_code == 422, response.text[:300]


HUGE = "x" * 100_000


def test_huge_values_are_422(admin: TestClient, web_project: Project) -> None:
    item = item_ids(web_project, "digits")[0]
    ds = "/api/v1/datasets/digits"
    cases = [
        (f"{ds}/items/{item}/labels", {"layer": "ann", "label": HUGE}),
        (f"{ds}/items/{item}/labels", {"layer": "ann", "label": "1", "note": HUGE}),
        (f"{ds}/items/{item}/labels", {"layer": HUGE, "label": "1"}),
        (f"{ds}/labels", {"layer": "ann", "label": HUGE, "items": [item]}),
        (f"{ds}/layers", {"name": HUGE}),
        (f"{ds}/snapshots", {"name": HUGE}),
        (f"{ds}/review/flag", {"item_id": item, "comment": HUGE}),
        ("/api/v1/tokens", {"name": HUGE}),
        ("/api/v1/users", {"username": HUGE, "password": "long enough password"}),
        ("/api/v1/users", {"username": "eve", "password": HUGE}),
    ]
    for path, body in cases:
        response = admin.post(path, json=body)
        assert response.status_code == 422, (path, response.status_code)
        assert HUGE not in response.text  # the error does not echo the value
    for query in (f"{ds}/items?filter={HUGE[:5000]}", f"{ds}/items?layer={HUGE[:5000]}"):
        assert admin.get(query).status_code == 422
    form = {"layer": "ann", "label": HUGE, "csrf_token": admin.headers["X-CSRF-Token"]}
    page = admin.post(f"/datasets/digits/items/{item}/labels", data=form)
    assert page.status_code == 422
    history = admin.get(f"{ds}/items/{item}/history").json()["history"]
    assert all(len(h.get("label") or "") < 1000 for h in history)


def test_health_needs_no_sign_in_and_says_when_the_store_is_gone(
    client: TestClient, web_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok = client.get("/api/v1/health")
    assert ok.status_code == 200 and ok.json() == {"ok": True, "store": "ok"}
    # A store that cannot be reached: a database server nobody listens for.
    gone = sa.create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    with monkeypatch.context() as m:
        m.setattr(web_project.store, "engine", gone)
        down = client.get("/api/v1/health")
        assert down.status_code == 503
        assert down.json() == {"ok": False, "store": "unreachable"}
        assert "127.0.0.1" not in down.text and down.headers["retry-after"]
    assert client.get("/api/v1/health").json()["store"] == "ok"
