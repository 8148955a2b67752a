"""The box editor in a real browser (Debian Chromium): draw, move, resize, reclassify by key,
delete, undo and save a box set (the stored label matches); a stale save shows the conflict and
loses nothing; overlays toggle and the score threshold hides low-score predictions; the
labeling queue boxes one image after another; the grid draws box overlays. Writes
docs/screenshots/box-editor.png."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from web_helpers import SCREENSHOTS, serve

import assay
from assay.labels.writes import LabelWrite
from assay.web.rendering import layer_colour
from boxkit import make_box_dataset

GT = [{"id": 1, "class": "3", "x": 10.0, "y": 10.0, "w": 20.0, "h": 20.0}]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server on a project of digit scenes (96 x 96): the truth in ``boxes``, annotators
    alice, bob and carol, and a detector's scored predictions (one low-score false alarm per
    image); yields its URL, the login and the project."""

    from assay.cli.web_cmd import ensure_demo_login

    folder = tmp_path_factory.mktemp("boxes-browser")
    project = assay.init(folder / "proj")
    made = make_box_dataset(project, n=8, seed=3)
    ds = made.ds
    ds.create_layer("detector", value_kind="boxes", kind="model")
    predictions = []
    for item_id, truth in zip(made.item_ids, made.scenes.boxes, strict=True):
        boxes = [
            {**b, "x": b["x"] + 1.5, "w": b["w"] - 1.0, "score": round(0.95 - 0.1 * k, 2)}
            for k, b in enumerate(truth)
        ]
        boxes.append({"class": "1", "x": 70.0, "y": 4.0, "w": 14.0, "h": 12.0, "score": 0.22})
        predictions.append(LabelWrite(item_id, boxes))
    ds.set_labels(predictions, layer="detector", author="detector")
    user, password = ensure_demo_login(project)
    with serve(project) as url:
        yield {"url": url, "user": user, "password": password, "project": project, "made": made}


def _open(page: Any, live: dict[str, Any], index: int) -> tuple[Any, int, str]:
    """Open scene ``index``'s item page; returns the dataset, item id and key."""
    ds = live["made"].ds
    item_id = live["made"].item_ids[index]
    key = ds.item(item_id)["external_key"]
    page.goto(f"{live['url']}/datasets/scenes/item/{key}")
    page.wait_for_selector("#box-editor[data-editing='boxes']")
    return ds, item_id, key


def _to_screen(page: Any, x: float, y: float) -> tuple[float, float]:
    """Where image pixel (x, y) is on the screen."""
    r = page.locator("#be-stage").bounding_box()
    return r["x"] + x * r["width"] / 96, r["y"] + y * r["height"] / 96


def _drag(page: Any, a: tuple[float, float], b: tuple[float, float]) -> None:
    page.mouse.move(*_to_screen(page, *a))
    page.mouse.down()
    page.mouse.move(*_to_screen(page, *b), steps=6)
    page.mouse.up()


def _boxes(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate("window.assayBoxEditor.boxes"))


