"""Issue 19 from the web app: an upload can be told to run the dataset's data checks, and a
failing check publishes nothing (the job fails naming the check; the dataset is as it was)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from web_helpers import login, wait_job

from assay import checks
from assay.project import Project


def _csv(rows: list[tuple[str, str, float]]) -> bytes:
    return ("key,label,size\n" + "".join(f"{k},{c},{v}\n" for k, c, v in rows)).encode()


def _upload(client: TestClient, body: bytes, **fields: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/datasets/pets/imports", files={"file": ("more.csv", body)}, data=fields
    )
    assert response.status_code == 202, response.text
    return wait_job(client, response.json()["job"]["id"])


def test_an_upload_with_checks_publishes_only_when_they_pass(
    client: TestClient, web_project: Project, tmp_path: Path
) -> None:
    first = tmp_path / "pets.csv"
    first.write_bytes(_csv([(f"p{i}", "cat" if i % 2 else "dog", 1.0 + i) for i in range(40)]))
    web_project.import_path(first, dataset="pets", label_column="label", key_column="key")
    ds = web_project.dataset("pets")
    checks.init_expectations(ds)
    before = len(ds)
    client.headers["X-CSRF-Token"] = login(client, "admin")

    # 40 more cats: the class balance of ground_truth breaks, so nothing is published.
    cats = _csv([(f"c{i}", "cat", 5.0) for i in range(40)])
    job = _upload(client, cats, label_column="label", key_column="key", check="true")
    assert job["state"] == "failed" and "balance" in (job["error"] or ""), job
    assert len(ds) == before and "c0" not in {r["external_key"] for r in ds.items(limit=100)[0]}

    # The same rows without the gate land.
    job = _upload(client, cats, label_column="label", key_column="key")
    assert job["state"] == "done" and len(ds) == before + 40, job
    page = client.get("/").text
    assert 'name="check"' in page  # the form offers it
