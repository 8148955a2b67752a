"""The labeling queue serves the layer's suggestions first, best first, then every other
unlabeled item by id: each due item exactly once, across pages."""

from __future__ import annotations

from fastapi.testclient import TestClient
from web_helpers import item_ids, login

from assay.project import Project


def _walk(client: TestClient, layer: str, limit: int, filter: str | None = None) -> list[dict]:
    seen: list[dict] = []
    after = None
    for _ in range(100):
        params: dict = {"layer": layer, "limit": limit}
        if after is not None:
            params["after"] = after
        if filter:
            params["filter"] = filter
        page = client.get("/api/v1/datasets/digits/queue", params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        seen += body["items"]
        after = body["next"]
        if after is None:
            return seen
    raise AssertionError("the queue never ended")


def test_suggestions_come_first_then_the_rest_by_id(
    client: TestClient, web_project: Project
) -> None:
    ds = web_project.dataset("digits")
    ids = item_ids(web_project, "digits")
    ds.set_labels([(i, str(n % 3)) for n, i in enumerate(ids[:6])], layer="ann", author="t")
    plain = _walk(client_as(client, "annotator"), "ann", 4)
    assert [it["id"] for it in plain] == ids[6:]
    assert all(it["suggested"] is None for it in plain)

    made = ds.suggestions.suggest("ann", strategy="margin", batch=5, seed=0)
    ranked = [r["item_id"] for r in ds.suggestions.items("ann")]
    assert len(ranked) == 5 and made.to_dict()["strategy"] == "margin"
    for limit in (2, 5, 7, 50):  # page edges inside, at the end of, and past the list
        served = _walk(client, "ann", limit)
        got = [it["id"] for it in served]
        assert got[:5] == ranked
        assert got[5:] == [i for i in ids[6:] if i not in ranked]
        assert [it["suggested"]["rank"] for it in served[:5]] == [1, 2, 3, 4, 5]
        assert all(it["suggested"] is None for it in served[5:])

    # Labeling a suggested item takes it out; a filter narrows both phases.
    ds.set_label(ranked[0], "1", layer="ann", author="t")
    first = client.get("/api/v1/datasets/digits/queue", params={"layer": "ann"}).json()
    assert first["order"] == "suggested" and first["items"][0]["id"] == ranked[1]
    test_items = [r["id"] for r in ds.items("split=test", limit=100)[0]]
    filtered = [it["id"] for it in _walk(client, "ann", 3, "split=test")]
    assert set(filtered) <= set(test_items)
    assert len(filtered) == len(set(filtered))
    bad = client.get("/api/v1/datasets/digits/queue", params={"layer": "ann", "after": "x1"})
    assert bad.status_code == 422


def client_as(client: TestClient, user: str) -> TestClient:
    client.headers["X-CSRF-Token"] = login(client, user)
    return client
