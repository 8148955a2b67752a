"""Issue 16, bugs 1 and 9: labeling keys match class names and are set per layer; model
layers are read-only to people; writes need an explicit choice; an item's page is addressed
by its key, which is what its captions show."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_helpers import item_ids, login

from assay.cli import app as cli_app
from assay.errors import PermissionDenied
from assay.project import Project

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
