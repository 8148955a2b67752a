"""The item page's predictions, conformal set and nearest neighbours (and their API twin):
the numbers equal what the library computes from the stored probabilities and vectors."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.neighbors import NearestNeighbors
from web_helpers import XSS_CLASS, item_ids, item_page, login

from assay.maps import compute_map, read_points
from assay.models.conformal import split_conformal_sets
from assay.models.features import featurize
from assay.models.runs import layer_probs
from assay.project import Project
from assay.web import create_app


def _insights(client: TestClient, item: int, dataset: str = "digits") -> dict:
    response = client.get(f"/api/v1/datasets/{dataset}/items/{item}/insights")
    assert response.status_code == 200, response.text
    return response.json()


def test_predictions_conformal_set_and_feature_neighbours(
    client: TestClient, web_project: Project
) -> None:
    login(client, "reviewer")
    ds = web_project.dataset("digits")
    ids = item_ids(web_project, "digits")
    empty = _insights(client, ids[0])
    assert empty["predictions"] == [] and empty["conformal"] is None
    assert empty["neighbours"]["items"] == [] and "embedding map" in empty["neighbours"]["note"]

    ds.models.cross_validate(name="cv", folds=3, model="logreg")
    with ds.store.read() as conn:
        stored_ids, probs = layer_probs(conn, ds.id, "cv", None)
    classes = ds.classes()
    truth = ds.label_matrix(["ground_truth"])
    assert list(truth.classes) == classes
    code_of = dict(zip(truth.item_ids.tolist(), truth.codes[:, 0].tolist(), strict=True))
    labels = np.array([code_of[int(i)] for i in stored_ids])
    features = featurize(ds)  # cached by the cross-validation
    tree = NearestNeighbors().fit(features.X)
    for item in ids[:5]:
        got = _insights(client, item)
        row = int(np.searchsorted(stored_ids, item))
        prediction = got["predictions"][0]
        assert prediction["layer"] == "cv"
        assert prediction["label"] == classes[int(np.argmax(probs[row]))]
        top = {t["label"]: t["p"] for t in prediction["top"]}
        assert len(top) == 3 and abs(sum(top.values()) - 1) < 1e-5  # stored to 6 digits
        for k, c in enumerate(classes):
            assert abs(top[c] - probs[row, k]) < 1e-6
        expected = split_conformal_sets(probs, labels, probs[row : row + 1], coverage=0.9)[0]
        assert got["conformal"]["set"] == [c for c, m in zip(classes, expected, strict=True) if m]
        assert got["conformal"]["n_calibration"] == len(stored_ids)

        where = int(np.searchsorted(features.item_ids, item))
        _, near = tree.kneighbors(features.X[where : where + 1], n_neighbors=9)
        want = [int(features.item_ids[j]) for j in near[0] if features.item_ids[j] != item][:8]
        assert [n["id"] for n in got["neighbours"]["items"]] == want
        assert got["neighbours"]["source"] == "pixels feature vectors"
    page = client.get(item_page(web_project, "digits", ids[0]))
    assert 'id="item-conformal"' in page.text and page.text.count('class="tile"') == 8


def test_neighbours_from_the_map_and_access_rules(
    client: TestClient, web_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assay.web.views import item_insights

    # Feature sets above MAX_INDEX vectors are not indexed: the map's 2-D points are used.
    monkeypatch.setattr(item_insights, "MAX_INDEX", 1)
    ds = web_project.dataset("digits")
    found = compute_map(ds, method="pca")
    map_ids, xy = read_points(ds, found["map_id"])
    ids = item_ids(web_project, "digits")
    tree = NearestNeighbors().fit(xy)
    login(client, "admin")
    neighbours = _insights(client, ids[2])["neighbours"]
    assert neighbours["source"] == "embedding map"
    where = int(np.searchsorted(map_ids, ids[2]))
    _, near = tree.kneighbors(xy[where : where + 1], n_neighbors=9)
    want = [int(map_ids[j]) for j in near[0] if map_ids[j] != ids[2]][:8]
    assert [n["id"] for n in neighbours["items"]] == want
    other = item_ids(web_project, "other")[0]
    assert client.get(f"/api/v1/datasets/digits/items/{other}/insights").status_code == 404
    client.cookies.clear()
    assert client.get(f"/api/v1/datasets/digits/items/{ids[2]}/insights").status_code == 401


def test_blind_annotators_see_neighbour_labels_of_their_own_layer_only(
    web_project: Project,
) -> None:
    ds = web_project.dataset("digits")
    compute_map(ds, method="pca")
    ids = item_ids(web_project, "digits")
    ds.set_labels([(i, "2") for i in ids], layer="ann", author="annotator")
    with TestClient(create_app(web_project, blind=True)) as c:
        login(c, "annotator")
        got = _insights(c, ids[0])["neighbours"]
        assert got["layer"] == "ann"
        assert {n["label"] for n in got["items"]} == {"2"}  # ground truth cycles 0, 1, 2


def test_html_class_names_are_escaped_on_the_item_page(
    client: TestClient, web_project: Project
) -> None:
    login(client, "admin")
    texts = web_project.dataset("texts")
    first = item_ids(web_project, "texts")[0]
    page = client.get(item_page(web_project, "texts", first))
    assert page.status_code == 200
    assert XSS_CLASS not in page.text
    assert texts.classes()  # the XSS class is a class of this dataset
