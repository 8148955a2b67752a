"""The predictions page of a box model in a real browser: mAP, the precision-recall chart and
the false positives drawn over their images (a detection dataset added to the demo project).

See test_web_browser.py for how the browser and the live server are set up.
"""

from __future__ import annotations

from typing import Any

import pytest
from web_helpers import shot

from boxkit import make_box_dataset
from boxpredkit import predicted_boxes, write_predictions

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def box_predictions(live: dict[str, Any]) -> dict[str, Any]:
    bs = make_box_dataset(live["project"], name="boxscenes", n=24, seed=4)
    write_predictions(bs.ds, bs.item_ids, predicted_boxes(bs.scenes.boxes, seed=5))
    return bs.ds.models.evaluate("pred", reference_layer="boxes")


def test_box_predictions_page(page: Any, live: dict[str, Any], box_predictions: dict) -> None:
    ev = box_predictions
    page.goto(live["url"] + "/datasets/boxscenes/predictions?run=pred")
    assert page.locator("#run-select").input_value() == "pred"
    assert page.locator("#reference-select").input_value() == "boxes"
    assert page.text_content("#metric-map .n") == f"{ev['map']:.3f}"
    assert page.text_content("#metric-ap50 .n") == f"{ev['ap50']:.3f}"
    assert page.text_content("#metric-images .n") == "24"
    # The PR chart: the overall curve and one line per class with truth boxes, drawn.
    chart = page.locator("svg#pr-curves")
    assert chart.is_visible() and chart.locator("polyline#pr-overall").count() == 1
    assert chart.locator("polyline.class-curve").count() == len(ev["pr_curves"]["per_class"])
    assert chart.locator("polyline#pr-overall").bounding_box()["width"] > 100
    # The most confident false positive first, its image loaded and its box drawn over it.
    first = page.locator("#false-positives li").first
    top = ev["false_positives"][0]
    assert first.get_attribute("data-key") == top["key"]
    image = first.locator("img")
    image.wait_for(state="visible")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    hot = first.locator("rect.box-hot")
    assert hot.count() == 1 and hot.get_attribute("data-box") == str(top["box"]["id"])
    box = hot.bounding_box()
    assert box is not None and 0 < box["width"] < 136
    assert page.locator("#box-per-class tbody tr").count() >= 5
    assert page.locator("#false-negatives li").count() == min(50, ev["n_false_negatives"])
    shot(page, "box-predictions")

    # A higher score threshold re-evaluates: fewer false positives, the same mAP.
    page.fill("#score-threshold", "0.9")
    page.click("#predictions-form button[type=submit]")
    page.wait_for_url("**score_threshold=0.9**")
    assert page.text_content("#metric-map .n") == f"{ev['map']:.3f}"
    assert page.locator("#false-positives li").count() < len(ev["false_positives"]) or (
        ev["n_false_positives"] == 0
    )
    # Clicking a false positive opens its item.
    page.locator("#false-negatives li a").first.click()
    page.wait_for_url("**/datasets/boxscenes/item/**")
