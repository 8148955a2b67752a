"""Issue 16, bugs 1 and 9: labeling keys match class names and are set per layer; model
layers are read-only to people; writes need an explicit choice; an item's page is addressed
by its key, which is what its captions show."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_helpers import item_ids, item_page, login

from assay.cli import app as cli_app
from assay.errors import PermissionDenied
from assay.project import Project
from assay.store import schema as t
from assay.web.urls import item_page_url

API = "/api/v1/datasets/digits"


def signed(client: TestClient, user: str) -> TestClient:
    """Sign ``client`` in as ``user``; its CSRF token goes on every request."""
    client.headers["X-CSRF-Token"] = login(client, user)
    return client


def model_layer(project: Project) -> str:
    """A model layer with one prediction, written as a job writes predictions (no viewer)."""
    ds = project.dataset("digits")
    ds.create_layer("cv", kind="model")
    ds.set_label(item_ids(project, "digits")[0], "1", layer="cv", author="model:cv")
    return "cv"


# -- model layers are read-only to people ------------------------------------------------------


@pytest.mark.parametrize("user", ["admin", "reviewer"])
def test_a_person_may_not_write_to_a_model_layer_through_the_api(
    client: TestClient, web_project: Project, user: str
) -> None:
    layer = model_layer(web_project)
    item = item_ids(web_project, "digits")[1]
    signed(client, user)
    one = client.post(f"{API}/items/{item}/labels", json={"layer": layer, "label": "2"})
    assert one.status_code == 403, one.text
    assert "holds a model's predictions and is read-only to people" in one.json()["error"]
    bulk = client.post(f"{API}/labels", json={"layer": layer, "label": "2", "items": [item]})
    assert bulk.status_code == 403 and "read-only to people" in bulk.json()["error"]
    by_filter = client.post(
        f"{API}/labels", json={"layer": layer, "label": "2", "filter": "split=test"}
    )
    assert by_filter.status_code == 403
    assert web_project.dataset("digits").history(item, layer) == []
    layers = {la["name"]: la for la in client.get(f"{API}/layers").json()["layers"]}
    assert layers[layer]["can_write"] is False


def test_the_cli_refuses_a_model_layer_and_programs_still_write_predictions(
    web_project: Project,
) -> None:
    from assay.access import Viewer

    layer = model_layer(web_project)
    ds = web_project.dataset("digits")
    item = item_ids(web_project, "digits")[2]
    with pytest.raises(PermissionDenied, match="read-only to people"):
        ds.set_label(item, "0", layer=layer, viewer=Viewer.local())
    ds.set_label(item, "0", layer=layer, author="model:cv")  # a job writing predictions
    assert [h["label"] for h in ds.history(item, layer)] == ["0"]
    if web_project.store.engine.dialect.name != "sqlite":
        return
    result = CliRunner().invoke(
        cli_app,
        [
            "--project",
            str(web_project.root),
            "label",
            "set",
            f"#{item}",
            "1",
            "-l",
            layer,
            "-d",
            "digits",
        ],
    )
    assert result.exit_code != 0 and "read-only to people" in result.output


# -- labeling keys -------------------------------------------------------------------------------


def test_class_keys_match_class_names_then_go_in_order() -> None:
    from assay.labels.hotkeys import class_keys

    digits = [str(d) for d in range(10)]
    assert class_keys(digits) == [(d, d) for d in digits]  # "9" is picked by 9, not 0
    assert class_keys(["cat", "dog", "1"]) == [("2", "cat"), ("3", "dog"), ("1", "1")]
    assert class_keys(["s", "u", "a"]) == [("1", "s"), ("2", "u"), ("a", "a")]  # S, U: the queue's
    assert class_keys(["cat", "dog"], {"dog": "d", "cat": "d"}) == [("d", "cat"), ("1", "dog")]


def test_layer_keys_are_set_from_the_cli_and_the_api_and_shown_in_the_queue(
    client: TestClient, web_project: Project
) -> None:
    ds = web_project.dataset("digits")
    page = "/datasets/digits/label?layer=ann"
    signed(client, "annotator")
    html = client.get(page).text
    # Digit classes are picked by their own key ("0" by 0), not 1-9 then 0.
    for d in "012":
        assert f'data-class="{d}" data-index="{d}" data-key="{d}"' in html
    out = client.post(f"{API}/layers/keys", json={"layer": "ann", "keys": {"0": "z", "2": "x"}})
    assert out.status_code == 200, out.text
    assert out.json()["keys"] == [
        {"class": "0", "key": "z"},
        {"class": "1", "key": "1"},
        {"class": "2", "key": "x"},
    ]
    assert out.json()["layer"]["hotkeys"] == {"0": "z", "2": "x"}
    assert 'data-class="2" data-index="2" data-key="x"><kbd>x</kbd>' in client.get(page).text
    bad = client.post(f"{API}/layers/keys", json={"layer": "ann", "keys": {"1": "s"}})
    assert bad.status_code == 422 and "other than s and u" in bad.json()["error"]
    twice = client.post(f"{API}/layers/keys", json={"layer": "ann", "keys": {"1": "q", "2": "q"}})
    assert twice.status_code == 422 and "given to both" in twice.json()["error"]
    other = client.post(f"{API}/layers/keys", json={"layer": "ground_truth", "keys": {}})
    assert other.status_code == 403  # keys are set by whoever may label in the layer
    if web_project.store.engine.dialect.name != "sqlite":
        return
    run = CliRunner().invoke(
        cli_app,
        ["--project", str(web_project.root), "layer", "keys", "ann", "1=o", "-d", "digits"],
    )
    assert run.exit_code == 0, run.output
    assert ds.class_keys("ann") == [("0", "0"), ("o", "1"), ("2", "2")]
    shown = CliRunner().invoke(
        cli_app,
        ["--project", str(web_project.root), "layer", "keys", "ann", "--json", "-d", "digits"],
    )
    assert '"1": "o"' in shown.output.replace(" ", " ")
    CliRunner().invoke(
        cli_app,
        ["--project", str(web_project.root), "layer", "keys", "ann", "--reset", "-d", "digits"],
    )
    assert ds.layer("ann")["hotkeys"] == {}


# -- the item's key is what people see; writes need an explicit choice ---------------------------


def rekey(project: Project, item: int, key: str) -> None:
    """Give an item a key with characters a URL treats specially."""
    with project.store.write() as conn:
        conn.execute(sa.update(t.items).where(t.items.c.id == item).values(external_key=key))


def test_item_pages_are_addressed_by_key_and_captioned_by_it(
    client: TestClient, web_project: Project
) -> None:
    signed(client, "admin")
    ids = item_ids(web_project, "digits")
    ds = web_project.dataset("digits")
    # Ids and keys differ (ids count across datasets): /item/8 is the item with key 8.
    eighth = next(i for i in ids if ds.item(i)["external_key"] == "8")
    assert eighth != 8
    page = client.get("/datasets/digits/item/8")
    assert page.status_code == 200
    assert '<h1>Item <span class="key" id="item-key">8</span></h1>' in page.text
    assert (
        "<title>digits · item 8 · Assay</title>" in page.text and f"Item {eighth}" not in page.text
    )
    # The old numeric address is unambiguous (an id names one item): it redirects, query kept.
    old = client.get(f"/datasets/digits/items/{eighth}?filter=split%3Dtrain")
    assert old.status_code == 307
    assert old.headers["location"] == "/datasets/digits/item/8?filter=split%3Dtrain"
    assert client.get("/datasets/digits/item/nope").status_code == 404
    # A key with a slash, a space, "?" and "%" is one percent-encoded segment.
    rekey(web_project, ids[3], "a/b c?%.png")
    url = item_page_url("digits", ids[3], "a/b c?%.png")
    assert url == "/datasets/digits/item/a%2Fb%20c%3F%25.png"
    odd = client.get(url)
    assert odd.status_code == 200 and 'id="item-key">a/b c?%.png</span>' in odd.text
    # Every link to an item page uses the key: the grid, the neighbours, previous and next.
    grid = client.get("/datasets/digits/items").text
    assert f'href="{url}"' in grid
    assert "/datasets/digits/items/" not in grid.replace("/api/v1/datasets/digits/items/", "")
    links = re.findall(r'href="(/datasets/digits/items?/[^"?]*)', page.text)
    assert links and all(
        link.startswith("/datasets/digits/item/")
        for link in links
        if link != "/datasets/digits/items"
    )
    assert 'id="prev-item" class="button" href="/datasets/digits/item/7"' in page.text
    assert 'id="next-item" class="button" href="/datasets/digits/item/9"' in page.text


def test_the_item_form_needs_an_explicit_layer_and_class_and_offers_no_model_layer(
    client: TestClient, web_project: Project
) -> None:
    model_layer(web_project)
    csrf = signed(client, "admin").headers["X-CSRF-Token"]
    ds = web_project.dataset("digits")
    item = item_ids(web_project, "digits")[5]
    page = client.get(item_page(web_project, "digits", item)).text
    form = page.split('id="label-form"', 1)[1].split("</form>", 1)[0]
    assert '<option value="" selected>(choose a layer)</option>' in form
    assert '<option value="" selected>(choose a class)</option>' in form
    assert form.count(" selected>") == 2  # nothing else is preselected
    assert 'value="cv"' not in form and 'value="ground_truth"' in form  # no model layer
    url = f"/datasets/digits/items/{item}/labels"
    before = ds.history(item)
    for data in ({"layer": "ground_truth"}, {"label": "1"}, {}):
        refused = client.post(url, data={**data, "csrf_token": csrf})
        assert refused.status_code == 422, refused.text
        assert "Choose the" in refused.text and "Nothing was written" in refused.text
    assert ds.history(item) == before
    sent = client.post(
        url,
        data={
            "layer": "ground_truth",
            "label": "1",
            "csrf_token": csrf,
            "query": "filter=split%3Dtrain",
        },
    )
    assert sent.status_code == 303
    key = ds.item(item)["external_key"]
    assert sent.headers["location"] == f"/datasets/digits/item/{key}?filter=split%3Dtrain"
    assert ds.history(item, "ground_truth")[-1]["label"] == "1"
    # The map's lasso form preselects nothing either.
    lasso = client.get("/datasets/digits/map").text
    if 'id="map-label-form"' in lasso:
        tools = lasso.split('id="map-label-form"', 1)[1].split("</form>", 1)[0]
        assert tools.count(" selected>") == 2 and 'value="cv"' not in tools
