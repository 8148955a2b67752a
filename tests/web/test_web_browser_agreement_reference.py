"""The agreement page in Chromium says what each layer is rated against: two layers that
disagree on 1 of their 5 shared items are each 80 % against the other, not 100 % against a
majority vote one of them decides (issue 16, bug 5)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_each_layer_against_the_vote_of_the_others(page: Any, live: dict[str, Any]) -> None:
    ds = live["project"].dataset("digits")
    ids = [r["id"] for r in ds.items(limit=5)[0]]
    ds.rename_layer("consensus", "demo-consensus")  # else the page rates against that layer
    ds.create_layer("x1")
    ds.create_layer("x2")
    ds.set_labels([(i, "0") for i in ids], layer="x1", author="x1")
    ds.set_labels([(i, "0") for i in ids[:4]] + [(ids[4], "1")], layer="x2", author="x2")
    page.goto(live["url"] + "/datasets/digits/agreement?layers=x1&layers=x2")
    page.wait_for_selector("#quality", timeout=30_000)
    quality = page.locator("figure.panel:has(#quality)")
    assert quality.locator("figcaption").text_content() == "Each layer against majority-vote"
    rows = page.locator("#quality tbody tr")
    cells = [rows.nth(i).locator("td").all_text_contents() for i in range(rows.count())]
    assert [(c[0], c[2], c[3], c[4]) for c in cells] == [
        ("x1", "5", "0", "80.0 %"),
        ("x2", "5", "0", "80.0 %"),
    ]
    note = quality.locator("p.sub").text_content()
    assert "majority-vote of the other layers" in note and "ties" in note
