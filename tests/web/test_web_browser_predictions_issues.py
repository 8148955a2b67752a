"""The predictions page lists every label issue, paged, with links that open them in the grid
and in the review queue (issue 16), in a real browser on the demo project (run ``logreg-cv``).

See test_web_browser.py for how the browser and the live server are set up.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest

pytestmark = pytest.mark.browser


def test_page_through_every_issue_then_open_them_in_the_grid_and_the_review_queue(
    page: Any, live: dict[str, Any]
) -> None:
    ds = live["project"].dataset("digits")
    found = ds.quality.find(model_layer="logreg-cv", features=False, method="predicted_neq_given")
    assert 12 < found.n_issues <= 96  # several pages here, one page of the grid
    ds.quality.to_review(found.run_id)
    flagged = {r["item_id"] for r in ds.quality.issues(found.run_id, limit=1000)}
    assert len(flagged) == found.n_issues

    page.goto(live["url"] + "/datasets/digits/predictions")
    seen: list[str] = []
    while True:
        links = page.locator("#issues li a").evaluate_all("(as) => as.map((a) => a.href)")
        assert 0 < len(links) <= 12
        seen += links
        if page.locator("#issues-next").count() == 0:
            break
        with page.expect_navigation():
            page.click("#issues-next")
    assert len(seen) == len(set(seen)) == found.n_issues  # every issue once, in pages
    keys = {str(ds.item(i)["external_key"]) for i in flagged}
    assert {unquote(u.rsplit("/", 1)[1].split("?")[0]) for u in seen} == keys
    # Each row opens its item's page.
    with page.expect_navigation():
        page.locator("#issues li a").first.click()
    assert "/datasets/digits/item/" in page.url
    page.go_back()

    # "Open these in the grid": exactly the flagged items.
    with page.expect_navigation():
        page.click("#issues-grid")
    page.wait_for_url("**/datasets/digits/items?**")
    assert "issue[logreg-cv]=label" in page.input_value("#grid-filter input[name=filter]")
    assert page.locator("#grid li.cell").count() == found.n_issues
    page.go_back()

    # "Open in the review queue": the mislabel cases the search opened.
    with page.expect_navigation():
        page.click("#issues-review")
    assert "reason=mislabel" in page.url
    rows = page.locator("tr.case")
    assert rows.count() > 0
    assert all("mislabel" in (t or "") for t in rows.locator("td.case-why").all_text_contents())
