"""Helpers and constants shared by the web tests."""

from __future__ import annotations

from fastapi.testclient import TestClient

from assay.project import Project

PASSWORD = "correct horse battery"
XSS = "<script>window.__xss=1</script>"
XSS_CLASS = '<img src=x onerror="window.__xss=2">'


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


def item_ids(project: Project, dataset: str) -> list[int]:
    """The ids of a dataset's items, in order."""
    rows, _ = project.dataset(dataset).items(limit=1000)
    return [r["id"] for r in rows]
