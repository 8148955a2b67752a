"""The review page of box cases in Chromium: a class key sets the class of the box selected in
a case's decision (static/boxes.js's keys, as in the box editor) and the resolution writes
that box set; with six box layers the page fits a 1280 px window (screenshot in
docs/screenshots/review-many-box-layers.png)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from web_helpers import shot

from assay.labels.writes import LabelWrite
from boxkit import make_box_dataset

pytestmark = pytest.mark.browser


def test_a_class_key_sets_the_class_of_the_selected_decision_box(
    page: Any, live: dict[str, Any]
) -> None:
    made = make_box_dataset(live["project"], name="boxkeys", n=6, seed=3)
    ds = made.ds
    ds.review_scan(layers=["alice", "bob", "carol"], consensus_layer=None)
    page.goto(live["url"] + "/datasets/boxkeys/review")
    row = page.locator("tr.case.current")
    case_id = int(row.get_attribute("data-case"))
    row.locator("select[name=label]").select_option("alice")
    host = row.locator(".case-decision[data-ready='1'][data-choice='alice']")
    host.wait_for(timeout=30_000)
    alice = ds.item(ds.review.get(case_id)["item_id"])["labels"]["alice"]["value"]
    assert host.locator("g.be-editable").count() == len(alice) > 0
    target = min(alice, key=lambda b: b["w"] * b["h"])  # the smallest: nothing above it
    stage = host.locator("svg.be-svg").bounding_box()
    scale = stage["width"] / 96
    page.mouse.click(
        stage["x"] + (target["x"] + target["w"] / 2) * scale,
        stage["y"] + (target["y"] + target["h"] / 2) * scale,
    )
    assert host.get_attribute("data-selected") == str(target["id"])
    keys = json.loads(page.locator("#cases").get_attribute("data-class-keys"))
    new_class = next(c for c in keys if c != target["class"])
    page.keyboard.press(keys[new_class])
    box = host.locator(f"g.be-editable[data-id='{target['id']}']")
    assert box.get_attribute("data-class") == new_class
    assert page.locator("#triage-msg").text_content() == ""  # the review page saw no key
    page.keyboard.press("Enter")  # resolves with the edited boxes
    for _ in range(100):
        if ds.review.get(case_id)["state"] == "resolved":
            break
        page.wait_for_timeout(200)
    reviewed = ds.item(ds.review.get(case_id)["item_id"])["labels"]["reviewed"]["value"]
    expected = [{**b, "class": new_class} if b["id"] == target["id"] else b for b in alice]
    assert reviewed == expected


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
