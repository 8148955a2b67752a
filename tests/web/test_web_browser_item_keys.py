"""Issue 16 in a real browser: labeling keys match digit classes (9 labels "9"), the item form
needs an explicit choice and offers no model layer, the arrow keys step through the grid's
items, and the address bar shows the item's key."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from assay.demo import DEMO_RUN


def _label_in(live: dict[str, Any], layer: str) -> dict[int, str]:
    """item id -> current label in ``layer`` of the demo's digits."""
    matrix = live["project"].dataset("digits").label_matrix([layer])
    return {
        int(i): matrix.classes[int(c)]
        for i, c in zip(matrix.item_ids, matrix.codes[:, 0], strict=True)
        if c >= 0
    }


def test_pressing_9_in_the_queue_labels_the_item_9(page: Any, live: dict[str, Any]) -> None:
    live["project"].dataset("digits").create_layer("nines", owner=live["user"])
    page.goto(live["url"] + "/datasets/digits/label?layer=nines")
    page.wait_for_selector("#queue[data-item-id]:not([data-item-id=''])")
    item = int(str(page.get_attribute("#queue", "data-item-id")))
    page.keyboard.press("9")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#queue:not([data-item-id='{item}'])")
    page.wait_for_selector("#queue[data-pending='0']")
    assert _label_in(live, "nines") == {item: "9"}  # not "8", as key 9 used to pick
    buttons = page.locator("#queue-classes button.class-key")
    shown = [
        (b.get_attribute("data-class"), b.locator("kbd").text_content()) for b in buttons.all()
    ]
    assert shown == [(str(d), str(d)) for d in range(10)]  # each digit's key is its own


def test_the_item_form_needs_a_choice_offers_no_model_layer_and_takes_class_keys(
    page: Any, live: dict[str, Any]
) -> None:
    ds = live["project"].dataset("digits")
    key = "5"
    item = ds.item(key)["id"]
    page.goto(f"{live['url']}/datasets/digits/item/{key}")
    assert page.text_content("#item-key") == key
    layers = page.locator("#label-layer option").all_text_contents()
    assert layers[0] == "(choose a layer)" and "ground_truth" in layers
    assert DEMO_RUN not in layers  # a model layer is read-only to people: not offered
    assert page.input_value("#label-layer") == "" and page.input_value("#label-class") == ""
    before = ds.history(item)
    url = page.url
    page.click("#label-save")  # nothing chosen: the browser refuses to send the form
    page.wait_for_timeout(300)
    assert page.url == url and ds.history(item) == before
    assert page.evaluate("document.querySelector('#label-layer').validity.valueMissing")
    assert "Nothing is chosen for you" in page.text_content("#label-hint")
    # Once a layer is chosen, the class keys the queue shows pick a class here too.
    page.select_option("#label-layer", "ground_truth")
    page.click("h1")  # out of the select: keys act on the page
    page.keyboard.press("3")
    assert page.input_value("#label-class") == "3"
    assert page.locator("#label-class option[value='3']").text_content() == "3  [3]"
    with page.expect_navigation():
        page.click("#label-save")
    assert unquote(page.url).endswith(f"/datasets/digits/item/{key}")
    assert ds.history(item, "ground_truth")[-1]["label"] == "3"


def test_arrow_keys_step_through_the_grids_items_by_key(page: Any, live: dict[str, Any]) -> None:
    page.goto(live["url"] + "/datasets/digits/items?label=7&layer=ground_truth")
    cells = page.locator("#grid li.cell")
    keys = [c.locator(".key").text_content() for c in cells.all()[:3]]
    with page.expect_navigation():  # to "load": the page's key handler is in place
        cells.first.locator("a").click()
    # The address bar shows the item's key, and the page's caption too.
    assert f"/datasets/digits/item/{keys[0]}?" in page.url and "filter=" in page.url
    assert page.text_content("#item-key") == keys[0]
    for key in keys[1:]:
        with page.expect_navigation():
            page.keyboard.press("ArrowRight")
        assert page.text_content("#item-key") == key  # the next item of the grid's filter
        rows = page.locator("#item-labels tbody tr").all_text_contents()
        assert any("ground_truth" in r and "7" in r for r in rows)
    with page.expect_navigation():
        page.keyboard.press("ArrowLeft")
    assert page.text_content("#item-key") == keys[1]
    # Not while typing in a field.
    page.focus("input[name=note]")
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(300)
    assert page.text_content("#item-key") == keys[1]
