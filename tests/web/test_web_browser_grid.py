"""The items grid in a real browser (issue 16, "a grid worth living in"), on the demo project:
choose a model and see its verdict on every tile, sort by label quality, change the tile and
page size, see the total count, open an item in the grid's order, and a bulk form that refuses
to write before a class and a layer are chosen.

See test_web_browser.py for how the browser and the live server are set up.
"""

from __future__ import annotations

from typing import Any

import pytest
from web_helpers import shot

pytestmark = pytest.mark.browser


def _choose(page: Any, control: str, value: str) -> None:
    """Pick ``value`` in a view control, which reloads the grid with it in the URL."""
    with page.expect_navigation():
        page.select_option(control, value)


def test_grid_model_sort_sizes_count_and_bulk_form(page: Any, live: dict[str, Any]) -> None:
    ds = live["project"].dataset("digits")
    ds.quality.find(model_layer="logreg-cv", features=False)
    page.goto(live["url"] + "/datasets/digits/items")
    assert page.text_content("#grid-total .n") == "1,797"
    assert page.locator("#grid li.cell").count() == 96
    assert page.locator("#grid .badge").count() == 0  # no model chosen: no verdicts

    # Choose a model: every tile shows its prediction, right or wrong, and its confidence.
    _choose(page, "#grid-model", "logreg-cv")
    assert "model=logreg-cv" in page.url
    assert page.locator("#grid .cell .badge").count() == 96
    confidences = page.locator("#grid .cell .confidence").all_text_contents()
    assert len(confidences) == 96 and all(0 <= float(c) <= 1 for c in confidences)
    wrong_by_added = page.locator("#grid .cell .badge.wrong").count()

    # Sort by label quality: the likeliest wrong labels first, where the model disagrees most.
    _choose(page, "#grid-sort", "quality")
    assert "sort=quality" in page.url and "model=logreg-cv" in page.url
    scores = [float(s.split()[-1]) for s in page.locator("#grid .cell .score").all_text_contents()]
    assert len(scores) == 96 and scores == sorted(scores)
    assert page.locator("#grid .cell .badge.wrong").count() > wrong_by_added
    assert page.locator("#grid li.cell").first.get_attribute("class") == "cell wrong"
    assert page.text_content("#grid-total .n") == "1,797"

    # Tile size and page size: applied at once, kept in the URL, kept by the next page.
    small = page.locator("#grid img").first.bounding_box()["width"]
    _choose(page, "#grid-size", "l")
    assert "size=l" in page.url
    assert page.locator("#grid img").first.bounding_box()["width"] > 1.4 * small
    _choose(page, "#grid-limit", "48")
    assert "limit=48" in page.url and page.locator("#grid li.cell").count() == 48
    first = page.locator("#grid li.cell").first.get_attribute("data-id")
    shot(page, "grid")
    with page.expect_navigation():
        page.click("#next-page")
    for kept in ("sort=quality", "model=logreg-cv", "size=l", "limit=48", "after="):
        assert kept in page.url
    assert page.locator("#grid li.cell").count() == 48
    assert page.locator("#grid li.cell").first.get_attribute("data-id") != first
    more = [float(s.split()[-1]) for s in page.locator("#grid .cell .score").all_text_contents()]
    assert min(more) >= max(scores[:48])

    # A filter narrows the total count; the item link carries the grid's filter and order.
    page.goto(live["url"] + "/datasets/digits/items?model=logreg-cv&sort=quality&split=test")
    assert page.text_content("#grid-total .n") == "359"
    key = page.locator("#grid .cell .key").first.text_content()
    with page.expect_navigation():
        page.locator("#grid li.cell a").first.click()
    assert f"/datasets/digits/item/{key}?" in page.url
    assert "sort=quality" in page.url and "split%3Dtest" in page.url
    assert key and key in (page.text_content("main") or "")
    page.go_back()

    # The bulk form: no class and no layer chosen in advance, no model layer offered, and
    # a click on Apply without choosing writes nothing and says what to choose.
    page.wait_for_selector("#bulk-form")
    layers = page.locator("#bulk-layer option").all_text_contents()
    assert "logreg-cv" not in layers and "ground_truth" in layers
    assert page.input_value("#bulk-class") == "" and page.input_value("#bulk-layer") == ""
    before = len(ds.history(int(page.locator("#grid input.pick").first.get_attribute("value"))))
    page.locator("#grid input.pick").nth(0).check()
    page.locator("#grid input.pick").nth(1).check()
    page.click("#bulk-apply")
    status = page.text_content("#bulk-status") or ""
    assert "Nothing was written" in status and "a class" in status and "a layer" in status
    page.select_option("#bulk-class", "3")
    page.click("#bulk-apply")
    status = page.text_content("#bulk-status") or ""
    assert "choose a layer" in status and "a class" not in status
    picked = int(page.locator("#grid input.pick").first.get_attribute("value"))
    assert len(ds.history(picked)) == before
    shot(page, "grid-bulk")
