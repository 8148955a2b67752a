"""Stored XSS through what imports bring in: image file and folder names (item keys, class
names), JSONL metadata (keys and values, nested too) and CSV keys and fields. Every page that
shows items (dataset, grid, item, labeling queue, review, predictions, jobs) shows them as
text; in Chromium no payload runs and no payload element exists."""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from web_helpers import PASSWORD, item_ids, item_page, login

import assay
from assay import jobs, users
from assay.models.external import import_predictions
from assay.project import Project

FILE_NAMES = [
    "<img src=x onerror=window.__xss=3>.png",
    "\"'><img src=x onerror=window.__xss=5>.png",
    "<script>window.__xss=6.png",
]
CLASS_DIR = "<svg onload=window.__xss=4>"
META = {
    "source": "<script>window.__xss=7</script>",
    "<img src=x onerror=window.__xss=8>": "key is html",
    "nested": {"html": '"><svg onload=window.__xss=9>'},
}
CSV_KEY = "\"'><img src=x onerror=window.__xss=10>"
CSV_FIELD = "<script>window.__xss=11</script>"
RAW = ("<img src=x onerror", "<svg onload", "<script>window.__xss")
DATASETS = ("pics", "meta", "table")


def add_payload_data(project: Project, folder: Path) -> None:
    """Import the three datasets full of payloads, flag items, add a model run and a job."""
    pics = folder / "pics"
    for cls in ("plain", CLASS_DIR):
        (pics / cls).mkdir(parents=True)
        for i in range(6):  # enough labeled items for the predictions page's conformal sets
            name = f"{i}-{FILE_NAMES[i % len(FILE_NAMES)]}"
            Image.new("L", (8, 8), color=40 * i).save(pics / cls / name, format="PNG")
    project.import_path(pics, dataset="pics")

    records = [{"text": f"sentence {i}", "label": "a" if i % 2 else "b", **META} for i in range(4)]
    path = folder / "meta.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    project.import_path(path, dataset="meta", label_field="label")

    table = folder / "table.csv"
    with open(table, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["key", "label", "comment", "size"])
        writer.writerow([CSV_KEY, "x", CSV_FIELD, 1])
        writer.writerow(["plain", "y", "fine", 2])
    project.import_path(table, dataset="table", key_column="key", label_column="label")

    for name in DATASETS:
        ds = project.dataset(name)
        first = item_ids(project, name)[0]
        ds.review.flag(first, "look at this one", actor="admin")
        jobs.submit(ds, "review-scan", {}, by="admin")
    ds = project.dataset("pics")
    classes = ds.classes()
    keys = [r["external_key"] for r in ds.items(limit=100)[0]]
    probs = folder / "probs.csv"
    with open(probs, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["key", *classes])
        for i, key in enumerate(keys):
            row = [
                0.9 if j == i % len(classes) else 0.1 / (len(classes) - 1)
                for j in range(len(classes))
            ]
            writer.writerow([key, *row])
    import_predictions(ds, probs, name="run-1", author="admin")


def pages(project: Project) -> list[str]:
    """Every page that shows the items of the payload datasets."""
    out = []
    for name in DATASETS:
        base = f"/datasets/{name}"
        out += [base, f"{base}/items", f"{base}/review?state=any", f"{base}/jobs",
                f"{base}/label?{urlencode({'layer': 'ground_truth'})}"]  # fmt: skip
        out += [item_page(project, name, i) for i in item_ids(project, name)]
    out += ["/datasets/pics/predictions?run=run-1", "/"]
    return out


@pytest.fixture
def signed_in(client: TestClient, web_project: Project, tmp_path: Path) -> TestClient:
    """An admin client on the project with the payload datasets."""
    add_payload_data(web_project, tmp_path)
    client.headers["X-CSRF-Token"] = login(client, "admin")
    return client


def test_the_payloads_are_stored_as_given(web_project: Project, tmp_path: Path) -> None:
    add_payload_data(web_project, tmp_path)
    keys = [r["external_key"] for r in web_project.dataset("pics").items(limit=100)[0]]
    assert f"plain/0-{FILE_NAMES[0]}" in keys and f"{CLASS_DIR}/2-{FILE_NAMES[2]}" in keys
    assert CLASS_DIR in web_project.dataset("pics").classes()
    first = item_ids(web_project, "meta")[0]
    assert web_project.dataset("meta").item(first)["meta"]["source"] == META["source"]


def test_pages_show_file_names_and_metadata_escaped(
    signed_in: TestClient, web_project: Project
) -> None:
    checked = 0
    for path in pages(web_project):
        response = signed_in.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert response.headers["content-type"].startswith("text/html")
        for raw in RAW:
            assert raw not in response.text, (path, raw)
        checked += 1
    assert checked >= 20
    # ... and shown, as text: the escaped form is on the pages.
    grid = signed_in.get("/datasets/pics/items").text
    assert "&lt;img src=x onerror=window.__xss=3&gt;" in grid
    item = item_ids(web_project, "meta")[0]
    detail = signed_in.get(item_page(web_project, "meta", item)).text
    assert "&lt;script&gt;window.__xss=7&lt;/script&gt;" in detail
    predictions = signed_in.get("/datasets/pics/predictions?run=run-1").text
    assert "&lt;svg onload=window.__xss=4&gt;" in predictions


def test_api_gives_the_payloads_back_as_json(signed_in: TestClient, web_project: Project) -> None:
    response = signed_in.get("/api/v1/datasets/pics/items?limit=100")
    assert response.headers["content-type"].startswith("application/json")
    assert f"plain/0-{FILE_NAMES[0]}" in [i["key"] for i in response.json()["items"]]
    media = signed_in.get(f"/api/v1/datasets/pics/items/{item_ids(web_project, 'pics')[0]}/media")
    assert media.headers["content-type"] == "image/png"
    assert media.headers["x-content-type-options"] == "nosniff"


# -- in the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def payload_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A uvicorn server on a project holding only the payload datasets."""
    import socket

    import uvicorn

    from assay.web import create_app

    folder = tmp_path_factory.mktemp("xss-files")
    project = assay.init(folder / "proj")
    users.create_user(project.store, "admin", PASSWORD, role="admin")
    add_payload_data(project, folder)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = uvicorn.Config(create_app(project), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield {"url": f"http://127.0.0.1:{port}", "project": project}
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        project.close()


def test_no_payload_runs_or_becomes_an_element_in_chromium(
    browser: Any, payload_server: dict[str, Any]
) -> None:
    url, project = payload_server["url"], payload_server["project"]
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("dialog", lambda d: (problems.append(d.message), d.dismiss()))
    page.goto(f"{url}/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
    visited = 0
    for path in pages(project):
        page.goto(url + path)
        page.wait_for_load_state("networkidle")
        state = page.evaluate(
            """() => ({
                xss: window.__xss,
                injected: document.querySelectorAll(
                    'img[src="x"], img[onerror], svg[onload], script:not([src])').length,
                text: document.body.innerText,
            })"""
        )
        assert state["xss"] is None, path
        assert state["injected"] == 0, path
        visited += 1
    grid = url + "/datasets/pics/items"
    page.goto(grid)
    assert "window.__xss=3" in page.inner_text("body")  # shown as text
    context.close()
    assert problems == []
    assert visited >= 20