def test_draw_move_resize_reclassify_delete_undo_and_save(page: Any, live: dict[str, Any]) -> None:
    ds, item_id, _ = _open_with(page, live, 0, GT)
    assert len(_boxes(page)) == 1
    page.keyboard.press("7")  # nothing selected: the class of the next box
    _drag(page, (50, 50), (80, 75))  # draw
    boxes = _boxes(page)
    assert len(boxes) == 2 and boxes[1]["class"] == "7" and boxes[1]["id"] == 2
    assert abs(boxes[1]["x"] - 50) < 1 and abs(boxes[1]["w"] - 30) < 1
    _drag(page, (51, 51), (51.2, 51.2))  # a tiny drag on empty space... inside box 2: a click
    _drag(page, (20, 60), (20.2, 60.1))  # and on empty space: no box
    assert len(_boxes(page)) == 2
    _drag(page, (60, 60), (65, 58))  # move box 2 by (5, -2)
    moved = _boxes(page)[1]
    assert abs(moved["x"] - 55) < 1 and abs(moved["y"] - 48) < 1 and abs(moved["w"] - 30) < 1
    page.wait_for_selector("#box-editor[data-selected='2']")  # still selected after the move
    _drag(page, (85, 73), (90, 80))  # the south-east handle: resize
    resized = _boxes(page)[1]
    assert abs(resized["w"] - 35) < 1 and abs(resized["h"] - 32) < 1 and abs(resized["x"] - 55) < 1
    _drag(page, (95, 95), (99, 99))  # the image ends at 96: a box never leaves it
    clamped = [b for b in _boxes(page) if b["x"] > 90]
    assert clamped and all(b["x"] + b["w"] <= 96 and b["y"] + b["h"] <= 96 for b in clamped)
    page.keyboard.press("Delete")  # the new corner box goes
    page.mouse.click(*_to_screen(page, 70, 60))  # select box 2
    page.keyboard.press("4")  # its class by key
    assert _boxes(page)[1]["class"] == "4"
    page.mouse.click(*_to_screen(page, 15, 15))  # select box 1 and delete it
    page.keyboard.press("Delete")
    assert [b["id"] for b in _boxes(page)] == [2]
    page.keyboard.press("Control+z")  # undo brings it back
    assert [b["id"] for b in _boxes(page)] == [1, 2]
    page.keyboard.press("Control+Shift+z")  # redo deletes it again
    page.keyboard.press("Control+z")
    page.keyboard.press("Escape")
    assert page.get_attribute("#box-editor", "data-selected") == ""
    assert page.get_attribute("#box-editor", "data-dirty") == "1"
    page.keyboard.press("Control+s")
    page.wait_for_selector("#be-status.ok")
    assert page.get_attribute("#box-editor", "data-dirty") == ""
    stored = ds.item(item_id)["labels"]["boxes"]
    assert stored["value"] == _boxes(page)
    assert [(b["id"], b["class"]) for b in stored["value"]] == [(1, "3"), (2, "4")]
    assert stored["author"] == live["user"]


def _open_with(
    page: Any, live: dict[str, Any], index: int, boxes: list[dict[str, Any]]
) -> tuple[Any, int, str]:
    ds = live["made"].ds
    ds.set_label(live["made"].item_ids[index], boxes, layer="boxes", author="setup")
    return _open(page, live, index)


def test_a_second_session_saving_first_is_a_conflict_and_nothing_is_lost(
    page: Any, live: dict[str, Any]
) -> None:
    ds, item_id, _ = _open_with(page, live, 1, GT)
    _drag(page, (50, 50), (70, 70))  # my unsaved box
    theirs = [{**GT[0], "class": "8"}]
    ds.set_label(item_id, theirs, layer="boxes", author="bob")  # the other session saves first
    page.keyboard.press("Enter")
    page.wait_for_selector("#be-message:not([hidden])")
    message = page.text_content("#be-message")
    assert "changed since you opened it by bob" in message and "still on screen" in message
    assert ds.item(item_id)["labels"]["boxes"]["value"] == theirs  # not overwritten
    assert len(_boxes(page)) == 2 and page.get_attribute("#box-editor", "data-dirty") == "1"
    page.click(".be-reload")
    page.wait_for_selector("#be-message[hidden]", state="attached")
    assert _boxes(page) == theirs


def test_overlays_toggle_and_the_threshold_hides_low_score_predictions(
    page: Any, live: dict[str, Any]
) -> None:
    made = live["made"]
    _open(page, live, 2)
    n = len(made.scenes.boxes[2])  # the detector: n boxes scored >= 0.65, one scored 0.22
    shown = page.locator(".be-layer[data-layer='detector'] .be-box")
    assert shown.count() == n  # the default threshold, 0.5, hides the false alarm
    page.locator(".be-layer-row[data-layer='detector'] .be-threshold").fill("0.2")
    assert shown.count() == n + 1
    page.locator(".be-layer-row[data-layer='detector'] .be-threshold").fill("0.9")
    assert shown.count() == 1  # only the 0.95 box
    row = page.locator(".be-layer-row[data-layer='detector']")
    assert row.locator(".be-count").text_content() == f"1 of {n + 1} shown"
    colour = page.evaluate(
        "getComputedStyle(document.querySelector(\".be-layer-row[data-layer='detector'] .swatch\"))"
        ".backgroundColor"
    )
    assert colour not in ("", "rgba(0, 0, 0, 0)")  # the layer's colour reaches the panel
    alice = page.locator(".be-layer[data-layer='alice'] .be-box")
    assert alice.count() == len(made.simulated.labels["alice"][2])
    page.uncheck(".be-layer-row[data-layer='alice'] input.be-show")
    assert alice.count() == 0
    for layer in ("bob", "carol"):
        page.uncheck(f".be-layer-row[data-layer='{layer}'] input.be-show")
    page.locator(".be-layer-row[data-layer='detector'] .be-threshold").fill("0.5")
    b = made.scenes.boxes[2][0]
    page.mouse.move(*_to_screen(page, b["x"] + b["w"] / 2, b["y"] + b["h"] / 2))
    page.wait_for_selector(".be-tip:not([hidden])")
    tip = page.text_content(".be-tip")
    # The smallest box under the pointer: the detector's (1 pixel narrower than the truth).
    assert tip == f"detector · {b['class']} · score 0.95"


