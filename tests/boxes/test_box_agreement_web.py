"""Box agreement, the class confusion of matched boxes, consensus and a box case's decision
over the API, as the library computes them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

import assay
from assay import users
from boxkit import BoxScenes, box_scenes  # noqa: F401
from labelkit import project  # noqa: F401

API = "/api/v1/datasets/scenes"
PASSWORD = "correct horse battery"


@pytest.fixture
def client(project: assay.Project, box_scenes: BoxScenes) -> Iterator[TestClient]:  # noqa: F811
    """A reviewer signed in on the scenes."""
    from assay.web import create_app

    users.create_user(project.store, "rev", PASSWORD, role="reviewer")
    with TestClient(create_app(project), follow_redirects=False) as c:
        token = c.get("/api/v1/login").json()["csrf_token"]
        signed = c.post("/api/v1/login", json={"username": "rev", "password": PASSWORD},
                        headers={"X-CSRF-Token": token})  # fmt: skip
        assert signed.status_code == 200, signed.text
        c.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
        yield c


def test_the_api_reports_box_agreement_confusion_and_consensus(
    client: TestClient,
    box_scenes: BoxScenes,  # noqa: F811
) -> None:
    ds = box_scenes.ds
    layers = {"layers": ["alice", "bob", "carol"]}
    report = client.get(f"{API}/agreement", params=layers).json()
    want = ds.agreement(["alice", "bob", "carol"]).to_dict()
    assert report["kind"] == "boxes" and report["reference"] == "others"
    assert report["pairwise"] == want["pairwise"] and report["per_class"] == want["per_class"]
    wbf = client.get(f"{API}/agreement", params={**layers, "reference": "wbf"}).json()
    assert wbf["reference"] == "wbf" and len(wbf["layer_quality"]) == 3
    m = client.get(f"{API}/agreement/confusion", params={"a": "alice", "b": "bob"}).json()
    assert m["kind"] == "boxes" and m["classes"] == want["classes"]
    assert m["n_common"] == want["pairwise"][0]["n_matched"]
    diagonal = sum(m["matrix"][k][k] for k in range(len(m["classes"])))
    assert diagonal / m["n_common"] == pytest.approx(want["pairwise"][0]["class_agreement"])
    made = client.post(f"{API}/consensus", json={"method": "majority", **layers, "into": "fused"})
    assert made.status_code == 201, made.text
    assert made.json()["n_boxes"] > 0 and ds.layer("fused")["value_kind"] == "boxes"


def test_a_box_case_is_decided_over_the_api(
    client: TestClient,
    box_scenes: BoxScenes,  # noqa: F811
) -> None:
    ds = box_scenes.ds
    scanned = client.post(f"{API}/review/scan", json={"layers": ["alice", "bob", "carol"],
                                                      "consensus_layer": None})  # fmt: skip
    assert scanned.status_code in (200, 201), scanned.text
    (case, *_), _ = ds.review.list(reason="disagreement")
    bad = client.post(
        f"{API}/review/cases/{case['id']}/resolve", json={"label": "3", "reason": "x"}
    )
    assert bad.status_code == 422 and "accept" in bad.text
    assert ds.review.get(case["id"])["state"] == "open"
    done = client.post(
        f"{API}/review/cases/{case['id']}/resolve", json={"label": "accept", "reason": "fused"}
    )
    assert done.status_code == 200, done.text
    reviewed = ds.item(case["item_id"])["labels"]["reviewed"]
    assert reviewed["value_kind"] == "boxes" and reviewed["author"] == "rev"
