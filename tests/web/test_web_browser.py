"""The web app in a real browser: Debian's Chromium, driven by Playwright, against a live server.

The server is uvicorn in a thread on 127.0.0.1 (a free port), serving the demo project plus a
small text dataset full of HTML (fixtures ``browser``, ``live`` and ``page`` in conftest.py).
Each test saves a screenshot of its page to ``docs/screenshots/`` (overwritten every run), for
the README.

Without /usr/bin/chromium (or the playwright package) these tests are skipped, except under
CI=true, where they fail: .ci/run installs Chromium. No browser is ever downloaded.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from web_helpers import XSS, XSS_CLASS, shot

pytestmark = pytest.mark.browser


def test_login_form_signs_in(browser: Any, live: dict[str, str]) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 700})
    page = context.new_page()
    page.goto(live["url"] + "/datasets/digits")
    assert "/login" in page.url
    page.fill("input[name=username]", live["user"])
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert page.text_content("[role=alert]") == "Wrong username or password."
    shot(page, "login")
    page.fill("input[name=password]", live["password"])
    page.click("button[type=submit]")
    page.wait_for_url(live["url"] + "/datasets/digits")  # back where we were going
    assert page.text_content(".top .who").startswith(live["user"])
    context.close()


def test_dataset_list(page: Any, live: dict[str, str]) -> None:
    page.goto(live["url"] + "/")
    names = page.locator("table.table tbody td:first-child a").all_text_contents()
    assert sorted(names) == ["diabetes", "digit-tags", "digits", "ner", "scenes", "texts"]
    assert names[:2] == ["digits", "scenes"]  # in the order they were made
    shot(page, "datasets")


def test_overview_draws_the_charts(page: Any, live: dict[str, str]) -> None:
    page.goto(live["url"] + "/datasets/digits")
    page.wait_for_selector("#overview[data-ready=true]", timeout=30_000)
    titles = page.locator("figure.panel figcaption").all_text_contents()
    assert "Class balance · ground_truth" in titles
    assert "Label coverage per layer" in titles
    assert "Items per split" in titles and "Image pixel mean" in titles
    assert "Annotator activity" in titles
    bars = page.locator("figure.panel:has(figcaption:text-is('Class balance · ground_truth')) rect")
    assert bars.count() == 10
    assert page.locator("#stats-cards .stat .n").first.text_content() == "1,797"
    shot(page, "overview")


def test_overview_of_a_filter(page: Any, live: dict[str, str]) -> None:
    page.goto(live["url"] + "/datasets/digits?filter=split%3Dtest")
    page.wait_for_selector("#overview[data-ready=true]", timeout=30_000)
    assert page.locator("#stats-cards .stat .n").first.text_content() == "359"


def test_grid_filters_pages_and_selects(page: Any, live: dict[str, str]) -> None:
    page.goto(live["url"] + "/datasets/digits/items")
    assert page.locator("#grid li.cell").count() == 96
    page.select_option("select[name=label]", "3")
    page.fill("input[name=split]", "train")
    page.click("#grid-filter button[type=submit]")
    page.wait_for_url("**label=3**")
    labels = page.locator("#grid .cell .label").all_text_contents()
    assert len(labels) == 96 and set(labels) == {"3"}
    first_page = page.locator("#grid li.cell").first.get_attribute("data-id")
    # Multi-select: the count follows the boxes.
    page.locator("#grid input.pick").nth(0).check()
    page.locator("#grid input.pick").nth(1).check()
    assert page.text_content("#selected-count") == "2 selected"
    page.check("#select-all")
    assert page.text_content("#selected-count") == "96 selected"
    page.uncheck("#select-all")
    page.locator("#grid input.pick").nth(4).check()
    shot(page, "items")
    # Keyset paging keeps the filter.
    page.click("#next-page")
    page.wait_for_url("**after=**")
    labels = page.locator("#grid .cell .label").all_text_contents()
    assert labels and set(labels) == {"3"}
    assert page.locator("#grid li.cell").first.get_attribute("data-id") != first_page
    images = page.locator("#grid img")
    images.first.scroll_into_view_if_needed()
    page.wait_for_function("document.querySelector('#grid img').naturalWidth > 0")


def test_open_an_item_and_label_it(page: Any, live: dict[str, str]) -> None:
    page.goto(live["url"] + "/datasets/digits/items?label=7")
    page.locator("#grid li.cell a").first.click()
    page.wait_for_selector("#item-image")
    page.wait_for_function("document.querySelector('#item-image').naturalWidth > 0")
    rows = page.locator("#item-labels tbody tr").all_text_contents()
    assert any("ground_truth" in r and "7" in r for r in rows)
    page.select_option("#label-layer", "ground_truth")
    page.select_option("#label-class", "1")
    page.fill("input[name=note]", "the stroke at the top is faint")
    shot(page, "item")
    with page.expect_navigation():
        page.click("#label-save")
    newest = page.locator("#item-history tbody tr").first.text_content()
    assert "ground_truth" in newest and "1" in newest and live["user"] in newest
    assert "the stroke at the top is faint" in newest
    # Save & next moves on to the next item of the same filter.
    url = page.url
    page.select_option("#label-layer", "ground_truth")  # nothing stays chosen: choose again
    page.select_option("#label-class", "7")
    page.click("#label-save-next")
    page.wait_for_function(f"location.href !== {json.dumps(url)}")
    assert "/datasets/digits/item/" in page.url  # the item's page, by its key


def test_stored_html_never_runs(page: Any, live: dict[str, str]) -> None:
    page.goto(live["url"] + "/datasets/texts/items")
    assert page.locator("#grid .text").first.text_content() == XSS
    page.locator("#grid a").first.click()
    page.wait_for_selector("#item-text")
    assert page.text_content("#item-text") == XSS
    assert XSS_CLASS in page.text_content("#item-labels")
    page.goto(live["url"] + "/datasets/texts")
    page.wait_for_selector("#overview[data-ready=true]", timeout=30_000)
    assert any(XSS_CLASS in t for t in page.locator("svg.chart title").all_text_contents())
    shot(page, "text-item-escaped")
    assert page.evaluate("window.__xss") is None
