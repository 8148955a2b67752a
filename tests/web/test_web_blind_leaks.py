"""Holes 4 and 6 of the attack run on ``assay serve --blind`` (issue 15), replayed.

4. Blind mode leaked how others labeled: through ``confidence[layer]`` filters, other people's
   jobs, models trained on hidden layers and the reviewer's reason and score in review
   cases; import errors showed server paths. 6. A job's ``model`` import path, named by an
   annotator, was imported by the worker. Each test failed before its fix; the rules
   themselves are tested in the library (``tests/test_access.py``).
"""

from __future__ import annotations

import io
import sys
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_helpers import add_second_annotator, item_ids, item_page, login, wait_job

from assay import jobs
from assay.project import Project
from assay.web import create_app

API = "/api/v1/datasets/digits"
HIDDEN = "confidence[ground_truth]<2"  # reads a layer a blind annotator may not see
OWN = "confidence[ann]<2"


def signed(client: TestClient, user: str) -> TestClient:
    """Sign ``client`` in as ``user``; its CSRF token goes on every request."""
    client.headers["X-CSRF-Token"] = login(client, user)
    return client


@pytest.fixture
def blind(web_project: Project) -> Iterator[TestClient]:
    """The annotator, signed in to a server in blind mode."""
    with TestClient(create_app(web_project, blind=True), follow_redirects=False) as c:
        yield signed(c, "annotator")


# -- 4a. every filter that reads a layer is checked --------------------------------------------


def _probes(item: int, page: str, filter: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, request arguments) of every route that takes a filter an annotator
    may send: items, statistics, the item page and its API, the queue, bulk labels, a
    suggest job and the item page's "label and go to the next" form."""
    query = {"params": {"filter": filter}}
    return [
        ("GET", f"{API}/items", {"params": {"filter": filter, "layer": "ann"}}),
        ("GET", f"{API}/statistics", query),
        ("GET", f"{API}/items/{item}", query),
        ("GET", page, query),
        ("GET", "/datasets/digits/items", {"params": {"filter": filter, "layer": "ann"}}),
        ("GET", f"{API}/queue", {"params": {"filter": filter, "layer": "ann"}}),
        ("POST", f"{API}/labels", {"json": {"layer": "ann", "label": "1", "filter": filter}}),
        (
            "POST",
            f"{API}/jobs",
            {"json": {"kind": "suggest", "params": {"layer": "ann", "filter": filter}}},
        ),
    ]


def test_confidence_filters_on_hidden_layers_are_refused_everywhere(
    blind: TestClient, web_project: Project
) -> None:
    item, other = item_ids(web_project, "digits")[:2]
    page = item_page(web_project, "digits", item)
    for method, path, kwargs in _probes(item, page, HIDDEN):
        response = blind.request(method, path, **kwargs)
        assert response.status_code == 403, (path, response.text)
        assert "filter on the confidence of layer" in response.text, path
    # A confidence filter on a layer without confidences is refused as matching nothing
    # (issue 16): give the annotator's layer one.
    ds = web_project.dataset("digits")
    ds.set_label(other, "1", layer="ann", confidence=0.5, author="annotator")
    for method, path, kwargs in _probes(item, page, OWN)[:6]:  # reads only: the writes would run
        assert blind.request(method, path, **kwargs).status_code == 200, path
    form = {"layer": "ann", "label": "1", "filter": HIDDEN, "go": "next"}
    refused = blind.post(f"/datasets/digits/items/{item}/labels", data=form)
    assert refused.status_code == 403
    labeled, _ = ds.items("label[ann]!=none")
    assert [r["id"] for r in labeled] == [other]  # nothing was written


# -- 4b. other people's jobs -------------------------------------------------------------------


def test_blind_annotators_see_others_jobs_without_parameters_or_results(
    web_project: Project,
) -> None:
    add_second_annotator(web_project)
    ds = web_project.dataset("digits")
    theirs = jobs.submit(ds, "consensus", {"method": "majority-vote", "layers": ["ann", "b1"]},
                         by="reviewer")  # fmt: skip
    jobs.work(web_project)
    assert jobs.get(ds.store, theirs["id"])["result"]["annotator_quality"]
    with TestClient(create_app(web_project, blind=True)) as c:
        signed(c, "annotator")
        mine = c.post(f"{API}/jobs", json={"kind": "suggest", "params": {"layer": "ann"}})
        assert mine.status_code == 202, mine.text
        listed = {j["id"]: j for j in c.get(f"{API}/jobs").json()["jobs"]}
        other = listed[theirs["id"]]
        assert other["redacted"] and other["kind"] == "consensus" and other["state"] == "done"
        assert other["params"] == {} and other["result"] is None and other["error"] is None
        assert listed[mine.json()["job"]["id"]]["params"]["layer"] == "ann"  # their own: whole
        one = c.get(f"/api/v1/jobs/{theirs['id']}")
        assert one.json()["job"]["result"] is None and "b1" not in one.text
        assert "annotator_quality" not in c.get(f"{API}/jobs/{theirs['id']}").text
        page = c.get("/datasets/digits/jobs")
        assert page.status_code == 200 and "majority-vote" not in page.text
    with TestClient(create_app(web_project)) as c:  # without blind mode nothing is hidden
        signed(c, "annotator")
        assert c.get(f"/api/v1/jobs/{theirs['id']}").json()["job"]["result"]["layers"]


# -- 4c. import errors name the file as uploaded -----------------------------------------------


