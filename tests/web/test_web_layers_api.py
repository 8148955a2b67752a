"""Layers (create, copy, rename, freeze), bulk label writes and the labeling queue, over the API,
with the roles enforced and every write attributed to the signed-in user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from web_helpers import item_ids, login

from assay.labels.kinds import KINDS, AnnotationKind, register
from assay.project import Project
from assay.web import create_app

API = "/api/v1/datasets/digits"


def signed(client: TestClient, user: str) -> TestClient:
    """Sign ``client`` in as ``user``; its CSRF token goes on every request."""
    client.headers["X-CSRF-Token"] = login(client, user)
    return client


def layer_names(project: Project) -> list[str]:
    return [layer["name"] for layer in project.dataset("digits").layers()]


# -- layers -----------------------------------------------------------------------------------


def test_reviewer_creates_copies_renames_and_freezes_layers(
    client: TestClient, web_project: Project
) -> None:
    signed(client, "reviewer")
    made = client.post(f"{API}/layers", json={"name": "draft", "owner": "annotator"})
    assert made.status_code == 201
    assert made.json()["layer"] | {"created_at": None} == {
        "name": "draft", "kind": "human", "frozen": False, "owner": "annotator",
        "description": "", "created_at": None, "can_write": True,
        "value_kind": "classification", "hotkeys": {}, "options": {},
    }  # fmt: skip
    copied = client.post(f"{API}/layers/copy", json={"source": "ground_truth", "target": "gt2"})
    assert copied.status_code == 201
    item = item_ids(web_project, "digits")[4]
    history = web_project.dataset("digits").history(item, "gt2")
    assert [(h["label"], h["author"]) for h in history] == [("1", "reviewer")]  # credited
    renamed = client.post(f"{API}/layers/rename", json={"layer": "gt2", "name": "gt-copy"})
    assert renamed.json()["layer"]["name"] == "gt-copy"
    frozen = client.post(f"{API}/layers/freeze", json={"layer": "gt-copy"})
    assert frozen.json()["layer"]["frozen"] is True
    write = client.post(f"{API}/items/{item}/labels", json={"layer": "gt-copy", "label": "2"})
    assert write.status_code == 409
    thawed = client.post(f"{API}/layers/freeze", json={"layer": "gt-copy", "frozen": False})
    assert thawed.json()["layer"]["frozen"] is False
    assert layer_names(web_project) == ["ground_truth", "ann", "frozen", "draft", "gt-copy"]


class Sizes(AnnotationKind):
    """A kind defined only in this test: a width and a height per item."""

    name: ClassVar[str] = "web_toy_size"

    def show(self, value: Any) -> str:
        return f"{value['w']}x{value['h']}"


@pytest.fixture
def sizes_kind() -> Iterator[AnnotationKind]:
    kind = register(Sizes())
    yield kind
    del KINDS[kind.name]


def test_a_layer_of_another_annotation_kind_is_made_and_shown_as_its_kind_says(
    client: TestClient, web_project: Project, sizes_kind: AnnotationKind
) -> None:
    signed(client, "reviewer")
    made = client.post(f"{API}/layers", json={"name": "sizes", "value_kind": "web_toy_size"})
    assert made.status_code == 201 and made.json()["layer"]["value_kind"] == "web_toy_size"
    unknown = client.post(f"{API}/layers", json={"name": "shapes", "value_kind": "polygons"})
    assert unknown.status_code == 422 and "Unknown annotation kind 'polygons'" in unknown.text
    item = item_ids(web_project, "digits")[0]
    ds = web_project.dataset("digits")
    ds.set_label(item, {"w": 3, "h": 4}, layer="sizes", author="reviewer")  # type: ignore[arg-type]
    detail = client.get(f"{API}/items/{item}").json()
    labels = {la["layer"]: la for la in detail["labels"]}
    assert labels["sizes"]["value_kind"] == "web_toy_size"
    assert (labels["sizes"]["label"], labels["sizes"]["value"]) == ("3x4", {"w": 3, "h": 4})
    assert labels["ground_truth"]["label"] == labels["ground_truth"]["value"]
    page = client.get(f"{API}/items", params={"layer": "sizes", "limit": 1}).json()
    assert page["items"][0]["label"] == "3x4"


def test_layer_conflicts_and_unknown_layers_are_clear(client: TestClient) -> None:
    signed(client, "admin")
    taken = client.post(f"{API}/layers", json={"name": "ann"})
    assert taken.status_code == 409 and "already has a layer named 'ann'" in taken.json()["error"]
    missing = client.post(f"{API}/layers/rename", json={"layer": "nope", "name": "x"})
    assert missing.status_code == 404
    bad_kind = client.post(f"{API}/layers", json={"name": "x", "kind": "weird"})
    assert bad_kind.status_code == 422


def test_annotators_create_only_their_own_human_layers(
    client: TestClient, web_project: Project
) -> None:
    signed(client, "annotator")
    own = client.post(f"{API}/layers", json={"name": "mine"})
    assert own.status_code == 201 and own.json()["layer"]["owner"] == "annotator"
    assert own.json()["layer"]["can_write"] is True
    for body in (
        {"name": "theirs", "owner": "reviewer"},
        {"name": "model-x", "kind": "model"},
    ):
        assert client.post(f"{API}/layers", json=body).status_code == 403, body
    for path, body in (
        ("copy", {"source": "ann", "target": "ann2"}),
        ("rename", {"layer": "ann", "name": "ann3"}),
        ("freeze", {"layer": "ann"}),
    ):
        response = client.post(f"{API}/layers/{path}", json=body)
        assert response.status_code == 403, path
        assert "may not manage layers" in response.json()["error"]
    assert layer_names(web_project) == ["ground_truth", "ann", "frozen", "mine"]


def test_layer_writes_need_the_csrf_token(client: TestClient, web_project: Project) -> None:
    login(client, "admin")  # signed in, but the token is not sent
    item = item_ids(web_project, "digits")[0]
    for path, body in (
        ("layers", {"name": "x"}),
        ("layers/copy", {"source": "ann", "target": "y"}),
        ("layers/rename", {"layer": "ann", "name": "z"}),
        ("layers/freeze", {"layer": "ann"}),
        ("labels", {"layer": "ann", "label": "1", "items": [item]}),
    ):
        response = client.post(f"{API}/{path}", json=body)
        assert response.status_code == 403, path
        assert "CSRF" in response.json()["error"]
    assert layer_names(web_project) == ["ground_truth", "ann", "frozen"]
    assert web_project.dataset("digits").history(item, "ann") == []


# -- bulk writes ------------------------------------------------------------------------------


def test_bulk_label_by_ids_is_attributed(client: TestClient, web_project: Project) -> None:
    signed(client, "annotator")
    ids = item_ids(web_project, "digits")[:5]
    response = client.post(
        f"{API}/labels", json={"layer": "ann", "label": "2", "items": ids, "note": "batch"}
    )
    assert response.status_code == 201
    assert response.json() == {
        "ok": True, "layer": "ann", "label": "2", "items": 5, "written": 5, "unchanged": 0,
    }  # fmt: skip
    ds = web_project.dataset("digits")
    for item in ids:
        assert [(h["label"], h["author"], h["note"]) for h in ds.history(item, "ann")] == [
            ("2", "annotator", "batch")
        ]
    cleared = client.post(f"{API}/labels", json={"layer": "ann", "label": None, "items": ids[:2]})
    assert cleared.json()["written"] == 2
    assert ds.item(ids[0])["labels"].get("ann") is None
    assert len(ds.history(ids[0], "ann")) == 2  # the clear is a new row; nothing deleted


def test_bulk_label_by_filter(client: TestClient, web_project: Project) -> None:
    signed(client, "reviewer")
    response = client.post(
        f"{API}/labels", json={"layer": "ann", "label": "0", "filter": "split=test, label=1"}
    )
    assert response.status_code == 201
    matching, _ = web_project.dataset("digits").items("split=test, label=1", limit=100)
    assert response.json()["written"] == len(matching) > 0
    labeled, _ = web_project.dataset("digits").items("label[ann]=0", limit=100)
    assert [r["id"] for r in labeled] == [r["id"] for r in matching]


@pytest.mark.parametrize(
    ("body", "status"),
    [({"layer": "ann", "label": "1"}, 422),  # neither items nor filter
     ({"layer": "ann", "label": "1", "items": [1], "filter": "split=test"}, 422),  # both
     ({"layer": "ann", "label": "1", "filter": "  "}, 422),  # an empty filter is not "all"
     ({"layer": "ann", "label": "1", "items": []}, 422),
     ({"layer": "ann", "label": "1", "filter": "label[nope]=1"}, 404),
     ({"layer": "frozen", "label": "1", "filter": "split=test"}, 409)],
)  # fmt: skip
def test_bad_bulk_writes_are_refused(
    client: TestClient, web_project: Project, body: dict[str, object], status: int
) -> None:
    signed(client, "admin")
    response = client.post(f"{API}/labels", json=body)
    assert response.status_code == status, response.text
    assert response.json()["ok"] is False and response.json()["error"]


def test_bulk_write_is_all_or_nothing(client: TestClient, web_project: Project) -> None:
    signed(client, "admin")
    digits = item_ids(web_project, "digits")[:3]
    foreign = item_ids(web_project, "other")[0]  # an item of another dataset
    response = client.post(
        f"{API}/labels", json={"layer": "ann", "label": "1", "items": [*digits, foreign]}
    )
    assert response.status_code == 404 and "nothing was written" in response.json()["error"]
    unknown_class = client.post(
        f"{API}/labels", json={"layer": "ann", "label": "7", "items": digits}
    )
    assert unknown_class.status_code == 422 and "No class '7'" in unknown_class.text
    ds = web_project.dataset("digits")
    assert all(ds.history(item, "ann") == [] for item in digits)


def test_annotators_bulk_write_only_to_their_own_layers(
    client: TestClient, web_project: Project
) -> None:
    web_project.dataset("digits").create_layer("rita", owner="reviewer")
    signed(client, "annotator")
    ids = item_ids(web_project, "digits")[:3]
    for layer in ("ground_truth", "rita"):
        response = client.post(f"{API}/labels", json={"layer": layer, "label": "1", "items": ids})
        assert response.status_code == 403, layer
    by_filter = client.post(
        f"{API}/labels", json={"layer": "ground_truth", "label": "1", "filter": "split=test"}
    )
    assert by_filter.status_code == 403
    history = web_project.dataset("digits").history(ids[0])
    assert [h["author"] for h in history] == ["import"]


def test_single_writes_check_the_layer_when_they_land(web_project: Project) -> None:
    # The who-may-write check runs inside the group commit, against the layer row as it is
    # then: each refused write gets its own answer and its neighbours land.
    ds = web_project.dataset("digits")
    ds.create_layer("rita", owner="reviewer")
    ds.create_layer("done", owner="annotator")
    ds.freeze_layer("done")
    item = item_ids(web_project, "digits")[0]
    url = f"{API}/items/{item}/labels"
    with TestClient(create_app(web_project, blind=True)) as c:
        signed(c, "annotator")
        hidden = c.post(url, json={"layer": "rita", "label": "1"})
        assert hidden.status_code == 403 and "may not see layer 'rita'" in hidden.json()["error"]
    with TestClient(create_app(web_project)) as c:
        signed(c, "annotator")
        other = c.post(url, json={"layer": "rita", "label": "1"})
        assert other.status_code == 403 and "label only in the layers they own" in other.text
        assert c.post(url, json={"layer": "done", "label": "1"}).status_code == 409
        assert c.post(url, json={"layer": "nope", "label": "1"}).status_code == 404
        assert c.post(url, json={"layer": "ann", "label": "1"}).status_code == 201
    assert ds.history(item, "rita") == [] and ds.history(item, "done") == []
    assert [h["author"] for h in ds.history(item, "ann")] == ["annotator"]


def test_blind_annotators_cannot_bulk_write_through_a_hidden_filter(
    web_project: Project,
) -> None:
    with TestClient(create_app(web_project, blind=True)) as c:
        signed(c, "annotator")
        sneaky = {"layer": "ann", "label": "1", "filter": "label[ground_truth]=1"}
        assert c.post(f"{API}/labels", json=sneaky).status_code == 403
        assert c.post(f"{API}/labels", json={**sneaky, "filter": "split=test"}).status_code == 201


# -- the labeling queue -----------------------------------------------------------------------


def test_queue_serves_unlabeled_items_in_order(client: TestClient, web_project: Project) -> None:
    signed(client, "annotator")
    ids = item_ids(web_project, "digits")
    web_project.dataset("digits").set_labels(
        [(ids[0], "1"), (ids[2], "2")], layer="ann", author="annotator"
    )
    first = client.get(f"{API}/queue", params={"layer": "ann", "limit": 4}).json()
    assert [it["id"] for it in first["items"]] == [ids[1], ids[3], ids[4], ids[5]]
    assert first["labeled"] == 2 and first["total"] == 30
    assert all(it["label"] is None and it["media_url"] for it in first["items"])
    rest = client.get(
        f"{API}/queue", params={"layer": "ann", "limit": 100, "after": first["next"]}
    ).json()
    assert [it["id"] for it in rest["items"]] == ids[6:]
    assert rest["next"] is None and "labeled" not in rest  # counts on the first page only


def test_queue_within_a_filter(client: TestClient, web_project: Project) -> None:
    signed(client, "reviewer")
    page = client.get(
        f"{API}/queue", params={"layer": "ann", "filter": "split=test", "limit": 100}
    ).json()
    tests, _ = web_project.dataset("digits").items("split=test", limit=100)
    assert [it["id"] for it in page["items"]] == [r["id"] for r in tests]
    assert page["total"] == len(tests) and page["labeled"] == 0


@pytest.mark.parametrize(
    ("user", "layer", "status"),
    [("annotator", "ann", 200), ("annotator", "ground_truth", 403),
     ("reviewer", "ground_truth", 200), ("admin", "missing", 404), ("admin", "frozen", 409)],
)  # fmt: skip
def test_queue_only_for_layers_one_may_write(
    client: TestClient, user: str, layer: str, status: int
) -> None:
    signed(client, user)
    assert client.get(f"{API}/queue", params={"layer": layer}).status_code == status


def test_queue_page_offers_to_create_a_layer_then_labels_into_it(
    client: TestClient, web_project: Project
) -> None:
    csrf = login(client, "reviewer")
    page = client.get("/datasets/digits/label")
    assert page.status_code == 200 and 'id="queue-create-layer"' in page.text
    assert 'id="queue"' not in page.text  # no layer of their own: nothing chosen for them
    made = client.post("/datasets/digits/label/layer", data={"layer": "rita", "csrf_token": csrf})
    assert made.status_code == 303 and made.headers["location"].endswith("/label?layer=rita")
    assert web_project.dataset("digits").layer("rita")["owner"] == "reviewer"
    queue = client.get(made.headers["location"]).text
    assert 'data-layer="rita"' in queue and "<kbd>1</kbd>" in queue
    assert client.get("/datasets/digits/label").text.count('data-layer="rita"') == 1  # default
    refused = client.post("/datasets/digits/label/layer", data={"layer": "x"})  # no CSRF
    assert refused.status_code == 403
