"""Issue 19 in a real browser: the dataset overview's "Data checks" section says how to check
a dataset never checked, shows a passing report, then after a relabel that breaks the class
balance, the failure with its items; following an item's link opens that item's page. See
test_web_browser.py for how the browser and server are set up."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
from web_helpers import shot

from assay import checks

pytestmark = pytest.mark.browser

SHARES = ", ".join(f'"{d}" = 0.1' for d in range(10))
# Written by hand rather than by `assay check --init` (which also measures agreement: seconds).
EXPECTATIONS = f"""\
[image_size]
check = "image_size"
sizes = ["8x8"]

[ground_truth-class_set]
check = "class_set"
layer = "ground_truth"
classes = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]

[ground_truth-coverage]
check = "coverage"
layer = "ground_truth"
min = 1.0

[ground_truth-balance]
check = "balance"
layer = "ground_truth"
shares = {{ {SHARES} }}
tolerance = 0.05

[ground_truth-label_issues]
check = "label_issues"
layer = "ground_truth"
max = 0.05

[leakage]
check = "leakage"
"""


def test_the_overview_shows_the_checks_and_links_a_failure_to_its_items(
    page: Any, live: dict[str, Any]
) -> None:
    ds = live["project"].dataset("digits")
    overview = live["url"] + "/datasets/digits"
    page.goto(overview)
    empty = page.text_content("#checks-empty") or ""
    assert (
        "assay check --init --dataset digits" in empty and "assay check --dataset digits" in empty
    )

    path = checks.expectations_path(ds)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(EXPECTATIONS, encoding="utf-8")
    passing = checks.run_checks(ds)
    assert passing.passed, [r.message for r in passing.failures]
    page.goto(overview)
    assert page.text_content("#checks-verdict") == "All passing"
    # Skipped (no label-issue search ran) is not passed, and it shows; the passes are folded.
    assert page.get_attribute("#checks-attention tbody tr", "data-status") == "skipped"
    n_pass = passing.counts["pass"]
    assert page.text_content("#checks-passing summary") == f"{n_pass} passing expectations"
    row = "#checks-passing tr[data-name='ground_truth-balance']"
    assert not page.is_visible(row)
    page.click("#checks-passing summary")
    assert page.is_visible(row)

    ids = [int(i) for i in ds.label_matrix(["ground_truth"]).item_ids[:170]]
    ds.set_labels([(i, "3") for i in ids], layer="ground_truth")  # 3s: about 19% of the items
    report = checks.run_checks(ds)
    failed = {r.name: r for r in report.failures}
    assert set(failed) == {"ground_truth-balance"}
    page.goto(overview)
    assert page.text_content("#checks-verdict") == "1 failing"
    counts = page.text_content("#checks-counts") or ""
    assert counts.split() == [
        str(report.counts["pass"]), "pass", "·", "1", "fail", "·", "1", "skipped",
    ]  # fmt: skip
    row = page.locator("#checks-attention tr[data-name='ground_truth-balance']")
    assert row.get_attribute("data-status") == "fail"
    assert "class balance of 'ground_truth' off" in (row.text_content() or "")
    links = row.locator("a.check-item")
    assert links.count() == checks.ITEM_CAP
    more = failed["ground_truth-balance"].n_items - checks.ITEM_CAP
    assert row.locator(".check-more").text_content() == f"and {more:,} more"
    skipped = page.locator("#checks-attention tr[data-status='skipped']")
    assert skipped.get_attribute("data-name") == "ground_truth-label_issues"
    assert "Not run:" in (skipped.text_content() or "")
    assert not page.is_visible("#checks-passing table")  # folded while something needs care
    shot(page, "data-checks", full_page=False)

    first = failed["ground_truth-balance"].items[0]
    assert first["id"] in ids  # the latest labels first: a relabelled item
    key = links.first.text_content()
    assert key == first["key"]
    links.first.click()
    page.wait_for_url("**/datasets/digits/item/*")
    assert unquote(page.url.rsplit("/", 1)[1]) == key
    assert page.text_content("#item-key") == key
