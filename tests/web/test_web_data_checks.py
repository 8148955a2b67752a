"""The dataset overview's "Data checks" section and its API twin (issue 19): the empty state
names the commands, a passing report shows its counts, a failure links its items to their
pages (with "and N more" past the cap), and a blind annotator sees only the results about
the items and the layers they may see."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from markupsafe import escape
from web_helpers import XSS_CLASS, add_second_annotator, item_ids, login, without_tokens

from assay import checks
from assay.project import Project
from assay.web import create_app
from assay.web.urls import item_page_url

API = "/api/v1/datasets/digits/checks"


def _section(html: str) -> str:
    """The page's data checks section."""
    found = re.search(r'<section class="card data-checks".*?</section>', html, re.S)
    assert found, "no data checks section"
    return found.group(0)


def _overview(client: TestClient) -> str:
    response = client.get("/datasets/digits")
    assert response.status_code == 200, response.text
    return _section(without_tokens(response.text))


def _break_balance(project: Project) -> list[int]:
    """Relabel 14 of the 20 items of classes 1 and 2 as 0 (ground truth is ``i % 3``): class
    0 grows to 24 items, far past its third. Returns those 24 items' ids."""
    ids = item_ids(project, "digits")
    moved = [item for i, item in enumerate(ids) if i % 3 != 0][:14]
    project.dataset("digits").set_labels([(i, "0") for i in moved], layer="ground_truth")
    return [item for i, item in enumerate(ids) if i % 3 == 0 or item in moved]


def _result(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in data["results"] if r["name"] == name)


def test_never_checked_says_the_two_commands(client: TestClient, web_project: Project) -> None:
    login(client, "reviewer")
    section = _overview(client)
    assert 'data-checked="false"' in section and "Never checked" in section
    assert "assay check --init --dataset digits" in section
    assert "assay check --dataset digits" in section
    data = client.get(API).json()
    assert data["checked"] is False and data["results"] == [] and data["passed"] is None
    # Once the expectations exist, only the second command is left to run.
    checks.init_expectations(web_project.dataset("digits"))
    section = _overview(client)
    assert "Not checked yet" in section and "checks/digits.toml" in section
    assert "assay check --init" not in section


def test_a_passing_report_shows_when_and_the_counts(
    client: TestClient, web_project: Project
) -> None:
    ds = web_project.dataset("digits")
    checks.init_expectations(ds)
    report = checks.run_checks(ds)
    assert report.passed and report.counts["pass"] >= 3
    login(client, "annotator")  # not blind: an annotator sees every result
    data = client.get(API).json()
    assert data["checked"] is True and data["passed"] is True and data["redacted"] is False
    assert data["counts"] == report.counts
    assert data["created_at"] == report.created_at.isoformat()
    assert data["expectations"] == "checks/digits.toml"  # relative: no server path
    assert [r["name"] for r in data["results"]] == [
        r.name
        for r in sorted(report.results, key=lambda r: ["fail", "skipped", "pass"].index(r.status))
    ]
    section = _overview(client)
    assert "All passing" in section and 'id="checks-attention"' not in section
    assert f'<b class="n-pass">{report.counts["pass"]}</b> pass' in section
    assert report.created_at.strftime("%Y-%m-%d %H:%M") in section
    for r in report.results:
        assert f'data-name="{r.name}" data-status="{r.status}"' in section


