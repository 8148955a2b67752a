"""Uploads from the web app: an admin sends a file, a worker imports it into a new or existing
dataset (whole or not at all), the upload is streamed to disk within a size limit and removed
when its job ends, and only admins may upload."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from web_helpers import login, wait_job

from assay.jobs import kinds
from assay.project import Project
from assay.web import create_app

HOUSES = b"id,x,band\na,1.5,low\nb,2.5,high\nc,3.0,high\n"


def _signed_in(client: TestClient, user: str) -> TestClient:
    client.headers["X-CSRF-Token"] = login(client, user)
    return client


def _uploads(project: Project) -> list[str]:
    folder = project.root / kinds.UPLOADS_DIR
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _png_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for n, cls in enumerate(["cat", "cat", "dog"]):
            png = io.BytesIO()
            Image.new("L", (8, 8), color=40 * n).save(png, "PNG")
            zf.writestr(f"pets/{cls}/{n}.png", png.getvalue())
    return buffer.getvalue()


def test_an_uploaded_table_imports_into_a_new_dataset(
    client: TestClient, web_project: Project
) -> None:
    admin = _signed_in(client, "admin")
    started = time.monotonic()
    response = admin.post(
        "/api/v1/datasets/houses/imports",
        files={"file": ("export/houses.csv", HOUSES, "text/csv")},
        data={"label_column": "band", "key_column": "id"},
    )
    assert response.status_code == 202, response.text
    assert time.monotonic() - started < 5
    job = response.json()["job"]
    assert job["kind"] == "import" and job["dataset_id"] is None and job["created_by"] == "admin"
    assert job["params"]["filename"] == "houses.csv"  # the client's folders are dropped
    ended = wait_job(admin, job["id"])
    assert ended["state"] == "done", ended
    assert ended["result"]["n_rows"] == 3 and ended["result"]["n_new_labels"] == 3
    ds = web_project.dataset("houses")
    assert ended["dataset_id"] == ds.id  # attached to the dataset it made
    rows, _ = ds.items(limit=10)
    assert sorted(r["external_key"] for r in rows) == ["a", "b", "c"]
    assert admin.get("/api/v1/datasets/houses/jobs").json()["jobs"][0]["id"] == job["id"]
    assert _uploads(web_project) == []  # the job removed the upload


def test_an_uploaded_zip_of_images_adds_to_an_existing_dataset(
    client: TestClient, web_project: Project
) -> None:
    admin = _signed_in(client, "admin")
    first = admin.post("/api/v1/datasets/pets/imports", files={"file": ("pets.zip", _png_zip())})
    assert wait_job(admin, first.json()["job"]["id"])["state"] == "done"
    pets = web_project.dataset("pets")
    again = admin.post("/api/v1/datasets/pets/imports", files={"file": ("pets.zip", _png_zip())})
    job = again.json()["job"]
    assert job["dataset_id"] == pets.id  # an existing dataset lists the job at once
    assert wait_job(admin, job["id"])["result"]["n_new_items"] == 0  # nothing imported twice
    rows, _ = pets.items(limit=10)
    assert len(rows) == 3
    media = admin.get(f"/api/v1/datasets/pets/items/{rows[0]['id']}/media")
    assert media.status_code == 200 and media.content.startswith(b"\x89PNG")


def test_an_unsafe_archive_fails_its_job_naming_the_member(
    client: TestClient, web_project: Project
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("cat/ok.png", b"x")
        zf.writestr("../../evil.png", b"x")
    admin = _signed_in(client, "admin")
    response = admin.post(
        "/api/v1/datasets/evil/imports", files={"file": ("evil.zip", buffer.getvalue())}
    )
    ended = wait_job(admin, response.json()["job"]["id"])
    assert ended["state"] == "failed"
    assert "member '../../evil.png' points outside" in ended["error"]
    assert "evil" not in [d["name"] for d in web_project.datasets()]
    assert _uploads(web_project) == []
    assert not (web_project.root / "evil.png").exists()


@pytest.mark.parametrize(
    ("files", "data", "message"),
    [
        ({"file": ("model.pkl", b"\x80\x04.")}, {}, "Assay imports .tar.gz"),
        ({"file": (".csv", b"x\n1\n")}, {}, "Assay imports"),
        ({"file": ("empty.csv", b"")}, {}, "the file is empty"),
        ({"other": ("a.csv", b"x\n1\n")}, {}, "Send the file in the field 'file'"),
        ({"file": ("a.csv", b"x\n1\n")}, {"format": "pickle"}, "Unknown form field 'format'"),
        ({"file": ("a.csv", b"x\n1\n")}, {"label_column": "y" * 1001}, "at most 1000 bytes"),
        (None, {"label_column": "x"}, "in a field named 'file'"),
    ],
    ids=["pickle", "no-name", "empty", "wrong-field", "unknown-field", "long-field", "no-file"],
)
def test_bad_uploads_are_clear_422s_and_leave_no_file(
    client: TestClient,
    web_project: Project,
    files: dict[str, Any] | None,
    data: dict[str, str],
    message: str,
) -> None:
    admin = _signed_in(client, "admin")
    response = admin.post("/api/v1/datasets/x/imports", files=files, data=data)
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]
    assert _uploads(web_project) == []
    assert admin.get("/api/v1/datasets/x").status_code == 404


def test_a_json_body_is_refused(client: TestClient) -> None:
    response = _signed_in(client, "admin").post("/api/v1/datasets/x/imports", json={"a": 1})
    assert response.status_code == 422 and "multipart/form-data" in response.json()["error"]


def test_an_oversized_upload_is_a_413_and_is_not_kept(web_project: Project) -> None:
    app = create_app(web_project, max_upload_bytes=64 * 1024)
    with TestClient(app, follow_redirects=False) as client:
        admin = _signed_in(client, "admin")
        big = b"x\n" + b"1\n" * 40_000  # 80 kB
        response = admin.post("/api/v1/datasets/big/imports", files={"file": ("big.csv", big)})
        assert response.status_code == 413, response.text
        small = admin.post("/api/v1/datasets/small/imports", files={"file": ("s.csv", b"x\n1\n")})
        assert small.status_code == 202
        assert wait_job(admin, small.json()["job"]["id"])["state"] == "done"
    assert _uploads(web_project) == []
    assert "big" not in [d["name"] for d in web_project.datasets()]


@pytest.mark.parametrize("user", ["annotator", "reviewer"])
def test_only_admins_upload(client: TestClient, web_project: Project, user: str) -> None:
    response = _signed_in(client, user).post(
        "/api/v1/datasets/digits/imports", files={"file": ("h.csv", HOUSES)}
    )
    assert response.status_code == 403
    assert _uploads(web_project) == []


def test_an_upload_never_leaves_the_uploads_folder(tmp_path: Path) -> None:
    # The job reads only names the server made; anything else is refused before a file is read.
    for name in ("../assay.db", "/etc/passwd", "x.csv", "0" * 32 + ".pkl"):
        with pytest.raises(Exception, match="not an uploaded file"):
            kinds.upload_path(tmp_path, name)
    assert kinds.upload_path(tmp_path, "a" * 32 + ".csv").parent == tmp_path / kinds.UPLOADS_DIR


def test_a_malformed_multipart_body_is_a_422(client: TestClient, web_project: Project) -> None:
    # Found by schemathesis: a header line with a character HTTP does not allow was a 500.
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n[: x\r\n\r\n'
    response = _signed_in(client, "admin").post(
        "/api/v1/datasets/x/imports",
        content=body + b"x\n1\n\r\n--b--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 422, response.text
    assert "multipart body is malformed" in response.json()["error"]
    assert _uploads(web_project) == []
