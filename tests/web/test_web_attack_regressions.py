"""Holes an attack run on ``assay serve`` found (issue 15), replayed over the web API.

Each test failed before its fix; the library and CLI side of the same rules is in
``tests/security/test_attack_regressions.py``. Every signed-in user could cause the 500s, so
they are checked as the annotator, with a client that turns server errors into responses.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_helpers import PASSWORD, item_ids, login, wait_job

from assay.project import Project

API = "/api/v1/datasets/digits"
BIG = 2**63  # one more than the largest id a store holds


@pytest.fixture
def annotator(app: FastAPI) -> Iterator[TestClient]:
    """The annotator, signed in; a server error comes back as a 500, never as an exception."""
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as c:
        c.headers["X-CSRF-Token"] = login(c, "annotator")
        yield c


def signed(client: TestClient, user: str) -> TestClient:
    """Sign ``client`` in as ``user``; its CSRF token goes on every request."""
    client.headers["X-CSRF-Token"] = login(client, user)
    return client


# -- 1. and 3. reserved and lookalike layer names ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "says"),
    [
        ("reviewed", 422, "is reserved"),
        ("consensus", 422, "is reserved"),
        ("\uff43onsensus", 422, "is reserved"),  # fullwidth c: NFKC makes it 'consensus'
        ("Reviewed", 422, "looks like 'reviewed'"),
        ("ground_truth", 409, "already has a layer named 'ground_truth'"),
        ("ANN", 409, "has a lookalike, a layer named 'ann'"),
        ("m\u200fine", 422, "U+200F RIGHT-TO-LEFT MARK"),
        ("mi\u200bne", 422, "U+200B ZERO WIDTH SPACE"),
        ("\u0430lice", 422, "U+0430 CYRILLIC SMALL LETTER A"),
    ],
)
def test_an_annotator_cannot_create_reserved_or_lookalike_layers(
    annotator: TestClient, web_project: Project, name: str, status: int, says: str
) -> None:
    response = annotator.post(f"{API}/layers", json={"name": name})
    assert response.status_code == status, response.text
    assert says in response.json()["error"]
    names = [layer["name"] for layer in web_project.dataset("digits").layers()]
    assert names == ["ground_truth", "ann", "frozen"]


def test_reserved_names_cannot_be_claimed_by_copy_or_rename(client: TestClient) -> None:
    signed(client, "reviewer")
    copied = client.post(f"{API}/layers/copy", json={"source": "ann", "target": "consensus"})
    assert copied.status_code == 422 and "is reserved" in copied.json()["error"]
    renamed = client.post(f"{API}/layers/rename", json={"layer": "ann", "name": "reviewed"})
    assert renamed.status_code == 422 and "is reserved" in renamed.json()["error"]
    lookalike = client.post(f"{API}/layers/rename", json={"layer": "ann", "name": "\u0430nn"})
    assert lookalike.status_code == 422 and "CYRILLIC" in lookalike.json()["error"]


# -- 2. consensus ------------------------------------------------------------------------------


def test_an_annotator_with_many_layers_does_not_steer_the_default_consensus(
    client: TestClient, web_project: Project
) -> None:
    ds = web_project.dataset("digits")
    ids = item_ids(web_project, "digits")
    truth = [str(i % 3) for i in range(len(ids))]  # what ground_truth says
    for name, owner in (("b1", None), ("c1", "reviewer")):
        ds.create_layer(name, owner=owner)
        ds.set_labels(list(zip(ids, truth, strict=True)), layer=name, author="reviewer")
    signed(client, "annotator")
    for n in range(3):  # three layers of her own that all say "2"
        assert client.post(f"{API}/layers", json={"name": f"m{n}"}).status_code == 201
        bulk = client.post(f"{API}/labels", json={"layer": f"m{n}", "label": "2", "items": ids})
        assert bulk.status_code == 201, bulk.text
    signed(client, "reviewer")
    response = client.post(f"{API}/consensus", json={"method": "majority-vote"})
    assert response.status_code == 201, response.text
    assert response.json()["layers"] == ["frozen", "b1", "c1", "m2"]  # one layer per person
    labels = ds.label_matrix(["consensus"])
    assert [labels.classes[c] for c in labels.codes[:, 0]] == truth
    into_hers = client.post(f"{API}/consensus", json={"method": "majority-vote", "into": "m0"})
    assert into_hers.status_code == 422 and "not a consensus layer" in into_hers.json()["error"]


# -- 5. 500s any signed-in user could cause ----------------------------------------------------


def test_a_case_filter_works_on_statistics(annotator: TestClient, web_project: Project) -> None:
    web_project.dataset("digits").review.flag(item_ids(web_project, "digits")[3], "odd", actor="x")
    for text, n_items in (("case=any", 1), ("case!=any", 29), ("case=flagged", 1)):
        response = annotator.get(f"{API}/statistics", params={"filter": text})
        assert response.status_code == 200, response.text
        assert response.json()["n_items"] == n_items
    bad = annotator.get(f"{API}/statistics", params={"filter": "case=nonsense"})
    assert bad.status_code == 422 and "Unknown review case reason" in bad.json()["error"]
    assert annotator.get("/api/v1/whoami").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{API}/items?filter=import={BIG}", None),
        ("GET", f"{API}/items?filter=selection={BIG}", None),
        ("GET", f"{API}/items?filter=import=\u00b2", None),  # a digit int() cannot read
        ("GET", f"{API}/statistics?filter=import={BIG}", None),
        ("GET", f"{API}/items?after={BIG}", None),
        ("GET", f"{API}/items/{BIG}", None),
        ("GET", f"/datasets/digits/items/{BIG}", None),
        ("DELETE", f"/api/v1/tokens/{BIG}", None),
        ("POST", f"/account/tokens/{BIG}/revoke", None),
        ("POST", f"{API}/review/flag", {"item_id": BIG, "comment": "x"}),
        ("POST", f"{API}/labels", {"layer": "ann", "label": "0", "items": [BIG]}),
    ],
)
def test_integers_too_big_for_the_store_are_refused_and_the_server_goes_on(
    annotator: TestClient, method: str, path: str, body: dict[str, object] | None
) -> None:
    response = annotator.request(method, path, json=body)
    assert 400 <= response.status_code < 500, response.text
    if path.startswith("/api/"):
        assert response.json()["error"]  # a message, not an internal error
    assert annotator.get("/api/v1/whoami").status_code == 200


def test_a_case_version_too_big_for_the_store_is_refused(
    client: TestClient, web_project: Project
) -> None:
    case = web_project.dataset("digits").review.flag(item_ids(web_project, "digits")[0], "x")
    signed(client, "reviewer")
    body = {"reason": "fine", "expected_version": BIG}
    response = client.post(f"{API}/review/cases/{case['id']}/dismiss", json=body)
    assert response.status_code == 422 and "expected_version" in response.json()["error"]
    assert client.get(f"{API}/review/cases/{case['id']}").json()["case"]["state"] == "open"


# -- 7. tokens and 405 -------------------------------------------------------------------------


def test_a_password_change_revokes_api_tokens(client: TestClient, app: FastAPI) -> None:
    signed(client, "annotator")
    token = client.post("/api/v1/tokens", json={"name": "script"}).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as script:
        assert script.get("/api/v1/whoami", headers=bearer).status_code == 200
        signed(client, "admin")
        changed = client.patch("/api/v1/users/annotator", json={"password": PASSWORD + "!"})
        assert changed.status_code == 200, changed.text
        assert script.get("/api/v1/whoami", headers=bearer).status_code == 401


@pytest.mark.parametrize(
    ("path", "allow"),
    [(f"{API}/layers", "GET, POST"), ("/api/v1/login", "GET, POST"), ("/api/v1/whoami", "GET")],
)
def test_405_says_which_methods_are_allowed(client: TestClient, path: str, allow: str) -> None:
    signed(client, "admin")
    response = client.patch(path, json={})
    assert response.status_code == 405
    assert response.headers["Allow"] == allow


# -- 6. uploads --------------------------------------------------------------------------------


def _parquet() -> bytes:
    buffer = io.BytesIO()
    table = {"id": ["a", "b", "c"], "x": [1.5, 2.5, 3.0], "band": ["low", "high", "high"]}
    pd.DataFrame(table).to_parquet(buffer)
    return buffer.getvalue()


def _ndjson() -> bytes:
    rows = [{"text": "good", "label": "pos"}, {"text": "bad", "label": "neg"}]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.mark.parametrize(
    ("filename", "content", "fields"),
    [
        ("houses.pq", _parquet(), {"label_column": "band", "key_column": "id"}),
        ("reviews.ndjson", _ndjson(), {"label_column": "label"}),
    ],
)
def test_pq_and_ndjson_uploads_import(
    client: TestClient, web_project: Project, filename: str, content: bytes, fields: dict
) -> None:
    signed(client, "admin")
    response = client.post(
        "/api/v1/datasets/uploaded/imports", files={"file": (filename, content)}, data=fields
    )
    assert response.status_code == 202, response.text
    ended = wait_job(client, response.json()["job"]["id"])
    assert ended["state"] == "done", ended
    ds = web_project.dataset("uploaded")
    assert len(ds) == ended["result"]["n_rows"] == len(ds.label_matrix(["ground_truth"]).item_ids)
