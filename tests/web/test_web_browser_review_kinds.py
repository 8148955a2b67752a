"""The review page in Chromium decides a tags case and a number case with what their kind
offers (``review/decisions.py``), never with a class name: a tags case lists the majority and
each annotator's set and takes an edited set (a class key toggles a tag); a number case lists
the median and each annotator's value and takes a value within the layers' range. Writes
docs/screenshots/review-tags-case.png (the README's multi-label review case)."""

from __future__ import annotations

import statistics
from typing import Any

import pytest
from web_helpers import shot

pytestmark = pytest.mark.browser


def _resolved(ds: Any, case_id: int, page: Any) -> dict[str, Any]:
    for _ in range(100):  # the page posts the decision in the background
        case: dict[str, Any] = ds.review.get(case_id)
        if case["state"] != "open":
            return case
        page.wait_for_timeout(100)
    return ds.review.get(case_id)


def _options(row: Any) -> list[str]:
    return [str(v) for v in row.locator("select[name=label] option").evaluate_all(
        "os => os.map(o => o.value)")]  # fmt: skip


def test_a_tags_case_offers_the_kinds_decisions(page: Any, live: dict[str, Any]) -> None:
    ds = live["project"].dataset("digit-tags")
    (first, second), _ = ds.review.list(reason="disagreement", state="open", limit=2)
    layers = first["evidence"]["tag_layers"]
    now = {n: ds.item(first["item_id"])["labels"][n]["value"] for n in layers}
    page.goto(live["url"] + "/datasets/digit-tags/review?reason=disagreement")
    row = page.locator(f"tr[data-case='{first['id']}']")
    row.wait_for()
    assert page.get_attribute("#cases", "data-current") == str(first["id"])
    assert _options(row) == ["accept", *layers, ""]  # no class names: a tag set is decided
    texts = row.locator("select[name=label] option").all_text_contents()
    assert texts[0].startswith("majority: ") and texts[-1] == "an edited tag set"
    majority = [t for t in ds.classes() if 2 * sum(t in v for v in now.values()) >= len(now)]
    checked = row.locator(".decision-set input:checked").evaluate_all("bs => bs.map(b => b.value)")
    assert checked == majority  # the entry starts from the choice picked

    # A class key toggles that tag in the entry and picks "edited"; it resolves nothing.
    tag = next(t for t in ds.classes() if t not in majority)
    key = row.locator(".decision-tag", has=page.locator(f"input[value='{tag}']")).locator("kbd")
    page.keyboard.press(key.inner_text())
    assert row.locator(f".decision-set input[value='{tag}']").is_checked()
    assert row.locator("select[name=label]").input_value() == ""
    assert ds.review.get(first["id"])["state"] == "open"
    page.set_viewport_size({"width": 1440, "height": 860})  # the whole row, decision included
    row.scroll_into_view_if_needed()
    shot(page, "review-tags-case", full_page=False)
    row.locator("button[value=resolve]").click()
    assert _resolved(ds, first["id"], page)["state"] == "resolved"
    wanted = [t for t in ds.classes() if t in majority or t == tag]  # class order
    assert ds.item(first["item_id"])["labels"]["reviewed"]["value"] == wanted

    # One annotator's set, picked in the list.
    row = page.locator(f"tr[data-case='{second['id']}']")
    pick = second["evidence"]["tag_layers"][-1]
    row.locator("select[name=label]").select_option(pick)
    row.locator("button[value=resolve]").click()
    assert _resolved(ds, second["id"], page)["state"] == "resolved"
    item = ds.item(second["item_id"])["labels"]
    assert item["reviewed"]["value"] == item[pick]["value"]


def test_a_number_case_takes_a_value_within_the_range(page: Any, live: dict[str, Any]) -> None:
    ds = live["project"].dataset("diabetes")
    (first, second), _ = ds.review.list(reason="disagreement", state="open", limit=2)
    layers = list(first["evidence"]["values"])
    entry = ds.review.evidence(first["id"])["decision"]["entry"]  # the layers' range
    page.goto(live["url"] + "/datasets/diabetes/review?reason=disagreement")
    row = page.locator(f"tr[data-case='{first['id']}']")
    row.wait_for()
    assert _options(row) == ["accept", *layers, ""]
    value = row.locator(".decision-number input[type=number]")
    values = [ds.item(first["item_id"])["labels"][n]["value"] for n in layers]
    assert float(value.input_value()) == statistics.median(values)  # starts from the median
    low, high = float(value.get_attribute("min") or 0), float(value.get_attribute("max") or 0)
    assert (low, high) == (entry["min"], entry["max"]) and low < min(values) <= max(values) < high

    value.fill(str(high + 10))  # outside the layers' range: the form refuses to send it
    row.locator("button[value=resolve]").click()
    assert value.evaluate("i => i.validity.rangeOverflow")
    page.wait_for_timeout(300)
    assert ds.review.get(first["id"])["state"] == "open"
    value.fill("123.5")
    assert row.locator("select[name=label]").input_value() == ""  # edited
    row.locator("button[value=resolve]").click()
    assert _resolved(ds, first["id"], page)["state"] == "resolved"
    assert ds.item(first["item_id"])["labels"]["reviewed"]["value"] == 123.5

    # "a" accepts the suggestion: the median of the annotators' values, never a class.
    page.locator(f"tr[data-case='{second['id']}'] td.case-why").click()
    page.keyboard.press("a")
    assert _resolved(ds, second["id"], page)["state"] == "resolved"
    given = ds.item(second["item_id"])["labels"]
    median = statistics.median(given[n]["value"] for n in second["evidence"]["values"])
    assert given["reviewed"]["value"] == median
