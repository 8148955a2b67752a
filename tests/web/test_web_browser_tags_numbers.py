"""The tags and number editors in a real browser (Debian Chromium): toggle tags by key and
save (the history says what changed), a stale save shows the conflict, a number outside the
layer's range shows the server's message under the field and one inside is saved, the
labeling queue rates by key, and the grid filters by tag and by value. Writes
docs/screenshots/tags-editor.png."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from web_helpers import SCREENSHOTS, serve

import assay

TOPICS = ["sports", "politics", "tech"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server on six short texts whose classes are the topics, with a tags layer
    ``topics`` and number layers ``rating`` (1-5, whole) and ``price`` (0-1000 EUR)."""
    from assay.cli.web_cmd import ensure_demo_login

    folder = tmp_path_factory.mktemp("tags-browser")
    project = assay.init(folder / "proj")
    path = folder / "news.jsonl"
    rows = [{"text": f"news story {i}", "label": TOPICS[i % 3]} for i in range(6)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    project.import_path(path, dataset="news", label_field="label")
    ds = project.dataset("news")
    ds.create_layer("topics", value_kind="tags")
    ds.create_layer("rating", value_kind="number", options={"min": 1, "max": 5, "integer": True})
    ds.create_layer("price", value_kind="number", options={"min": 0, "max": 1000, "unit": "EUR"})
    user, password = ensure_demo_login(project)
    with serve(project) as url:
        yield {"url": url, "user": user, "password": password, "project": project}


def _key(page: Any, tag: str) -> str:
    return str(page.inner_text(f".tag-chip[data-tag='{tag}'] kbd"))


def test_tags_and_number_editors_on_the_item_page(page: Any, live: dict[str, Any]) -> None:
    ds = live["project"].dataset("news")
    key = ds.items(limit=1)[0][0]["external_key"]
    page.goto(f"{live['url']}/datasets/news/item/{key}")
    tags = page.locator(".kind-editor[data-layer='topics']")
    tags.wait_for()
    page.keyboard.press(_key(page, "tech"))
    page.keyboard.press(_key(page, "sports"))
    assert page.get_attribute(".tag-chip[data-tag='tech']", "aria-pressed") == "true"
    assert tags.get_attribute("data-dirty") == "1"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tags.screenshot(path=str(SCREENSHOTS / "tags-editor.png"))
    page.keyboard.press("Enter")
    page.wait_for_selector(".kind-editor[data-layer='topics'][data-label-id]")
    assert ds.item(key)["labels"]["topics"]["value"] == ["sports", "tech"]  # class order
    page.keyboard.press(_key(page, "tech"))  # off again, saved on the version just saved
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector(\".kind-editor[data-layer='topics'] .ke-status\")"
        ".textContent.includes('Saved in topics: sports.')"
    )
    assert ds.item(key)["labels"]["topics"]["value"] == ["sports"]

    # Someone else saves meanwhile: this page's next save is refused, and says so.
    ds.set_label(key, ["politics"], layer="topics", author="someone")
    page.keyboard.press(_key(page, "tech"))
    page.keyboard.press("Enter")
    message = tags.locator(".ke-message")
    message.wait_for(state="visible")
    assert "reload the page" in message.inner_text()
    assert ds.item(key)["labels"]["topics"]["value"] == ["politics"]

    price = page.locator(".kind-editor[data-layer='price'] input.ke-number")
    assert price.get_attribute("max") == "1000" and price.get_attribute("min") == "0"
    price.fill("5000")
    price.press("Enter")
    error = page.locator(".kind-editor[data-layer='price'] .ke-message")
    error.wait_for(state="visible")
    assert "outside the layer's range [0, 1000]" in error.inner_text()
    price.fill("12.5")
    price.press("Enter")
    error.wait_for(state="hidden")
    page.wait_for_selector(".kind-editor[data-layer='price'][data-label-id]")
    assert ds.item(key)["labels"]["price"]["value"] == 12.5

    page.reload()
    history = page.inner_text("#item-history")
    assert "-tech" in history and "added sports, tech" in history and "added 12.5" in history


def test_queue_rates_by_key_and_the_grid_filters(page: Any, live: dict[str, Any]) -> None:
    ds = live["project"].dataset("news")
    page.goto(f"{live['url']}/datasets/news/label?layer=rating")
    queue = page.locator("#kind-queue")
    page.wait_for_function("() => document.getElementById('kind-queue').dataset.itemId")
    first = int(queue.get_attribute("data-item-id") or 0)
    assert page.locator(".rating").count() == 5
    page.keyboard.press("4")
    assert page.get_attribute(".rating[data-value='4']", "aria-pressed") == "true"
    page.keyboard.press("Enter")
    page.wait_for_function(
        "(first) => document.getElementById('kind-queue').dataset.itemId !== String(first)",
        arg=first,
    )
    assert ds.item(first)["labels"]["rating"]["value"] == 4
    ds.set_label(first, ["sports"], layer="topics", author="admin")

    page.goto(f"{live['url']}/datasets/news/items?filter=tag[topics]=sports, value[rating]>=4")
    ids = [int(v) for v in page.eval_on_selector_all(".pick", "els => els.map(e => e.value)")]
    assert ids == [first]
    assert "sports" in page.inner_text(f"[data-id='{first}'] .tile-value[data-layer='topics']")
