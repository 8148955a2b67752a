"""The items grid (issue 16, "a grid worth living in"): sorts that page by keyset, the total
count, the chosen model's prediction on each tile, keys in captions, links that carry the
grid's order to the item page, and a bulk form that writes only what was chosen."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_helpers import item_page, login

from assay.dataset import Dataset
from assay.errors import InvalidParameter
from assay.project import Project
from assay.quality.runs import RunNotFound


def _prepare(project: Project) -> Dataset:
    ds = project.dataset("digits")
    ds.models.cross_validate(name="cv", folds=3, model="logreg")
    ds.quality.find(model_layer="cv", features=False, method="self_confidence")
    return ds


def _all_pages(ds: Dataset, sort: str, limit: int = 7) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    after: int | str | None = None
    while True:
        page, after = ds.items(limit=limit, sort=sort, model="cv", after=after)
        rows += page
        if after is None:
            return rows


def test_every_sort_pages_through_every_item_once_in_order(web_project: Project) -> None:
    ds = _prepare(web_project)
    n = len(ds)
    for sort, key in [
        ("added", lambda r: r["id"]),
        ("newest", lambda r: -r["id"]),
        ("key", lambda r: r["external_key"]),
        ("confidence", lambda r: (r["score"], r["id"])),
        ("quality", lambda r: (r["score"], r["id"])),
        ("loss", lambda r: (-r["score"], -r["id"])),
    ]:
        rows = _all_pages(ds, sort)
        assert len(rows) == n == len({r["id"] for r in rows}), sort
        assert rows == sorted(rows, key=key), sort  # type: ignore[arg-type]
        assert ds.count(sort=sort, model="cv") == n
        assert ds.count(sort=sort, model="cv", cap=5) == 6  # "more than 5"
        # An item page steps through the same order, both ways.
        ids = [r["id"] for r in rows]
        for k in (0, 1, n // 2, n - 1):
            prev, nxt = ds.neighbours(ids[k], sort=sort, model="cv")
            assert prev == (ids[k - 1] if k else None), sort
            assert nxt == (ids[k + 1] if k + 1 < n else None), sort
    test = [r["id"] for r in _all_pages(ds, "quality") if r["split"] == "test"]
    assert ds.neighbours(test[1], "split=test", sort="quality", model="cv") == (test[0], test[2])
    for row in _all_pages(ds, "confidence"):
        assert row["score"] == pytest.approx(row["confidence"])
        assert row["correct"] == (row["prediction"] == row["label"])
    quality = {r["id"]: r["score"] for r in _all_pages(ds, "quality")}
    for row in _all_pages(ds, "loss"):  # self_confidence: quality is p(given label)
        assert row["score"] == pytest.approx(-math.log(max(quality[row["id"]], 1e-15)))
    assert ds.count("split=test", sort="confidence", model="cv") == len(ds.items("split=test")[0])


def test_sorts_that_cannot_apply_say_what_to_choose(web_project: Project) -> None:
    ds = web_project.dataset("digits")
    with pytest.raises(InvalidParameter, match="needs a model: choose one; this dataset has no"):
        ds.items(sort="confidence")
    with pytest.raises(RunNotFound, match="No label-issue search"):
        ds.items(sort="quality")
    with pytest.raises(InvalidParameter, match="Unknown sort 'size'"):
        ds.items(sort="size")
    with pytest.raises(InvalidParameter, match="Bad cursor"):
        ds.items(sort="key", after="12")


def _grid(client: TestClient, **params: str) -> str:
    response = client.get("/datasets/digits/items", params=params)
    assert response.status_code == 200, response.text[:800]
    return response.text


def test_grid_shows_predictions_counts_and_keys(client: TestClient, web_project: Project) -> None:
    login(client, "reviewer")
    ds = _prepare(web_project)
    html = _grid(client, model="cv", sort="quality", limit="5", size="l")
    assert re.search(r'id="grid-total" data-total="30"', html)
    assert 'class="grid tiles-l"' in html
    worst = ds.items(sort="quality", model="cv", limit=5)[0]
    shown = re.findall(r'<li class="cell[^"]*" data-id="(\d+)"', html)
    assert [int(i) for i in shown] == [r["id"] for r in worst]
    for row in worst:  # each tile: its key, the model's prediction, right or wrong, confidence
        tile = html.split(f'data-id="{row["id"]}"', 1)[1].split("</li>", 1)[0]
        assert f'<span class="key">{row["external_key"]}</span>' in tile
        assert f'alt="item {row["external_key"]}"' in tile
        assert f'<span class="prediction">{row["prediction"]}</span>' in tile
        assert f"{row['confidence']:.2f}" in tile
        assert ("badge right" in tile) == bool(row["correct"])
        assert ("badge wrong" in tile) == (row["correct"] is False)
        # The item link carries the grid's filter, order and model for next/previous.
        page = item_page(web_project, "digits", row["id"])
        assert f'href="{page}?sort=quality&amp;model=cv"' in tile
    # The next page keeps the order, the model, the tile size and the page size.
    link = re.search(r'id="next-page" class="button" href="\?([^"]+)"', html)
    assert link is not None
    query = link.group(1).replace("&amp;", "&")
    for part in ("model=cv", "sort=quality", "size=l", "limit=5", "after="):
        assert part in query
    follow = client.get(f"/datasets/digits/items?{query}")
    second = re.findall(r'<li class="cell[^"]*" data-id="(\d+)"', follow.text)
    assert [int(i) for i in second] == [
        r["id"] for r in ds.items(sort="quality", model="cv", limit=10)[0][5:]
    ]
    # A filtered count; a sort by confidence without a model is refused with what to choose.
    assert 'data-total="8"' in _grid(client, split="test")
    refused = client.get("/datasets/digits/items", params={"sort": "confidence"})
    assert refused.status_code == 422 and "needs a model: choose one (cv)" in refused.text


def test_grid_count_is_capped(client: TestClient, web_project: Project, monkeypatch: Any) -> None:
    from assay.web.views import items

    login(client, "reviewer")
    monkeypatch.setattr(items, "COUNT_CAP", 10)
    html = _grid(client, split="train")
    assert re.search(r'data-total="10">\s*<span class="n">10\+</span> items match', html)


def test_confidence_below_without_a_model_says_so(client: TestClient) -> None:
    """Issue 16, bug 7: "Confidence below 0.3" with no model chosen returned nothing."""
    login(client, "reviewer")
    response = client.get("/datasets/digits/items", params={"below": "0.3"})
    assert response.status_code == 422
    assert "No model chosen" in response.text and "no model yet" in response.text


def test_bulk_form_needs_an_explicit_choice(client: TestClient, web_project: Project) -> None:
    """Issue 16, bug 9: the grid's bulk form defaulted to class 0 in ground_truth, and offered
    model layers for writing."""
    login(client, "admin")
    _prepare(web_project)
    html = _grid(client)
    form = html.split('id="bulk-form"', 1)[1].split("</form>", 1)[0]
    classes = form.split('id="bulk-class"', 1)[1].split("</select>", 1)[0]
    layers = form.split('id="bulk-layer"', 1)[1].split("</select>", 1)[0]
    assert re.search(r'<option value="" selected>\(choose a class\)</option>', classes)
    assert re.search(r'<option value="" selected>\(choose a layer\)</option>', layers)
    assert classes.count("selected") == 1 and layers.count("selected") == 1
    assert '<option value="ground_truth">' in layers
    assert 'value="cv"' not in layers  # a model layer is not offered for writing


def test_captions_show_keys_not_ids(client: TestClient, web_project: Project) -> None:
    """Issue 16, bug 9: the table rows captioned items by id."""
    login(client, "reviewer")
    response = client.get("/datasets/texts/items")
    assert response.status_code == 200
    ds = web_project.dataset("texts")
    for row in ds.items(limit=10)[0]:
        assert f'class="key">{row["external_key"]}</a>' in response.text
        assert f">{row['id']}</a>" not in response.text or row["id"] == int(row["external_key"])


def test_blind_annotators_may_not_sort_by_a_search_of_hidden_labels(web_project: Project) -> None:
    from assay.web import create_app

    _prepare(web_project)  # a search of ground_truth, which a blind annotator does not see
    with TestClient(create_app(web_project, blind=True)) as blind:
        login(blind, "annotator")
        params = {"layer": "ann", "sort": "quality"}
        assert blind.get("/datasets/digits/items", params=params).status_code == 403
        params["sort"] = "key"
        assert blind.get("/datasets/digits/items", params=params).status_code == 200