def test_screenshot_of_the_box_editor(
    browser: Any, signed_in_state: Any, live: dict[str, Any]
) -> None:
    context = browser.new_context(
        storage_state=signed_in_state, viewport={"width": 1440, "height": 960}
    )
    page = context.new_page()
    try:
        _open(page, live, 5)
        for layer in ("alice", "bob", "carol"):
            page.uncheck(f".be-layer-row[data-layer='{layer}'] input.be-show")
        boxes = _boxes(page)
        b = boxes[0]
        page.mouse.click(*_to_screen(page, b["x"] + 2, b["y"] + b["h"] - 2))  # select one
        t = live["made"].scenes.boxes[5][-1]
        page.mouse.move(*_to_screen(page, t["x"] + t["w"] / 2, t["y"] + t["h"] / 2))
        page.wait_for_selector(".be-tip:not([hidden])")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        layout = page.locator(".item-layout").bounding_box()
        editor = page.locator("#box-editor").bounding_box()
        clip = {**layout, "height": editor["y"] + editor["height"] - layout["y"] + 16}
        page.screenshot(path=str(SCREENSHOTS / "box-editor.png"), clip=clip, full_page=True)
    finally:
        context.close()


def test_the_labeling_queue_boxes_one_image_after_another(page: Any, live: dict[str, Any]) -> None:
    ds = live["made"].ds
    ds.create_layer("mine", value_kind="boxes", owner=live["user"])
    page.goto(live["url"] + "/datasets/scenes/label?layer=mine")
    page.wait_for_selector("#box-queue[data-item-id]:not([data-item-id=''])")
    first = int(str(page.get_attribute("#box-queue", "data-item-id")))
    page.keyboard.press("5")
    _drag(page, (10, 10), (40, 40))
    page.keyboard.press("Enter")  # save & next
    page.wait_for_selector(f"#box-queue:not([data-item-id='{first}'])")
    second = int(str(page.get_attribute("#box-queue", "data-item-id")))
    assert second != first
    stored = ds.item(first)["labels"]["mine"]["value"]
    assert [(b["class"], round(b["w"])) for b in stored] == [("5", 30)]
    page.keyboard.press("s")  # skip: nothing written
    page.wait_for_selector(f"#box-queue:not([data-item-id='{second}'])")
    third = int(str(page.get_attribute("#box-queue", "data-item-id")))
    page.click("#queue-save-next")  # no boxes: "looked at, nothing to box"
    page.wait_for_selector(f"#box-queue:not([data-item-id='{third}'])")
    assert ds.item(third)["labels"]["mine"]["value"] == []
    assert "mine" not in ds.item(second)["labels"]
    assert page.get_attribute("#box-queue", "data-labeled") == "2"


def test_the_grid_draws_a_box_layer_over_the_thumbnails(page: Any, live: dict[str, Any]) -> None:
    made = live["made"]
    page.goto(live["url"] + "/datasets/scenes/items")
    page.select_option("#grid-boxes", "boxes")  # applies at once
    page.wait_for_selector(".tile-boxes")
    rects = page.locator("#grid .tile-boxes rect")
    labels = [made.ds.item(i)["labels"]["boxes"]["value"] for i in made.item_ids]
    assert rects.count() == sum(len(v) for v in labels) > 8
    # Drawn in the layer's colour (the CSP refuses inline styles: an attribute carries it).
    colour = layer_colour("boxes").lstrip("#")
    rgb = "rgb({}, {}, {})".format(*(int(colour[i : i + 2], 16) for i in (0, 2, 4)))
    stroke = page.evaluate(
        "getComputedStyle(document.querySelector('#grid .tile-boxes rect')).stroke"
    )
    assert stroke == rgb
    box = page.locator("#grid .cell").first.locator(".tile-boxes").bounding_box()
    img = page.locator("#grid .cell").first.locator("img").bounding_box()
    assert abs(box["width"] - img["width"]) < 1 and abs(box["height"] - img["height"]) < 1
