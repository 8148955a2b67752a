"""Helpers and constants shared by the web tests."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from assay.project import Project

PASSWORD = "correct horse battery"
XSS = "<script>window.__xss=1</script>"
XSS_CLASS = '<img src=x onerror="window.__xss=2">'
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in through the API; returns the session's CSRF token."""
    token = client.get("/api/v1/login").json()["csrf_token"]
    response = client.post(
        "/api/v1/login",
        json={"username": username, "password": password},
        headers={"X-CSRF-Token": token},
    )
    assert response.status_code == 200, response.text
    csrf: str = response.json()["csrf_token"]
    return csrf


def wait_job(client: TestClient, job_id: int, timeout: float = 120) -> dict[str, Any]:
    """Poll a job until it is neither queued nor running; returns it."""
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()["job"]
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not end in {timeout} s: {job}")


def item_ids(project: Project, dataset: str) -> list[int]:
    """The ids of a dataset's items, in order."""
    rows, _ = project.dataset(dataset).items(limit=1000)
    return [r["id"] for r in rows]


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    """Save a screenshot of the page (or of what the window shows) for the README."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def add_second_annotator(project: Project) -> list[int]:
    """Give ``digits`` two labeled human layers that disagree on known items, and the review
    cases the disagreements open (one per item, in item order).

    ``ann`` (owned by ``annotator``) says ``i % 3`` for item number i, except every 5th item
    (``(i + 1) % 3``); ``b1`` (no owner) says ``i % 3`` except every 7th (``(i + 2) % 3``).
    Returns the ids of the items the two layers disagree on, in order.
    """
    ds = project.dataset("digits")
    ids = item_ids(project, "digits")
    ann = [str((i + (1 if i % 5 == 0 else 0)) % 3) for i in range(len(ids))]
    b1 = [str((i + (2 if i % 7 == 0 else 0)) % 3) for i in range(len(ids))]
    ds.create_layer("b1")
    ds.set_labels(list(zip(ids, ann, strict=True)), layer="ann", author="annotator")
    ds.set_labels(list(zip(ids, b1, strict=True)), layer="b1", author="reviewer")
    ds.review_scan(layers=["ann", "b1"], consensus_layer=None, actor="test")
    return [item for item, x, y in zip(ids, ann, b1, strict=True) if x != y]


_TOKENS = re.compile(
    r'(<meta name="csrf-token" content=")[^"]*(")|(name="csrf_token" value=")[^"]*(")'
)


def without_tokens(html: str) -> str:
    """The page without its random CSRF tokens, which may contain any short string (a test
    that a layer name such as "b1" is absent must not fail on a token that holds it)."""
    return _TOKENS.sub(lambda m: (m[1] or m[3]) + (m[2] or m[4]), html)


def item_page(project: Project, dataset: str, item_id: int) -> str:
    """The address of an item's page (by its key)."""
    from assay.web.urls import item_page_url

    key = project.dataset(dataset).item(item_id)["external_key"]
    return item_page_url(dataset, item_id, key)


@contextlib.contextmanager
def serve(project: Any, **settings: Any) -> Iterator[str]:
    """The web app of ``project`` served by uvicorn on a free port of 127.0.0.1 in a thread
    (the browser tests' server); yields its URL, then stops it and closes the project."""
    import socket
    import threading

    import pytest
    import uvicorn

    from assay.web import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        create_app(project, **settings), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="assay-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start", pytrace=False)
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        project.close()
