"""The predictions page in a real browser, on the demo project (run ``logreg-cv`` on digits).

See test_web_browser.py for how the browser and the live server are set up.
"""

from __future__ import annotations

from typing import Any

import pytest
from web_helpers import shot

pytestmark = pytest.mark.browser


def test_predictions_page_links_cells_to_the_grid(page: Any, live: dict[str, Any]) -> None:
    page.goto(live["url"] + "/datasets/digits/predictions")
    assert page.locator("#run-select").input_value() == "logreg-cv"
    assert page.locator("#reference-select").input_value() == "ground_truth"
    assert page.text_content("#metric-n .n") == "1,797"
    accuracy = page.text_content("#metric-accuracy .n") or ""
    assert accuracy.endswith("%") and 90 < float(accuracy.split()[0]) <= 100
    assert page.locator("#confusion tbody tr").count() == 10
    assert page.locator("#per-class tbody tr").count() == 10
    # The calibration plot: bars, the diagonal and the curve.
    plot = page.locator("svg#reliability")
    assert plot.count() == 1 and plot.locator("rect.bar").count() > 0
    assert plot.locator("line.diagonal").count() == 1 and plot.locator("circle.point").count() > 0
    assert page.locator("#errors li img").count() == 50
    shot(page, "predictions")

    # An off-diagonal cell opens exactly its items in the grid.
    cell = page.locator("#confusion td.off a").first
    count = int(cell.get_attribute("data-count") or "0")
    assert count > 0
    cell.click()
    page.wait_for_url("**/datasets/digits/items?**")
    assert page.locator("#grid li.cell").count() == count
    assert "label[logreg-cv]=" in page.input_value("#grid-filter input[name=filter]")
    page.go_back()
    page.wait_for_url("**/datasets/digits/predictions")
    assert page.locator("#confusion tbody tr").count() == 10


def test_predictions_page_choose_a_slice(page: Any, live: dict[str, Any]) -> None:
    page.goto(live["url"] + "/datasets/digits/predictions")
    page.fill("#predictions-form input[name=filter]", "split=test")
    page.click("#predictions-form button[type=submit]")
    page.wait_for_url("**filter=split%3Dtest**")
    assert page.text_content("#metric-n .n") == "359"
    total = sum(int(t) for t in page.locator("#confusion td.total").all_text_contents())
    assert total == 359


def test_likely_label_issues_page_past_the_cut(page: Any, live: dict[str, Any]) -> None:
    ds = live["project"].dataset("digits")
    found = ds.quality.find(model_layer="logreg-cv", features=False, method="predicted_neq_given")
    page.goto(live["url"] + "/datasets/digits/predictions")
    assert page.text_content("#issues-method") == "predicted_neq_given"
    assert page.locator("#issues li.flagged").count() == 0  # only flagged: no mark needed
    page.click("#issues-whole-view")
    page.wait_for_url("**issues_all=1**")
    assert page.locator("#issues li").count() == 12
    assert page.locator("#issues li.flagged").count() == min(12, found.n_issues)
    assert page.locator("#issues-first").count() == 0
    seen = 12
    while seen < found.n_issues + 12:  # page on until past the cut
        with page.expect_navigation():
            page.click("#issues-next")
        seen += page.locator("#issues li").count()
    assert "issues_after=" in page.url and page.locator("#issues-first").count() == 1
    assert page.get_by_text("past the cut").count() > 0
    with page.expect_navigation():
        page.click("#issues-first")
    assert "issues_after" not in page.url and page.locator("#issues li.flagged").count() > 0
