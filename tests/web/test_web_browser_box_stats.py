"""The statistics page in a real browser shows a section per box layer: its summary, the
histograms of its boxes as pictures and the class balance table (demo project plus the digit
scenes of tests/boxkit.py). See test_web_browser.py for how the browser and server are set up."""

from __future__ import annotations

from typing import Any

import pytest
from web_helpers import shot

from boxkit import make_box_dataset

pytestmark = pytest.mark.browser

NAME = "box-stats-scenes"


def test_statistics_page_shows_the_box_layers(page: Any, live: dict[str, Any]) -> None:
    made = make_box_dataset(live["project"], name=NAME, n=12)
    n_boxes = sum(len(b) for b in made.scenes.boxes)
    page.goto(live["url"] + f"/datasets/{NAME}")
    page.wait_for_selector("#overview[data-ready=true]")
    section = page.locator(".box-stats[data-layer=boxes]")
    assert section.count() >= 8  # summary, per image, classes, 3 relative, aspect, 2 pixels
    summary = page.text_content(".box-stats[data-layer=boxes] .box-summary") or ""
    assert summary.startswith(f"{n_boxes} boxes in 12 annotated images")
    assert "0 not annotated" in summary
    assert section.locator("svg.histogram rect.bar").count() > 10
    rows = section.locator("table.box-classes tbody tr")
    classes = {b["class"] for boxes in made.scenes.boxes for b in boxes}
    assert rows.count() == len(classes)
    counts = rows.locator("td:nth-child(2)").all_text_contents()
    assert sum(int(t.replace(",", "")) for t in counts) == n_boxes
    captions = section.locator("figcaption").all_text_contents()
    assert "Box width / image width · boxes" in captions
    assert "Box aspect ratio (width / height) · boxes" in captions
    # Every annotator's layer has its own section, and no class-layer links into the grid.
    for layer in ("alice", "bob", "carol"):
        assert page.locator(f".box-stats[data-layer={layer}]").count() >= 8
    assert page.locator("a[href*='label%5Bboxes%5D']").count() == 0
    section.first.evaluate("e => e.scrollIntoView()")
    shot(page, "box-statistics", full_page=False)
