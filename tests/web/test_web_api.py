"""The JSON API: datasets, keyset pages of items, media, statistics, labels and their history."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from PIL import Image
from web_helpers import item_ids, item_page, login

from assay.project import Project
from assay.store import schema as t
from assay.web import create_app


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    """The client, signed in as admin; its CSRF token is sent on every request."""
    client.headers["X-CSRF-Token"] = login(client, "admin")
    return client


def test_datasets_list_and_detail(admin: TestClient) -> None:
    found = admin.get("/api/v1/datasets").json()["datasets"]
    assert {d["name"]: d["n_items"] for d in found} == {"digits": 30, "other": 5, "texts": 3}
    detail = admin.get("/api/v1/datasets/digits").json()
    assert detail["classes"] == ["0", "1", "2"]
    assert [la["name"] for la in detail["layers"]] == ["ground_truth", "ann", "frozen"]
    missing = admin.get("/api/v1/datasets/nope")
    assert missing.status_code == 404
    assert missing.json()["ok"] is False and "No dataset named 'nope'" in missing.json()["error"]


def test_keyset_pages_cover_every_item_once(admin: TestClient, web_project: Project) -> None:
    seen: list[int] = []
    after = None
    while True:
        params = {"limit": 7, **({"after": after} if after is not None else {})}
        page = admin.get("/api/v1/datasets/digits/items", params=params).json()
        seen += [it["id"] for it in page["items"]]
        assert len(page["items"]) <= 7
        after = page["next"]
        if after is None:
            break
    assert seen == item_ids(web_project, "digits")


def test_items_filter_and_fields(admin: TestClient) -> None:
    page = admin.get(
        "/api/v1/datasets/digits/items", params={"filter": "split=test, label=1", "limit": 100}
    ).json()
    assert page["items"] and all(
        it["split"] == "test" and it["label"] == "1" for it in page["items"]
    )
    first = page["items"][0]
    assert first["media_url"].endswith(f"/items/{first['id']}/media")
    assert "media_path" not in first and "content_hash" not in first  # nothing about the server


@pytest.mark.parametrize(
    ("params", "status"),
    [({"limit": 1001}, 422), ({"limit": 0}, 422), ({"after": -1}, 422),
     ({"filter": "label[nope]=1"}, 404), ({"filter": "password=1"}, 422),
     ({"filter": "field.x>abc"}, 422)],
)  # fmt: skip
def test_bad_item_queries_are_clear_4xx(
    admin: TestClient, params: dict[str, object], status: int
) -> None:
    response = admin.get("/api/v1/datasets/digits/items", params=params)
    assert response.status_code == status
    body = response.json()
    assert body["ok"] is False and body["status"] == status and body["error"]
    assert "Traceback" not in response.text and "SELECT" not in response.text


def test_items_of_one_dataset_are_not_reachable_through_another(
    admin: TestClient, web_project: Project
) -> None:
    foreign = item_ids(web_project, "digits")[0]
    base = f"/api/v1/datasets/other/items/{foreign}"
    for path in (base, f"{base}/media", f"{base}/history"):
        response = admin.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]
    write = admin.post(f"{base}/labels", json={"layer": "ground_truth", "label": "0"})
    assert write.status_code == 404
    assert admin.get(f"/datasets/other/items/{foreign}").status_code == 404
    # ... and nothing was written to the item through the wrong dataset.
    history = admin.get(f"/api/v1/datasets/digits/items/{foreign}/history").json()["history"]
    assert [h["author"] for h in history] == ["import"]


def test_media_from_the_store_is_a_png_with_safe_headers(
    admin: TestClient, web_project: Project
) -> None:
    first = item_ids(web_project, "digits")[0]
    response = admin.get(f"/api/v1/datasets/digits/items/{first}/media")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.headers["content-disposition"] == "attachment"
    thumb = admin.get(f"/api/v1/datasets/digits/items/{first}/media", params={"thumb": "true"})
    assert thumb.content == response.content  # 8x8 is already smaller than a thumbnail
    text_item = item_ids(web_project, "texts")[0]
    assert admin.get(f"/api/v1/datasets/texts/items/{text_item}/media").status_code == 404


def _image_folder(root: Path) -> Path:
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for i in range(2):
            pixels = np.full((40, 40, 3), 60 * i, dtype=np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i}.png")
    return root


def test_media_files_never_escape_their_import_folder(
    client: TestClient, web_project: Project, tmp_path: Path
) -> None:
    folder = _image_folder(tmp_path / "pets")
    secret = tmp_path / "secret.png"
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(secret)
    web_project.import_path(folder, dataset="pets")
    client.headers["X-CSRF-Token"] = login(client, "admin")
    ids = item_ids(web_project, "pets")
    good = client.get(f"/api/v1/datasets/pets/items/{ids[0]}/media")
    assert good.status_code == 200 and good.headers["content-type"] == "image/png"
    thumb = client.get(f"/api/v1/datasets/pets/items/{ids[0]}/media", params={"thumb": "true"})
    assert thumb.status_code == 200

    # Tamper with stored paths and files the way an attacker with some foothold might.
    tampered = {
        ids[0]: str(secret),  # an absolute path elsewhere
        ids[1]: str(folder / "cat" / ".." / ".." / "secret.png"),  # climbing out with ..
        ids[2]: "/etc/passwd",
    }
    with web_project.store.write() as conn:
        for item_id, path in tampered.items():
            conn.execute(t.items.update().where(t.items.c.id == item_id).values(media_path=path))
    os.remove(folder / "dog" / "1.png")
    os.symlink(secret, folder / "dog" / "1.png")  # a symlink out of the folder
    for item_id in ids:
        response = client.get(f"/api/v1/datasets/pets/items/{item_id}/media")
        assert response.status_code == 404, item_id
        assert str(tmp_path) not in response.text


def test_media_roots_setting_restricts_files(web_project: Project, tmp_path: Path) -> None:
    folder = _image_folder(tmp_path / "pets")
    web_project.import_path(folder, dataset="pets")
    first = item_ids(web_project, "pets")[0]
    elsewhere = tmp_path / "allowed"
    elsewhere.mkdir()
    with TestClient(create_app(web_project, media_roots=[elsewhere])) as c:
        login(c, "admin")
        assert c.get(f"/api/v1/datasets/pets/items/{first}/media").status_code == 404
    with TestClient(create_app(web_project, media_roots=[tmp_path])) as c:
        login(c, "admin")
        assert c.get(f"/api/v1/datasets/pets/items/{first}/media").status_code == 200


def test_statistics_of_a_filter_and_refreshed_after_a_write(
    admin: TestClient, web_project: Project
) -> None:
    stats = admin.get("/api/v1/datasets/digits/statistics").json()
    assert stats["n_items"] == 30 and stats["splits"] == {"train": 22, "test": 8}
    gt = next(la for la in stats["layers"] if la["name"] == "ground_truth")
    assert gt["classes"] == {"0": 10, "1": 10, "2": 10}
    sliced = admin.get("/api/v1/datasets/digits/statistics", params={"filter": "split=test"})
    assert sliced.json()["n_items"] == 8
    first = item_ids(web_project, "digits")[0]  # label "0"
    admin.post(
        f"/api/v1/datasets/digits/items/{first}/labels",
        json={"layer": "ground_truth", "label": "1"},
    )
    again = admin.get("/api/v1/datasets/digits/statistics").json()
    gt = next(la for la in again["layers"] if la["name"] == "ground_truth")
    assert gt["classes"] == {"0": 9, "1": 11, "2": 10}


def test_label_write_is_attributed_and_kept_in_history(
    admin: TestClient, web_project: Project
) -> None:
    item = item_ids(web_project, "digits")[3]
    url = f"/api/v1/datasets/digits/items/{item}"
    response = admin.post(
        f"{url}/labels", json={"layer": "ground_truth", "label": "2", "note": "looks like a 2"}
    )
    assert response.status_code == 201
    assert response.json()["written"] == 1
    labels = {la["layer"]: la for la in admin.get(url).json()["labels"]}
    assert labels["ground_truth"]["label"] == "2" and labels["ground_truth"]["author"] == "admin"
    history = admin.get(f"{url}/history", params={"layer": "ground_truth"}).json()["history"]
    assert [(h["label"], h["author"], h["note"]) for h in history] == [
        ("0", "import", None),
        ("2", "admin", "looks like a 2"),
    ]
    cleared = admin.post(f"{url}/labels", json={"layer": "ground_truth", "label": None})
    assert cleared.status_code == 201
    assert admin.get(url).json()["labels"][0]["label"] is None


def test_label_write_with_an_idempotency_key_lands_once(
    admin: TestClient, web_project: Project
) -> None:
    item = item_ids(web_project, "digits")[4]
    body = {"layer": "ann", "label": "1", "idempotency_key": "retry-me-123"}
    url = f"/api/v1/datasets/digits/items/{item}/labels"
    assert admin.post(url, json=body).json()["written"] == 1
    assert admin.post(url, json=body).json()["written"] == 0
    history = admin.get(f"/api/v1/datasets/digits/items/{item}/history?layer=ann").json()
    assert len(history["history"]) == 1


@pytest.mark.parametrize(
    ("user", "layer", "status"),
    [("annotator", "ann", 201), ("annotator", "ground_truth", 403),
     ("reviewer", "ground_truth", 201), ("reviewer", "frozen", 409),
     ("admin", "frozen", 409), ("admin", "missing", 404)],
)  # fmt: skip
def test_who_may_write_to_which_layer(
    client: TestClient, web_project: Project, user: str, layer: str, status: int
) -> None:
    headers = {"X-CSRF-Token": login(client, user)}
    item = item_ids(web_project, "digits")[5]
    response = client.post(
        f"/api/v1/datasets/digits/items/{item}/labels",
        json={"layer": layer, "label": "2"},
        headers=headers,
    )
    assert response.status_code == status, response.text
    history = web_project.dataset("digits").history(item)
    written = [h for h in history if h["author"] == user]
    assert len(written) == (1 if status == 201 else 0)


def test_unknown_class_and_extra_fields_are_refused(
    admin: TestClient, web_project: Project
) -> None:
    item = item_ids(web_project, "digits")[0]
    url = f"/api/v1/datasets/digits/items/{item}/labels"
    unknown = admin.post(url, json={"layer": "ann", "label": "cat"})
    assert unknown.status_code == 422  # the item and layer exist: the body's value is wrong
    assert "No class 'cat'" in unknown.json()["error"]
    assert "Known classes: '0'" in unknown.json()["error"]
    extra = admin.post(url, json={"layer": "ann", "label": "1", "author": "someone else"})
    assert extra.status_code == 422


def test_blind_mode_hides_other_layers_from_annotators(web_project: Project) -> None:
    item = item_ids(web_project, "digits")[0]
    with TestClient(create_app(web_project, blind=True)) as c:
        c.headers["X-CSRF-Token"] = login(c, "annotator")
        layers = c.get("/api/v1/datasets/digits/layers").json()["layers"]
        assert [la["name"] for la in layers] == ["ann"]
        page = c.get("/api/v1/datasets/digits/items").json()
        assert page["layer"] == "ann" and all(it["label"] is None for it in page["items"])
        hidden = {"layer": "ground_truth"}
        assert c.get("/api/v1/datasets/digits/items", params=hidden).status_code == 403
        sneaky = {"filter": "label[ground_truth]=1"}
        assert c.get("/api/v1/datasets/digits/items", params=sneaky).status_code == 403
        assert c.get("/api/v1/datasets/digits/statistics", params=sneaky).status_code == 403
        stats = c.get("/api/v1/datasets/digits/statistics").json()
        assert {la["name"] for la in stats["layers"]} <= {"ann"}
        detail = c.get(f"/api/v1/datasets/digits/items/{item}").json()
        assert [la["layer"] for la in detail["labels"]] == ["ann"]
        history = c.get(f"/api/v1/datasets/digits/items/{item}/history").json()["history"]
        assert history == []
        page_html = c.get(item_page(web_project, "digits", item)).text
        assert "ground_truth" not in page_html
        # A typo's hint names only the layers the annotator may see.
        typo = {"layer": "ground_trut", "label": "1"}
        refused = c.post(f"/api/v1/datasets/digits/items/{item}/labels", json=typo)
        assert refused.status_code == 404
        assert (
            refused.json()["error"]
            == "No layer 'ground_trut' that you can see. Known layers: 'ann'."
        )
        queue = c.get("/api/v1/datasets/digits/queue", params={"layer": "frozn"})
        assert queue.status_code == 404
        assert "frozen" not in queue.json()["error"] and "'ann'" in queue.json()["error"]
    with TestClient(create_app(web_project, blind=True)) as c:
        c.headers["X-CSRF-Token"] = login(c, "reviewer")  # reviewers are not blind
        assert len(c.get("/api/v1/datasets/digits/layers").json()["layers"]) == 3
        typo = {"layer": "ground_trut", "label": "1"}
        refused = c.post(f"/api/v1/datasets/digits/items/{item}/labels", json=typo)
        assert "Did you mean 'ground_truth'?" in refused.json()["error"]


def test_openapi_schema_is_served_to_signed_in_users(admin: TestClient) -> None:
    schema = admin.get("/api/v1/openapi.json").json()
    assert "/api/v1/datasets/{name}/items" in schema["paths"]
    assert "/api/v1/datasets/{name}/items/{item_id}/labels" in schema["paths"]
    assert not any(p.startswith("/datasets") for p in schema["paths"])  # pages stay out


def test_store_busy_is_503_with_retry_after(
    admin: TestClient, web_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assay.errors import StoreBusy

    def busy(*args: object, **kwargs: object) -> None:
        raise StoreBusy("The store is busy: try again.")

    monkeypatch.setattr("assay.labels.committer.write_requests", busy)
    item = item_ids(web_project, "digits")[0]
    response = admin.post(
        f"/api/v1/datasets/digits/items/{item}/labels", json={"layer": "ann", "label": "1"}
    )
    assert response.status_code == 503 and response.headers["retry-after"] == "5"


def test_users_tables_hold_no_plain_secrets(admin: TestClient, web_project: Project) -> None:
    token = admin.post("/api/v1/tokens", json={"name": "x"}).json()["token"]
    with web_project.store.read() as conn:
        dump = repr(conn.execute(sa.select(t.api_tokens)).all())
        dump += repr(conn.execute(sa.select(t.users)).all())
        dump += repr(conn.execute(sa.select(t.web_sessions)).all())
    assert token not in dump and "correct horse" not in dump
    assert admin.cookies["assay_session"].split(".")[0] not in dump