def test_a_failure_links_its_items_and_counts_the_rest(
    client: TestClient, web_project: Project
) -> None:
    ds = web_project.dataset("digits")
    checks.init_expectations(ds)
    class0 = _break_balance(web_project)
    report = checks.run_checks(ds)
    failed = next(r for r in report.results if r.name == "ground_truth-balance")
    assert failed.status == "fail" and failed.n_items == 24 == len(class0)
    login(client, "reviewer")
    data = client.get(API).json()
    assert data["passed"] is False and data["counts"]["fail"] == report.counts["fail"]
    assert data["results"][0]["status"] == "fail"  # failures first
    shown = _result(data, "ground_truth-balance")
    assert shown["n_items"] == 24 and len(shown["items"]) == checks.ITEM_CAP
    assert shown["more"] == 24 - checks.ITEM_CAP
    assert {it["id"] for it in shown["items"]} <= set(class0)
    section = _overview(client)
    assert f"{report.counts['fail']} failing" in section
    row = re.search(
        r'<tr data-name="ground_truth-balance" data-status="fail">.*?</tr>', section, re.S
    )
    assert row is not None
    links = re.findall(r'class="check-item" href="([^"]+)"', row.group(0))
    keys = {it["id"]: ds.item(it["id"])["external_key"] for it in shown["items"]}
    assert links == [item_page_url("digits", i, keys[i]) for i in keys]
    assert f"and {24 - checks.ITEM_CAP} more" in row.group(0)
    # A link leads to that item's page.
    first = next(iter(keys))
    page = client.get(links[0])
    assert page.status_code == 200 and f"/api/v1/datasets/digits/items/{first}" in page.text


def test_a_blind_annotator_sees_only_the_items_and_their_layers(web_project: Project) -> None:
    add_second_annotator(web_project)  # human layers ann (the annotator's) and b1
    ds = web_project.dataset("digits")
    checks.init_expectations(ds)
    class0 = _break_balance(web_project)  # a failure on ground_truth, hidden from them
    report = checks.run_checks(ds)
    names = {r.name: r for r in report.results}
    assert {"agreement", "ground_truth-balance", "ann-class_set", "b1-coverage"} <= set(names)
    assert names["ground_truth-balance"].status == "fail"
    with TestClient(create_app(web_project, blind=True), follow_redirects=False) as blind:
        login(blind, "annotator")
        data = blind.get(API).json()
        section = _overview(blind)
    shown = {r["name"] for r in data["results"]}
    assert data["redacted"] is True
    assert "ann-class_set" in shown and "image_size" in shown  # their layer; the items
    assert not shown & {"agreement", "ground_truth-balance", "b1-coverage", "b1-class_set"}
    assert all(r["layer"] in (None, "ann") for r in data["results"])
    expected = {"pass": 0, "fail": 0, "skipped": 0}
    for name in shown:
        expected[names[name].status] += 1
    assert data["counts"] == expected and data["passed"] is (expected["fail"] == 0)
    assert "ground_truth" not in section and "b1" not in section
    assert 'data-name="agreement"' not in section
    assert "not shown in blind mode" in section
    for item in class0:  # no link to the hidden failure's items
        assert (
            f'href="{item_page_url("digits", item, ds.item(item)["external_key"])}"' not in section
        )
    # Without blind mode the same annotator sees every result.
    with TestClient(create_app(web_project), follow_redirects=False) as open_:
        login(open_, "annotator")
        assert {r["name"] for r in open_.get(API).json()["results"]} == set(names)


def test_a_message_naming_an_html_class_is_shown_as_text(
    client: TestClient, web_project: Project
) -> None:
    """The texts dataset has a class that is HTML: a check that fails naming it shows it
    escaped."""
    ds = web_project.dataset("texts")
    path = checks.expectations_path(ds)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '[truth]\ncheck = "class_set"\nlayer = "ground_truth"\nclasses = ["plain"]\n',
        encoding="utf-8",
    )
    result = checks.run_checks(ds).results[0]
    assert result.status == "fail" and XSS_CLASS in result.message
    login(client, "reviewer")
    html = client.get("/datasets/texts").text
    assert XSS_CLASS not in html
    assert str(escape(result.message)) in html


def test_every_check_says_what_it_reads_for_blind_mode() -> None:
    """Who may see a result follows from what its check read (``Check.reads``, asked by
    ``Viewer.can_see_check``): every check kind says so itself, and only the ones that read
    no labels are shown to blind annotators whatever the layer."""
    said = {name: type(check).__dict__.get("reads") for name, check in checks.CHECKS.items()}
    assert None not in said.values(), said  # none left to the default by accident
    items = {name for name, reads in said.items() if reads == "items"}
    assert items == {"field", "image_size", "image_mode", "text_length", "leakage"}
    assert said["agreement"] == said["label_issues"] == "labels"
