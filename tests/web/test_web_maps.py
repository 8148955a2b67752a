"""The embedding map: computing and reading maps (library), the maps API (binary points,
colors, selections), access rules, the page, and ``assay map``."""

from __future__ import annotations

import base64
import sys
import threading
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_helpers import add_second_annotator, item_ids, login

from assay.errors import AssayError
from assay.maps import (
    compute,
    compute_map,
    latest_map,
    list_maps,
    map_info,
    points_in_polygon,
    read_points,
)
from assay.project import Project
from assay.store import schema as t
from assay.web import create_app
from assay.web.views.maps import decode_points, encode_points

API = "/api/v1/datasets"


@pytest.fixture
def pca_map(web_project: Project) -> dict[str, Any]:
    """A PCA map of ``digits`` (30 items), quick to compute."""
    return compute_map(web_project.dataset("digits"), method="pca", author="tester")


def count_rows(project: Project, table: sa.Table) -> int:
    with project.store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def colors(client: TestClient, map_id: int, **params: str) -> tuple[dict[str, Any], np.ndarray]:
    response = client.get(f"{API}/digits/maps/{map_id}/colors", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    codes = np.frombuffer(base64.b64decode(body["codes"]), dtype=np.uint8)
    assert len(codes) == body["n"]
    return body, codes


# -- the library ------------------------------------------------------------------------------


def test_compute_map_pca_stores_a_ready_map(web_project: Project, pca_map: dict[str, Any]) -> None:
    ds = web_project.dataset("digits")
    assert pca_map["state"] == "ready" and pca_map["method"] == "pca"
    assert pca_map["featurizer"] == "pixels" and pca_map["n_points"] == 30
    ids, xy = read_points(ds, pca_map["map_id"])
    assert ids.tolist() == sorted(item_ids(web_project, "digits"))
    assert xy.shape == (30, 2) and xy.dtype == np.float32
    assert np.ptp(xy[:, 0]) > 0 and np.ptp(xy[:, 1]) > 0  # a real spread, not a constant
    xmin, ymin, xmax, ymax = pca_map["bounds"]
    assert xy[:, 0].min() == pytest.approx(xmin) and xy[:, 1].max() == pytest.approx(ymax)
    assert (xmin, ymin) < (xmax, ymax)
    again = compute_map(ds, method="pca", filter="split=test", author="tester")
    assert again["n_points"] == len(ds.items("split=test", limit=1000)[0]) < 30
    assert [m["map_id"] for m in list_maps(ds)] == [again["map_id"], pca_map["map_id"]]
    assert latest_map(ds)["map_id"] == again["map_id"]  # type: ignore[index]
    assert map_info(ds, pca_map["map_id"])["created_by"] == "tester"


def test_umap_map_is_deterministic(web_project: Project) -> None:
    if web_project.store.dialect != "sqlite":
        pytest.skip("UMAP itself does not depend on the store; one backend is enough")
    ds = web_project.dataset("digits")
    a = compute_map(ds, method="umap", seed=3, n_neighbors=5, author="t")
    b = compute_map(ds, method="umap", seed=3, n_neighbors=5, author="t")
    assert a["method"] == b["method"] == "umap" and a["notes"] == []
    assert a["params"]["pca_dims"] == 50  # 64 pixels: reduced with PCA first
    ids_a, xy_a = read_points(ds, a["map_id"])
    ids_b, xy_b = read_points(ds, b["map_id"])
    assert xy_a.shape == (30, 2) and np.isfinite(xy_a).all()
    np.testing.assert_array_equal(ids_a, ids_b)
    np.testing.assert_allclose(xy_a, xy_b, rtol=1e-5)
    # No thread outlives the map (tqdm's monitor did): imports may fork workers again.
    assert [t.name for t in threading.enumerate() if t.name == "tqdm_monitor"] == []


def test_umap_missing_falls_back_to_pca(
    web_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "umap", None)  # import umap raises ImportError
    info = compute_map(web_project.dataset("digits"), method="umap", author="t")
    assert info["method"] == "pca" and info["params"]["requested_method"] == "umap"
    assert any("install assay[map]" in note for note in info["notes"])


def test_failed_compute_leaves_no_ready_map(
    web_project: Project, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = web_project.dataset("digits")
    monkeypatch.setattr(compute, "WRITE_CHUNK", 10)  # several chunks before the final one

    def fail_while_writing(done: int, total: int | None, message: str) -> None:
        if message == "writing points" and done >= 10:
            raise RuntimeError("disk full (simulated)")

    with pytest.raises(RuntimeError, match="disk full"):
        compute_map(ds, method="pca", author="t", progress=fail_while_writing)
    assert latest_map(ds) is None
    [failed] = list_maps(ds)
    assert failed["state"] == "failed" and "disk full" in failed["error"]
    assert count_rows(web_project, t.map_points) == 0  # the written chunks are gone
    with pytest.raises(AssayError):
        compute_map(ds, method="pca", filter="nonsense~~", author="t")
    assert latest_map(ds) is None
    login(client, "admin")
    response = client.get(f"{API}/digits/maps/latest")
    assert response.status_code == 404 and "no map yet" in response.json()["error"]
    assert client.get(f"{API}/digits/maps/{failed['map_id']}/points").status_code == 409
    page = client.get("/datasets/digits/map")
    assert page.status_code == 200 and "Compute map" in page.text
    assert "The last map computation failed" in page.text


def test_bad_parameters_are_refused_before_anything_is_stored(web_project: Project) -> None:
    ds = web_project.dataset("digits")
    with pytest.raises(ValueError, match="method"):
        compute_map(ds, method="tsne", author="t")
    with pytest.raises(ValueError, match="n_neighbors"):
        compute_map(ds, n_neighbors=1, author="t")
    assert list_maps(ds) == []


def test_points_encoding_round_trips_wide_ids() -> None:
    ids = np.array([1, 7, 2**40], dtype=np.int64)
    xy = np.array([[0.5, -1], [2, 3], [-4, 8.25]], dtype=np.float32)
    got_ids, got_xy, bounds = decode_points(encode_points(ids, xy, [-4, -1, 2, 8.25]))
    assert got_ids.tolist() == ids.tolist() and bounds == [-4, -1, 2, 8.25]
    np.testing.assert_array_equal(got_xy, xy)


def test_points_in_polygon() -> None:
    xy = np.array([[0.5, 0.5], [1.5, 0.5], [0.2, 0.8], [0.9, 0.1], [5, 5]], dtype=np.float32)
    triangle = np.array([[0, 0], [1, 0], [0, 1]], dtype=np.float64)
    assert points_in_polygon(xy, triangle).tolist() == [False, False, False, True, False]
    square = np.array([[0, 0], [2, 0], [2, 1], [0, 1]], dtype=np.float64)
    assert points_in_polygon(xy, square).tolist() == [True, True, True, True, False]


# -- the API ----------------------------------------------------------------------------------


def test_points_binary_decodes_to_the_map(
    web_project: Project, client: TestClient, pca_map: dict[str, Any]
) -> None:
    login(client, "annotator")
    map_id = pca_map["map_id"]
    listed = client.get(f"{API}/digits/maps").json()["maps"]
    assert [m["map_id"] for m in listed] == [map_id] and listed[0]["state"] == "ready"
    latest = client.get(f"{API}/digits/maps/latest").json()["map"]
    assert latest["map_id"] == map_id and latest["n_points"] == 30
    response = client.get(f"{API}/digits/maps/{map_id}/points")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert len(response.content) == 24 + 12 * 30  # uint32 ids: 4 + 4 + 4 bytes per point
    ids, xy, bounds = decode_points(response.content)
    want_ids, want_xy = read_points(web_project.dataset("digits"), map_id)
    assert ids.tolist() == want_ids.tolist()
    np.testing.assert_array_equal(xy, want_xy)
    assert bounds == pytest.approx(pca_map["bounds"], rel=1e-6)
    assert client.get(f"{API}/digits/maps/{map_id}/points").content == response.content
    assert client.get(f"{API}/digits/maps/999999/points").status_code == 404
    assert client.get(f"{API}/digits/maps/{2**63}/points").status_code == 422


def test_colors_by_label_match_the_layer(
    web_project: Project, client: TestClient, pca_map: dict[str, Any]
) -> None:
    ds = web_project.dataset("digits")
    ids = item_ids(web_project, "digits")
    ds.set_labels([(ids[0], "2"), (ids[1], None)], layer="ground_truth", author="admin")
    ds.set_labels([(i, "1") for i in ids[:4]], layer="ann", author="annotator")
    login(client, "admin")
    body, codes = colors(client, pca_map["map_id"])
    assert body["by"] == "label" and body["layer"] == "ground_truth"
    assert body["legend"] == ds.classes()
    truth = ds.label_matrix(["ground_truth"])
    want = {int(i): int(c) for i, c in zip(truth.item_ids, truth.codes[:, 0], strict=True)}
    map_ids, _ = read_points(ds, pca_map["map_id"])
    got = {int(i): int(c) for i, c in zip(map_ids, codes, strict=True)}
    assert got == {i: (255 if want.get(i, -1) < 0 else want[i]) for i in got}
    assert got[ids[0]] == body["legend"].index("2") and got[ids[1]] == 255
    assert body["counts"] == [int((codes == k).sum()) for k in range(len(body["legend"]))]
    _, ann = colors(client, pca_map["map_id"], by="label", layer="ann")
    assert (ann[:4] == body["legend"].index("1")).all() and (ann[4:] == 255).all()


def test_colors_by_issue_disagreement_and_prediction(
    web_project: Project, client: TestClient, pca_map: dict[str, Any]
) -> None:
    disagree = set(add_second_annotator(web_project))
    ids = item_ids(web_project, "digits")
    login(client, "reviewer")
    body, codes = colors(client, pca_map["map_id"], by="disagreement")
    assert body["legend"] == ["agree", "disagree"]
    assert {i for i, c in zip(ids, codes, strict=True) if c == 1} == disagree
    assert all(c == 0 for i, c in zip(ids, codes, strict=True) if i not in disagree)
    body, codes = colors(client, pca_map["map_id"], by="issue")
    reason = body["legend"].index("disagreement")
    assert {i for i, c in zip(ids, codes, strict=True) if c == reason} == disagree
    assert all(c == 255 for i, c in zip(ids, codes, strict=True) if i not in disagree)
    no_model = client.get(f"{API}/digits/maps/{pca_map['map_id']}/colors?by=prediction")
    assert no_model.status_code == 422 and "no model run" in no_model.json()["error"]
    ds = web_project.dataset("digits")
    ds.models.cross_validate(name="cv", folds=3, model="logreg")
    body, codes = colors(client, pca_map["map_id"], by="prediction")
    assert body["layer"] == "cv"
    predicted = ds.label_matrix(["cv"]).codes[:, 0]
    assert codes.tolist() == predicted.tolist()
    bad = client.get(f"{API}/digits/maps/{pca_map['map_id']}/colors?by=prediction&layer=ann")
    assert bad.status_code == 422 and "not a model layer" in bad.json()["error"]
    assert client.get(f"{API}/digits/maps/{pca_map['map_id']}/colors?by=x").status_code == 422


def test_blind_annotators_color_only_by_their_own_layers(
    web_project: Project, pca_map: dict[str, Any]
) -> None:
    with TestClient(create_app(web_project, blind=True)) as c:
        login(c, "annotator")
        url = f"{API}/digits/maps/{pca_map['map_id']}/colors"
        assert c.get(url, params={"by": "label", "layer": "ground_truth"}).status_code == 403
        assert c.get(url, params={"by": "disagreement"}).status_code == 403
        own = c.get(url, params={"by": "label", "layer": "ann"})
        assert own.status_code == 200 and own.json()["layer"] == "ann"
        default = c.get(url, params={"by": "label"})  # the default is a layer they may see
        assert default.status_code == 200 and default.json()["layer"] == "ann"
        page = c.get("/datasets/digits/map")
        assert page.status_code == 200 and 'value="disagreement"' not in page.text


def test_another_datasets_map_is_not_found(
    web_project: Project, client: TestClient, pca_map: dict[str, Any]
) -> None:
    other = compute_map(web_project.dataset("other"), method="pca", author="t")
    csrf = login(client, "admin")
    for path in ("points", "colors"):
        assert client.get(f"{API}/digits/maps/{other['map_id']}/{path}").status_code == 404
        assert client.get(f"{API}/other/maps/{other['map_id']}/{path}").status_code == 200
    lasso = {"map_id": other["map_id"], "polygon": [[-1e6, -1e6], [1e6, -1e6], [0, 1e6]]}
    response = client.post(f"{API}/digits/selections", json=lasso, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 404
    assert count_rows(web_project, t.selections) == 0


def test_unauthenticated_requests_are_refused(client: TestClient, pca_map: dict[str, Any]) -> None:
    map_id = pca_map["map_id"]
    for path in ("maps", "maps/latest", f"maps/{map_id}/points", f"maps/{map_id}/colors"):
        assert client.get(f"{API}/digits/{path}").status_code == 401, path
    assert client.post(f"{API}/digits/selections", json={"item_ids": [1]}).status_code == 401
    page = client.get("/datasets/digits/map")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_selection_by_ids(web_project: Project, client: TestClient) -> None:
    csrf = login(client, "annotator")
    ids = item_ids(web_project, "digits")[3:9]
    response = client.post(
        f"{API}/digits/selections", json={"item_ids": ids}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["n_items"] == 6
    assert out["grid_url"] == f"/datasets/digits/items?filter=selection%3D{out['id']}"
    rows, _ = web_project.dataset("digits").items(f"selection={out['id']}", limit=100)
    assert [r["id"] for r in rows] == ids
    grid = client.get(out["grid_url"])
    assert grid.status_code == 200 and f'data-id="{ids[0]}"' in grid.text
    assert f'data-id="{item_ids(web_project, "digits")[0]}"' not in grid.text


def test_selection_by_polygon(
    web_project: Project, client: TestClient, pca_map: dict[str, Any]
) -> None:
    csrf = login(client, "admin")
    ds = web_project.dataset("digits")
    ids, xy = read_points(ds, pca_map["map_id"])
    xmin, ymin, xmax, ymax = pca_map["bounds"]
    mid = float(np.median(xy[:, 0]))
    left = [[xmin - 1, ymin - 1], [mid, ymin - 1], [mid, ymax + 1], [xmin - 1, ymax + 1]]
    response = client.post(
        f"{API}/digits/selections",
        json={"map_id": pca_map["map_id"], "polygon": left},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 201, response.text
    out = response.json()
    want = sorted(int(i) for i, x in zip(ids, xy[:, 0], strict=True) if x < mid)
    assert 0 < out["n_items"] == len(want) < 30
    rows, _ = ds.items(f"selection={out['id']}", limit=100)
    assert [r["id"] for r in rows] == want
    empty = [[xmax + 1, ymax + 1], [xmax + 2, ymax + 1], [xmax + 2, ymax + 2]]
    response = client.post(
        f"{API}/digits/selections",
        json={"map_id": pca_map["map_id"], "polygon": empty},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 422 and "caught no points" in response.json()["error"]
    half = client.post(
        f"{API}/digits/selections",
        json={"map_id": pca_map["map_id"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert half.status_code == 422


def test_selection_with_another_datasets_item_saves_nothing(
    web_project: Project, client: TestClient
) -> None:
    csrf = login(client, "admin")
    mine = item_ids(web_project, "digits")[:3]
    foreign = item_ids(web_project, "other")[0]
    response = client.post(
        f"{API}/digits/selections",
        json={"item_ids": [*mine, foreign]},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 404, response.text
    assert count_rows(web_project, t.selections) == 0
    assert count_rows(web_project, t.selection_items) == 0


def test_selection_without_csrf_is_refused(web_project: Project, client: TestClient) -> None:
    login(client, "admin")
    ids = item_ids(web_project, "digits")[:3]
    response = client.post(f"{API}/digits/selections", json={"item_ids": ids})
    assert response.status_code == 403 and "CSRF" in response.json()["error"]
    wrong = client.post(
        f"{API}/digits/selections", json={"item_ids": ids}, headers={"X-CSRF-Token": "nope"}
    )
    assert wrong.status_code == 403
    assert count_rows(web_project, t.selections) == 0


# -- the page and the command line -------------------------------------------------------------


def test_map_page(web_project: Project, client: TestClient, pca_map: dict[str, Any]) -> None:
    login(client, "annotator")
    page = client.get("/datasets/digits/map")
    assert page.status_code == 200
    html = page.text
    assert f'data-points-url="/api/v1/datasets/digits/maps/{pca_map["map_id"]}/points"' in html
    assert '<canvas id="map-canvas"' in html and "/static/map.js" in html
    assert 'aria-current="page">Map<' in html
    assert "Compute a new map" not in html  # annotators may not start map jobs
    assert '<option value="ann">ann</option>' in html  # the layer they may label in
    assert client.get("/datasets/nope/map").status_code == 404
    script = client.get("/static/map.js")
    assert script.status_code == 200 and "innerHTML" not in script.text


def test_map_command(web_project: Project) -> None:
    from assay.cli import app

    runner = CliRunner()
    result = runner.invoke(
        app,
        ["--project", str(web_project.root), "map", "digits", "--method", "pca", "--json"],
    )
    assert result.exit_code == 0, result.output
    assert '"n_points": 30' in result.output and '"method": "pca"' in result.output
    assert latest_map(web_project.dataset("digits")) is not None
    bad = runner.invoke(app, ["--project", str(web_project.root), "map", "digits", "--method", "x"])
    assert bad.exit_code == 1 and "Unknown map method" in bad.output
