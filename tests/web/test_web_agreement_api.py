"""Agreement, the confusion matrix of two layers, consensus, snapshots and diffs over the API,
and their pages."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from web_helpers import add_second_annotator, item_ids, login, without_tokens

from assay.labels.agreement import confusion
from assay.project import Project
from assay.web import create_app
from assay.web.views.agreement import cell_filter

API = "/api/v1/datasets/digits"


@pytest.fixture
def disputed(web_project: Project) -> list[int]:
    """The items layers ``ann`` and ``b1`` disagree on (see web_helpers)."""
    return add_second_annotator(web_project)


def signed(client: TestClient, user: str) -> TestClient:
    client.headers["X-CSRF-Token"] = login(client, user)
    return client


def test_agreement_report_matches_the_library(
    client: TestClient, disputed: list[int], web_project: Project
) -> None:
    signed(client, "annotator")  # not blind: anyone may read it
    response = client.get(f"{API}/agreement", params={"layers": ["ann", "b1"]})
    assert response.status_code == 200
    report = response.json()
    expected = web_project.dataset("digits").agreement(["ann", "b1"]).to_dict()
    assert {k: report[k] for k in expected} == expected
    assert report["layers"] == ["ann", "b1"] and report["reference"] == "majority-vote"
    assert report["pairwise"][0]["n_common"] == 30
    assert report["pairwise"][0]["percent_agreement"] == pytest.approx(1 - len(disputed) / 30)
    sliced = client.get(
        f"{API}/agreement", params={"layers": ["ann", "b1"], "filter": "split=test"}
    ).json()
    assert sliced["n_items"] == 8 and sliced["filter"] == "split=test"


def test_agreement_report_follows_new_labels(client: TestClient, disputed: list[int]) -> None:
    signed(client, "reviewer")
    params = {"layers": ["ann", "b1"]}
    before = client.get(f"{API}/agreement", params=params).json()["pairwise"][0]
    assert before["n_common"] == 30
    client.post(
        f"{API}/labels", json={"layer": "b1", "label": "0", "items": disputed[:1]}
    )  # item 0: ann says 1, b1 said 2, now 0: still disagree, but counts changed
    client.post(f"{API}/labels", json={"layer": "b1", "label": None, "items": disputed[1:3]})
    after = client.get(f"{API}/agreement", params=params).json()["pairwise"][0]
    assert after["n_common"] == 28  # the cache did not serve the old report


@pytest.mark.parametrize(
    ("params", "status"),
    [({"layers": ["ann"]}, 422), ({"layers": ["ann", "nope"]}, 404),
     ({"layers": ["ann", "b1"], "filter": "bogus"}, 422),
     ({"layers": ["ann", "b1"], "reference": "nope"}, 404)],
)  # fmt: skip
def test_bad_agreement_queries(
    client: TestClient, disputed: list[int], params: dict[str, object], status: int
) -> None:
    signed(client, "admin")
    response = client.get(f"{API}/agreement", params=params)
    assert response.status_code == status, response.text
    assert response.json()["error"]


def test_confusion_matrix_and_the_filters_behind_its_cells(
    client: TestClient, disputed: list[int], web_project: Project
) -> None:
    signed(client, "reviewer")
    body = client.get(f"{API}/agreement/confusion", params={"a": "ann", "b": "b1"}).json()
    ds = web_project.dataset("digits")
    assert body["matrix"] == confusion(ds.label_matrix(["ann", "b1"]), "ann", "b1").tolist()
    assert body["classes"] == ["0", "1", "2"] and body["n_common"] == 30
    for i, x in enumerate(body["classes"]):
        for j, y in enumerate(body["classes"]):
            rows, _ = ds.items(body["cell_filters"][i][j], limit=100)
            assert len(rows) == body["matrix"][i][j], (x, y)  # the cell opens its own items
    within = client.get(
        f"{API}/agreement/confusion", params={"a": "ann", "b": "b1", "filter": "split=test"}
    ).json()
    assert within["cell_filters"][0][0] == "label[ann]=0, label[b1]=0, split=test"
    assert sum(map(sum, within["matrix"])) == 8
    same = client.get(f"{API}/agreement/confusion", params={"a": "ann", "b": "ann"})
    assert same.status_code == 422


def test_cell_filter_refuses_names_the_filter_language_cannot_hold() -> None:
    assert cell_filter("a", "x", "b", "y", None) == "label[a]=x, label[b]=y"
    assert cell_filter("a, b", "x", "b", "y", None) is None
    assert cell_filter("a]", "x", "b", "y", None) is None
    assert cell_filter("a", "x and y", "b", "y", None) is None
    assert cell_filter("a", '"x"', "b", "y", None) is None


def test_blind_annotators_get_no_agreement(web_project: Project, disputed: list[int]) -> None:
    with TestClient(create_app(web_project, blind=True)) as c:
        signed(c, "annotator")
        for path, params in (
            ("agreement", {"layers": ["ann", "b1"]}),
            ("agreement", {}),
            ("agreement/confusion", {"a": "ann", "b": "b1"}),
        ):
            response = c.get(f"{API}/{path}", params=params)
            assert response.status_code == 403, path
            assert "blind mode" in response.json()["error"].lower()
        page = without_tokens(c.get("/datasets/digits/agreement").text)
        assert "b1" not in page
        # The page says why instead of calling the API it may not use; the tab is gone.
        assert 'id="agreement-blind"' in page and "agreement.js" not in page
        assert "Reviewers see it." in page
        assert ">Agreement</a>" not in c.get("/datasets/digits").text
    with TestClient(create_app(web_project, blind=True)) as c:
        signed(c, "reviewer")
        assert ">Agreement</a>" in c.get("/datasets/digits").text
        assert "agreement.js" in c.get("/datasets/digits/agreement").text


def test_consensus_is_written_by_reviewers_as_themselves(
    client: TestClient, disputed: list[int], web_project: Project
) -> None:
    body = {"method": "majority-vote", "layers": ["ann", "b1", "ground_truth"], "into": "cons"}
    signed(client, "annotator")
    assert client.post(f"{API}/consensus", json=body).status_code == 403
    signed(client, "reviewer")
    response = client.post(f"{API}/consensus", json=body)
    assert response.status_code == 201
    out = response.json()
    assert out["n_items"] == 30 and out["into"] == "cons"
    assert 0 < out["mean_confidence"] <= 1
    ds = web_project.dataset("digits")
    assert ds.layer("cons")["kind"] == "consensus"
    first = item_ids(web_project, "digits")[0]  # ann 1, b1 2, ground truth 0: a three-way tie
    label = ds.item(first)["labels"]["cons"]
    assert label["author"] == "reviewer" and label["confidence"] == pytest.approx(1 / 3)
    again = client.post(f"{API}/consensus", json=body).json()
    assert again["n_items"] == 30  # re-running writes only what changed: nothing here
    assert len(ds.history(first, "cons")) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [({"into": "ann"}, 422),  # never into an annotator's layer
     ({"method": "crowdlab"}, 422),  # needs a model layer
     ({"method": "vote"}, 422),
     ({"layers": ["ann", "nope"]}, 404)],
)  # fmt: skip
def test_bad_consensus_runs(
    client: TestClient, disputed: list[int], body: dict[str, object], status: int
) -> None:
    signed(client, "admin")
    response = client.post(f"{API}/consensus", json={"layers": ["ann", "b1"], **body})
    assert response.status_code == status, response.text


def test_snapshot_then_diff(client: TestClient, disputed: list[int], web_project: Project) -> None:
    signed(client, "annotator")
    assert client.post(f"{API}/snapshots", json={"name": "v1"}).status_code == 403
    signed(client, "reviewer")
    made = client.post(f"{API}/snapshots", json={"name": "v1", "description": "before"})
    assert made.status_code == 201
    assert made.json()["snapshot"]["author"] == "reviewer"
    assert made.json()["snapshot"]["n_labels"] == 30 * 3
    assert client.post(f"{API}/snapshots", json={"name": "v1"}).status_code == 409
    ids = item_ids(web_project, "digits")
    client.post(f"{API}/labels", json={"layer": "b1", "label": "0", "items": ids[1:3]})
    client.post(f"{API}/labels", json={"layer": "ann", "label": None, "items": ids[3:4]})
    listed = client.get(f"{API}/snapshots").json()["snapshots"]
    assert [s["name"] for s in listed] == ["v1"]
    diff = client.get(f"{API}/diff", params={"a": "v1"}).json()
    assert diff["n_changes"] == 3 and diff["b"] == "now"
    layers = {d["layer"]: d for d in diff["layers"]}
    assert layers["b1"]["flows"] == [
        {"from": "1", "to": "0", "items": 1},
        {"from": "2", "to": "0", "items": 1},
    ]
    assert (layers["ann"]["removed"], layers["ann"]["flows"]) == (
        1,
        [{"from": "0", "to": None, "items": 1}],
    )
    assert diff["per_class"]["0"] == {"gained": 2, "lost": 1}
    assert [i["item_id"] for i in diff["items"]] == [ids[3], ids[1], ids[2]]
    missing = client.get(f"{API}/diff", params={"a": "nope"})
    assert missing.status_code == 404


def test_blind_annotators_see_only_their_layers_in_a_diff(
    web_project: Project, disputed: list[int]
) -> None:
    ds = web_project.dataset("digits")
    ds.snapshot("v1", author="reviewer")
    ids = item_ids(web_project, "digits")
    ds.set_labels([(ids[1], "0")], layer="b1", author="reviewer")
    ds.set_labels([(ids[2], "0")], layer="ann", author="annotator")
    with TestClient(create_app(web_project, blind=True)) as c:
        signed(c, "annotator")
        diff = c.get(f"{API}/diff", params={"a": "v1"}).json()
        assert [d["layer"] for d in diff["layers"]] == ["ann"]
        assert diff["n_changes"] == 1 and [i["layer"] for i in diff["items"]] == ["ann"]
        assert diff["per_class"] == {"0": {"gained": 1, "lost": 0}, "2": {"gained": 0, "lost": 1}}
        listed = c.get(f"{API}/snapshots").json()["snapshots"]
        assert listed[0]["layers"] == ["ann"]
        assert "b1" not in without_tokens(c.get("/datasets/digits/snapshots?a=v1").text)


def test_agreement_and_snapshot_pages(
    client: TestClient, disputed: list[int], web_project: Project
) -> None:
    csrf = login(client, "reviewer")
    page = client.get("/datasets/digits/agreement", params={"layers": ["ann", "b1"]})
    assert page.status_code == 200
    report_url = page.text.split('data-report-url="')[1].split('"')[0].replace("&amp;", "&")
    assert parse_qs(urlsplit(report_url).query) == {"layers": ["ann", "b1"]}
    assert client.get(report_url).status_code == 200  # what the page's script fetches
    made = client.post("/datasets/digits/snapshots", data={"snapshot": "s1", "csrf_token": csrf})
    assert made.status_code == 303 and made.headers["location"].endswith("?a=s1&b=now")
    shown = client.get(made.headers["location"]).text
    assert "0 changes" in shown and "No label changed." in shown
    assert client.post("/datasets/digits/snapshots", data={"snapshot": "s2"}).status_code == 403
    bad = client.get("/datasets/digits/snapshots", params={"a": "nope"})
    assert bad.status_code == 404 and "No snapshot" in bad.text


def test_each_layer_is_rated_against_the_other_layers_not_a_vote_it_decides(
    client: TestClient, web_project: Project
) -> None:
    """Issue 16, bug 5: two layers disagreeing on 1 of their 5 shared items are not 100 %."""
    ds = web_project.dataset("digits")
    ids = item_ids(web_project, "digits")[:5]
    ds.create_layer("x1")
    ds.create_layer("x2")
    ds.set_labels([(i, "0") for i in ids], layer="x1", author="reviewer")
    ds.set_labels([(i, "0") for i in ids[:4]] + [(ids[4], "1")], layer="x2", author="reviewer")
    signed(client, "reviewer")
    report = client.get(f"{API}/agreement", params={"layers": ["x1", "x2"]}).json()
    assert report["reference"] == "majority-vote"
    assert [(q["annotator"], q["n_compared"], q["accuracy"]) for q in report["annotator_quality"]]\
        == [("x1", 5, 0.8), ("x2", 5, 0.8)]  # fmt: skip
    assert "majority-vote of the other layers" in report["reference_rule"]
