"""A box review page with six box layers fits a 1280 px window (the table scrolls inside its
own container, never the page), screenshot in docs/screenshots/review-many-box-layers.png."""

from __future__ import annotations

from typing import Any

import pytest
from web_helpers import shot

from assay.labels.writes import LabelWrite
from boxkit import make_box_dataset

pytestmark = pytest.mark.browser


def _six_box_layers(project: Any, name: str) -> Any:
    """The scenes with six box layers: the truth, three annotators and two more who copy
    alice and bob with every box shifted a little (so each image disagrees somewhere)."""
    made = make_box_dataset(project, name=name, n=6)
    ds = made.ds
    for layer, source, dx in (("dave", "alice", 3.0), ("erin", "bob", -2.0)):
        ds.create_layer(layer, value_kind="boxes", owner=layer)
        writes = []
        for item in made.item_ids:
            boxes = ds.item(item)["labels"][source]["value"]
            moved = [{**b, "x": max(0.0, b["x"] + dx)} for b in boxes]
            writes.append(LabelWrite(item, moved))
        ds.set_labels(writes, layer=layer, author=layer)
    return made


def test_the_review_table_of_six_box_layers_fits_the_page(page: Any, live: dict[str, Any]) -> None:
    made = _six_box_layers(live["project"], "sixlayers")
    layers = ["boxes", "alice", "bob", "carol", "dave", "erin"]
    made.ds.review_scan(layers=layers, consensus_layer=None)
    page.goto(live["url"] + "/datasets/sixlayers/review")
    page.locator("tr.case").first.wait_for(timeout=30_000)
    figures = page.locator("tr.case").first.locator("figure.box-figure")
    assert figures.count() == 6
    widths = page.evaluate(
        "() => ({doc: document.documentElement.scrollWidth, win: window.innerWidth,"
        " wrap: document.querySelector('.table-wrap').getBoundingClientRect().right})"
    )
    shot(page, "review-many-box-layers", full_page=False)
    assert widths["doc"] <= widths["win"], widths  # the page never scrolls sideways
    assert widths["wrap"] <= widths["win"], widths
    # Nothing of the table is hidden to the right: the decision column is in the window.
    actions = page.locator("tr.case").first.locator("td.case-actions").bounding_box()
    assert actions["x"] + actions["width"] <= widths["win"], actions
    scroll = page.evaluate(
        "() => { const w = document.querySelector('.table-wrap');"
        " return w.scrollWidth - w.clientWidth; }"
    )
    assert scroll <= 1, scroll
