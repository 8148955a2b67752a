"""The review page in Chromium shows a box disagreement as the layers' figures side by side on
the image, the boxes at issue highlighted; the agreement page shows box layers' pairs."""

from __future__ import annotations

from typing import Any

import pytest
from web_helpers import shot

from assay.labels.kinds import get_kind
from boxkit import make_box_dataset

pytestmark = pytest.mark.browser


def test_a_box_case_shows_the_layers_side_by_side(page: Any, live: dict[str, Any]) -> None:
    scenes = make_box_dataset(live["project"], name="boxreview", n=8)
    ds = scenes.ds
    found = ds.review_scan(layers=["alice", "bob", "carol"], consensus_layer=None)
    assert found.disagreement_opened > 0
    cases, _ = ds.review.list(reason="disagreement")
    case = cases[0]
    hot = sum(len(ids) for ids in case["evidence"]["highlight"].values())
    page.goto(live["url"] + "/datasets/boxreview/review")
    figures = page.locator(".box-figures").first.locator("figure.box-figure")
    figures.first.wait_for(timeout=30_000)
    assert [figures.nth(i).get_attribute("data-layer") for i in range(figures.count())] == [
        "alice",
        "bob",
        "carol",
    ]
    first = page.locator("tr.case").first
    first.scroll_into_view_if_needed()
    shot(page, "review-box-case", full_page=False)
    boxes = [figures.nth(i).bounding_box() for i in range(3)]
    assert boxes[0]["y"] == pytest.approx(boxes[1]["y"], abs=2)  # side by side, one row
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]
    drawn = page.locator(".box-figures").first.locator("rect.box-hot")
    assert drawn.count() == hot > 0
    assert "at issue" in figures.first.locator("figcaption").text_content() or hot

    page.goto(live["url"] + "/datasets/boxreview/agreement?layers=alice&layers=bob&layers=carol")
    page.wait_for_selector("#pairwise", timeout=30_000)
    head = page.locator("#pairwise thead th").all_text_contents()
    assert "F1@0.5" in head and "Mean IoU" in head and "Same class" in head
    rows = page.locator("#pairwise tbody tr")
    assert rows.count() == 3
    report = ds.agreement(["alice", "bob", "carol"]).to_dict()
    first = rows.nth(0).locator("td").all_text_contents()
    assert first[:2] == ["alice", "bob"]
    assert first[6] == f"{report['pairwise'][0]['f1'] * 100:.1f} %"
    page.wait_for_selector("#confusion[data-ready=true]", timeout=30_000)
    assert "boxes matched at IoU" in page.locator("#confusion").text_content()


def test_a_box_case_is_resolved_from_the_review_page(page: Any, live: dict[str, Any]) -> None:
    scenes = make_box_dataset(live["project"], name="boxdecide", n=6, seed=3)
    ds = scenes.ds
    ds.review_scan(layers=["alice", "bob", "carol"], consensus_layer=None)
    (case, *_), _ = ds.review.list(reason="disagreement")
    page.goto(live["url"] + "/datasets/boxdecide/review")
    row = page.locator(f"tr[data-case='{case['id']}']")
    choices = row.locator("select[name=label] option").all_text_contents()
    assert [c.split(":")[0] for c in choices] == ["fused", "alice", "bob", "carol"]
    assert choices[2] == "bob: " + get_kind("boxes").brief(
        ds.item(case["item_id"])["labels"]["bob"]["value"]
    )
    row.locator("select[name=label]").select_option("bob")
    row.locator("button[value=resolve]").click()
    for _ in range(100):  # the page posts the decision; the library sees it
        if ds.review.get(case["id"])["state"] == "resolved":
            break
        page.wait_for_timeout(200)
    assert ds.review.get(case["id"])["state"] == "resolved"
    reviewed = ds.item(case["item_id"])["labels"]["reviewed"]
    assert reviewed["value"] == ds.item(case["item_id"])["labels"]["bob"]["value"]
