"""The jobs page's Suggest form for a box layer: the library's strategies for the layer's kind
(box-uncertainty, not margin) and a predictions-layer field; the job it posts ranks by that
layer's scores and the labeling queue serves the list."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from web_helpers import login, wait_job

from assay.active.kinds import strategies_for
from assay.labels.writes import LabelWrite
from assay.project import Project
from boxkit import make_box_dataset


def test_box_uncertainty_from_the_jobs_page(client: TestClient, web_project: Project) -> None:
    made = make_box_dataset(web_project, "scenes", n=8)
    ds, ids = made.ds, made.item_ids
    ds.create_layer("todo", value_kind="boxes")
    ds.create_layer("det", kind="model", value_kind="boxes")
    ds.create_layer("det2", kind="model", value_kind="boxes")
    # Image 3 is the borderline one, image 6 next; the rest are sure.
    sure = {3: 0.5, 6: 0.35}
    writes = [
        LabelWrite(i, [{**b, "score": sure.get(k, 0.99)} for b in boxes])
        for k, (i, boxes) in enumerate(zip(ids, made.scenes.boxes, strict=True))
    ]
    ds.set_labels(writes, layer="det", author="detector")
    client.headers["X-CSRF-Token"] = login(client, "admin")

    page = client.get("/datasets/scenes/jobs?layer=todo").text
    form = page[page.index('id="suggest-form"') :]
    form = form[: form.index("</form>")]
    offered = re.findall(r"<option>([^<]+)</option>", form.split('name="predictions"')[0])
    assert tuple(offered) == strategies_for("boxes") and "margin" not in offered
    assert 'name="predictions"' in form
    assert re.findall(r"<option>(det2?)</option>", form) == ["det", "det2"]
    # A class layer's form offers classification's strategies and no predictions field.
    digits = client.get("/datasets/digits/jobs?layer=ground_truth").text
    digits_form = digits[digits.index('id="suggest-form"') :]
    digits_form = digits_form[: digits_form.index("</form>")]
    assert "margin" in digits_form and "box-uncertainty" not in digits_form
    assert 'name="predictions"' not in digits_form

    body = {"layer": "todo", "strategy": "box-uncertainty", "predictions": "det", "batch": 2}
    response = client.post("/api/v1/datasets/scenes/jobs", json={"kind": "suggest", "params": body})
    assert response.status_code == 202, response.text
    job = wait_job(client, response.json()["job"]["id"])
    assert job["state"] == "done", job
    current = ds.suggestions.current("todo")
    assert current is not None and (current.strategy, current.model) == ("box-uncertainty", "det")
    queue = client.get("/api/v1/datasets/scenes/queue?layer=todo&limit=3").json()
    assert [it["id"] for it in queue["items"]][:2] == [ids[3], ids[6]]
    # Two model box layers and none named: the same clear error as the CLI's.
    body = {"layer": "todo", "strategy": "box-uncertainty", "batch": 2}
    response = client.post("/api/v1/datasets/scenes/jobs", json={"kind": "suggest", "params": body})
    failed = wait_job(client, response.json()["job"]["id"])
    assert failed["state"] == "failed" and "name the predictions layer" in failed["error"]
