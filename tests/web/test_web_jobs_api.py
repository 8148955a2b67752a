"""The jobs API: a request starts long work in a worker process and returns at once; the
job's progress and result are read back; roles, CSRF and dataset scoping hold."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_helpers import login, wait_job

from assay.project import Project


def _signed_in(client: TestClient, user: str) -> TestClient:
    client.headers["X-CSRF-Token"] = login(client, user)
    return client


def test_a_started_job_returns_at_once_and_finishes_in_a_worker(
    client: TestClient, web_project: Project
) -> None:
    admin = _signed_in(client, "admin")
    started = time.monotonic()
    response = admin.post(
        "/api/v1/datasets/digits/jobs",
        json={"kind": "cross-validate", "params": {"model": "logreg", "folds": 3, "name": "cv"}},
    )
    assert response.status_code == 202, response.text
    assert time.monotonic() - started < 5  # queued, not run inside the request
    job = response.json()["job"]
    assert job["state"] in ("queued", "running") and job["created_by"] == "admin"
    # The server keeps answering while the worker runs.
    assert admin.get("/api/v1/datasets/digits").status_code == 200
    ended = wait_job(admin, job["id"])
    assert ended["state"] == "done", ended
    assert ended["result"]["run"] == "cv"
    assert [r["name"] for r in web_project.dataset("digits").models.runs()] == ["cv"]
    listed = admin.get("/api/v1/datasets/digits/jobs").json()["jobs"]
    assert [j["id"] for j in listed] == [job["id"]]
    assert admin.get("/api/v1/datasets/other/jobs").json()["jobs"] == []
    assert admin.get(f"/api/v1/datasets/other/jobs/{job['id']}").status_code == 404


def test_job_kinds_describe_their_parameters(client: TestClient) -> None:
    kinds = _signed_in(client, "annotator").get("/api/v1/jobs/kinds").json()["kinds"]
    by_name = {k["kind"]: k for k in kinds}
    assert {"cross-validate", "issues", "map", "suggest", "review-scan"} <= set(by_name)
    assert "folds" in by_name["cross-validate"]["params"]["properties"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"kind": "fly"}, 422, "Unknown job kind 'fly'"),
        ({"kind": "cross-validate", "params": {"folds": 0}}, 422, "parameter 'folds'"),
        ({"kind": "map", "params": {"x": 1}}, 422, "parameter 'x'"),
        ({"kind": "map", "extra": 1}, 422, ""),
    ],
)
def test_bad_job_requests_are_clear_422s(
    client: TestClient, body: dict[str, Any], status: int, message: str
) -> None:
    response = _signed_in(client, "admin").post("/api/v1/datasets/digits/jobs", json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_roles_csrf_and_sign_in_are_enforced(client: TestClient) -> None:
    body = {"kind": "cross-validate", "params": {"model": "logreg"}}
    assert client.post("/api/v1/datasets/digits/jobs", json=body).status_code in (401, 403)
    assert client.get("/api/v1/jobs/1").status_code == 401
    annotator = _signed_in(client, "annotator")
    refused = annotator.post("/api/v1/datasets/digits/jobs", json=body)
    assert refused.status_code == 403 and "may not start" in refused.json()["error"]
    # An annotator may ask for suggestions only in a layer they may write.
    for layer, status in (("ground_truth", 403), ("frozen", 409)):
        other = annotator.post(
            "/api/v1/datasets/digits/jobs", json={"kind": "suggest", "params": {"layer": layer}}
        )
        assert other.status_code == status, other.text
    token = annotator.headers.pop("X-CSRF-Token")
    no_csrf = annotator.post(
        "/api/v1/datasets/digits/jobs", json={"kind": "suggest", "params": {"layer": "ann"}}
    )
    assert no_csrf.status_code == 403
    annotator.headers["X-CSRF-Token"] = token


def test_an_annotator_gets_suggestions_for_their_layer_and_cancels_only_their_jobs(
    client: TestClient, web_project: Project
) -> None:
    ds = web_project.dataset("digits")
    ids = [r["id"] for r in ds.items(limit=100)[0]]
    ds.set_labels([(i, str(n % 3)) for n, i in enumerate(ids[:9])], layer="ann", author="t")
    annotator = _signed_in(client, "annotator")
    started = annotator.post(
        "/api/v1/datasets/digits/jobs",
        json={"kind": "suggest", "params": {"layer": "ann", "batch": 5, "strategy": "margin"}},
    )
    assert started.status_code == 202, started.text
    ended = wait_job(annotator, started.json()["job"]["id"])
    assert ended["state"] == "done", ended
    current = ds.suggestions.current("ann")
    assert current is not None and current.to_dict()["batch"] == 5

    ended_cancel = annotator.post(f"/api/v1/jobs/{ended['id']}/cancel")
    assert ended_cancel.status_code == 409
    queued = web_project.dataset("digits")
    from assay import jobs

    theirs = jobs.submit(queued, "review-scan", {}, by="reviewer")
    refused = annotator.post(f"/api/v1/jobs/{theirs['id']}/cancel")
    assert refused.status_code == 403
    reviewer = _signed_in(client, "reviewer")
    assert reviewer.post(f"/api/v1/jobs/{theirs['id']}/cancel").json()["job"]["state"] in (
        "cancelled",
        "running",
        "done",
    )


def test_a_map_job_makes_the_map_the_page_shows(client: TestClient, web_project: Project) -> None:
    admin = _signed_in(client, "admin")
    assert admin.get("/api/v1/datasets/digits/maps/latest").status_code == 404
    started = admin.post(
        "/api/v1/datasets/digits/jobs", json={"kind": "map", "params": {"method": "pca"}}
    )
    assert started.status_code == 202, started.text
    ended = wait_job(admin, started.json()["job"]["id"])
    assert ended["state"] == "done", ended
    latest = admin.get("/api/v1/datasets/digits/maps/latest").json()
    found = latest.get("map", latest)
    assert found["map_id"] == ended["result"]["map_id"]
    assert found["n_points"] == 30 and found["state"] == "ready"
    page = admin.get("/datasets/digits/map")
    assert page.status_code == 200 and 'id="map-pending"' not in page.text