def _zipped(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("filename", "content", "says"),
    [
        ("bad.csv", b"a,b\n1,2,3,4\n", "bad.csv, line 2"),
        ("bad.jsonl", b'{"text": 1}\n', "bad.jsonl, line 1"),
        ("data.zip", _zipped("d/bad.jsonl", b'{"text": "a"}\n{bad\n'), "data.zip/d/bad.jsonl"),
    ],
)
def test_import_errors_show_no_server_paths(
    client: TestClient, web_project: Project, filename: str, content: bytes, says: str
) -> None:
    signed(client, "admin")
    response = client.post("/api/v1/datasets/up/imports", files={"file": (filename, content)})
    assert response.status_code == 202, response.text
    ended = wait_job(client, response.json()["job"]["id"])
    assert ended["state"] == "failed"
    error = ended["error"]
    assert error.startswith(says), error
    assert str(web_project.root) not in error and ".assay" not in error


# -- 4d. models trained on hidden layers -------------------------------------------------------


def test_models_trained_on_hidden_layers_are_hidden_from_blind_annotators(
    blind: TestClient, web_project: Project
) -> None:
    ds = web_project.dataset("digits")
    ids = item_ids(web_project, "digits")
    ds.set_labels([(i, str(k % 3)) for k, i in enumerate(ids[:15])], layer="ann")
    ds.models.cross_validate(name="cv", folds=3, model="logreg")  # learns from ground_truth
    ds.models.cross_validate(name="mine", folds=3, model="logreg", layer="ann")
    assert [r["name"] for r in blind.get(f"{API}/runs").json()["runs"]] == ["mine"]
    assert blind.get(f"{API}/runs/cv").status_code == 403
    evaluation = f"{API}/predictions/evaluation"
    assert blind.get(evaluation, params={"run": "cv", "reference": "ann"}).status_code == 403
    assert blind.get(f"{API}/items", params={"layer": "cv"}).status_code == 403
    assert blind.get(f"{API}/items", params={"filter": "label[cv]=1"}).status_code == 403
    assert blind.get(f"{API}/items", params={"filter": "confidence[cv]<2"}).status_code == 403
    insights = blind.get(f"{API}/items/{ids[0]}/insights").json()
    assert [p["layer"] for p in insights["predictions"]] == ["mine"]
    page = blind.get(item_page(web_project, "digits", ids[0]))
    assert page.status_code == 200 and "cv" not in {la["name"] for la in _layers(blind)}
    predictions = blind.get("/datasets/digits/predictions", params={"run": "cv"})
    assert predictions.status_code == 403
    ds.quality.find(layer="ann", model_layer="cv", features=False)  # cv's view of ann's labels
    issues = blind.get("/api/v1/datasets/digits/issues")
    assert issues.status_code == 403 and "'cv'" in issues.json()["error"]


def _layers(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/api/v1/datasets/digits")
    assert response.status_code == 200, response.text
    layers: list[dict[str, Any]] = response.json()["layers"]
    return layers


# -- 4e. review decisions ----------------------------------------------------------------------


def test_redacted_cases_hide_the_reviewers_reason_and_the_agreement(
    web_project: Project,
) -> None:
    disputed = add_second_annotator(web_project)
    ds = web_project.dataset("digits")
    case = ds.review.list(item=disputed[0])[0][0]
    assert case["score"] == 0.5 and case["evidence"]["agreement"] == 0.5
    reason = "b1 is right, it is a 2"
    ds.review.resolve(case["id"], "2", reason, actor="reviewer")
    with TestClient(create_app(web_project, blind=True)) as c:
        signed(c, "annotator")
        response = c.get(f"{API}/review/cases/{case['id']}")
        shown = response.json()["case"]
        assert shown["redacted"] and shown["state"] == "resolved"
        assert shown["resolution"] == "(hidden in blind mode)"
        assert shown["score"] is None and "agreement" not in shown["evidence"]
        assert reason not in response.text
        listed = c.get(f"{API}/review/cases", params={"state": "any", "limit": 100})
        assert all(x["score"] is None for x in listed.json()["cases"])
        page = c.get("/datasets/digits/review", params={"state": "any"})
        assert reason not in page.text and "% agree" not in page.text
    with TestClient(create_app(web_project, blind=True)) as c:
        signed(c, "reviewer")  # reviewers are never blind
        assert c.get(f"{API}/review/cases/{case['id']}").json()["case"]["resolution"] == reason


# -- 6. model import paths ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "kind", "params"),
    [
        ("annotator", "suggest", {"layer": "ann", "model": "this.Zen"}),
        ("annotator", "train", {"model": "this.Zen"}),
        ("annotator", "cross-validate", {"model": "this.Zen"}),
        ("reviewer", "train", {"model": "this.Zen"}),
        ("reviewer", "cross-validate", {"model": "this.Zen"}),
        ("reviewer", "issues", {"model": "this.Zen"}),
        ("reviewer", "suggest", {"layer": "ann", "model": "this.Zen"}),
    ],
)
def test_only_admins_name_a_model_by_import_path(
    client: TestClient, web_project: Project, user: str, kind: str, params: dict[str, Any]
) -> None:
    assert "this" not in sys.modules  # importing it prints the Zen of Python: the canary
    signed(client, user)
    response = client.post(f"{API}/jobs", json={"kind": kind, "params": params})
    assert response.status_code == 403, response.text
    assert jobs.list_jobs(web_project.store, web_project.dataset("digits").id) == []
    assert "this" not in sys.modules


def test_unknown_model_names_are_refused_when_the_job_is_created(client: TestClient) -> None:
    signed(client, "annotator")
    body = {"kind": "suggest", "params": {"layer": "ann", "model": "forest"}}
    response = client.post(f"{API}/jobs", json=body)
    assert response.status_code == 422 and "unknown model 'forest'" in response.json()["error"]
