"""Every page and the API behind it on the real MNIST test set (10,000 images imported as
MNIST ships them): overview, grid with each filter, item, labeling queue with suggestions,
review, agreement, predictions, the embedding map, suggestions & jobs, snapshots - as an
admin, and as an annotator where the roles differ."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_helpers import PASSWORD, item_page, login

import assay
from assay import users
from assay.maps import compute_map
from assay.web import create_app


@pytest.fixture(scope="module")
def mnist(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Any:
    root = tmp_path_factory.mktemp("mnist-web")
    project = assay.init(root / "proj")
    result = project.import_path(mnist_dir, dataset="mnist")
    assert result.n_new_items == 10_000
    for role in users.ROLES:
        users.create_user(project.store, role, PASSWORD, role=role)
    ds = project.dataset("mnist")
    ds.create_layer("ann", owner="annotator")
    ds.models.cross_validate(name="logreg-cv", folds=3, model="logreg")
    compute_map(ds, method="pca")
    ds.suggestions.suggest("ann", strategy="random", batch=10, seed=0)
    ids = [r["id"] for r in ds.items(limit=5)[0]]
    ds.review.flag(ids[0], comment="odd stroke", actor="reviewer")
    ds.snapshot("before")
    yield project
    project.close()


@pytest.fixture
def as_admin(mnist: Any) -> Any:
    with TestClient(create_app(mnist), follow_redirects=False) as c:
        c.headers["X-CSRF-Token"] = login(c, "admin")
        yield c


PAGES = [
    "/datasets/mnist",
    "/datasets/mnist/items",
    "/datasets/mnist/items?model=logreg-cv&predicted=7",
    "/datasets/mnist/items?below=0.6&model=logreg-cv",
    "/datasets/mnist/items?case=flagged",
    "/datasets/mnist/label?layer=ann",
    "/datasets/mnist/review?state=any",
    "/datasets/mnist/agreement",
    "/datasets/mnist/predictions",
    "/datasets/mnist/map",
    "/datasets/mnist/jobs?layer=ann",
    "/datasets/mnist/snapshots",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_on_mnist(as_admin: TestClient, path: str) -> None:
    response = as_admin.get(path)
    assert response.status_code == 200, response.text[:500]
    assert "Traceback" not in response.text


def test_the_api_behind_the_pages_on_mnist(as_admin: TestClient, mnist: Any) -> None:
    ds = mnist.dataset("mnist")
    first = ds.items(limit=1)[0][0]["id"]
    detail = as_admin.get("/api/v1/datasets/mnist").json()
    assert detail["classes"] == [str(i) for i in range(10)]
    stats = as_admin.get("/api/v1/datasets/mnist/statistics").json()
    assert stats["n_items"] == 10_000
    old = as_admin.get(f"/datasets/mnist/items/{first}")  # the numeric address redirects
    assert old.status_code == 307
    assert old.headers["location"] == item_page(mnist, "mnist", first)  # by the item's key
    assert as_admin.get(old.headers["location"]).status_code == 200
    media = as_admin.get(f"/api/v1/datasets/mnist/items/{first}/media")
    assert media.status_code == 200 and media.headers["content-type"] == "image/png"

    evaluation = as_admin.get(
        "/api/v1/datasets/mnist/predictions/evaluation", params={"run": "logreg-cv"}
    ).json()
    cells = evaluation["confusion"]["cells"]
    assert evaluation["accuracy"] > 0.85
    assert sum(c["count"] for c in cells) == 10_000
    assert all(c["filter"] for c in cells)

    latest = as_admin.get("/api/v1/datasets/mnist/maps/latest").json()
    found = latest.get("map", latest)
    assert found["n_points"] == 10_000
    points = as_admin.get(f"/api/v1/datasets/mnist/maps/{found['map_id']}/points")
    assert len(points.content) >= 10_000 * 12
    colors = as_admin.get(
        f"/api/v1/datasets/mnist/maps/{found['map_id']}/colors", params={"by": "prediction"}
    ).json()
    assert colors["n"] == 10_000

    queue = as_admin.get("/api/v1/datasets/mnist/queue", params={"layer": "ann"}).json()
    ranked = [r["item_id"] for r in ds.suggestions.items("ann")]
    assert queue["order"] == "suggested"
    assert [it["id"] for it in queue["items"][:10]] == ranked
    assert all(it["suggested"] is None for it in queue["items"][10:])
    suggested = as_admin.get("/api/v1/datasets/mnist/suggestions", params={"layer": "ann"})
    assert len(suggested.json()["items"]) == 10
    review = as_admin.get("/api/v1/datasets/mnist/review/cases", params={"state": "any"})
    assert review.status_code == 200


def test_roles_hold_on_mnist(mnist: Any) -> None:
    with TestClient(create_app(mnist), follow_redirects=False) as c:
        c.headers["X-CSRF-Token"] = login(c, "annotator")
        assert c.get("/datasets/mnist/map").status_code == 200
        assert c.get("/datasets/mnist/predictions").status_code == 200
        refused = c.post(
            "/api/v1/datasets/mnist/jobs", json={"kind": "cross-validate", "params": {}}
        )
        assert refused.status_code == 403
        other = c.post(
            "/api/v1/datasets/mnist/labels",
            json={"layer": "ground_truth", "label": "3", "items": [1]},
        )
        assert other.status_code == 403
