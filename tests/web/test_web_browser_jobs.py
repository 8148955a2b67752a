"""The suggestions & jobs page in a real browser: start jobs from the page, watch them
progress to done in a worker, and label the suggested items first in the labeling queue."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from web_helpers import shot

pytestmark = pytest.mark.browser

JOB_TIMEOUT_MS = 120_000


def test_suggest_from_the_page_then_label_the_suggestions_first(
    page: Any, live: dict[str, Any]
) -> None:
    ds = live["project"].dataset("digits")
    if "jobs-demo" not in [la["name"] for la in ds.layers()]:
        ds.create_layer("jobs-demo", owner="demo")
    ids = [r["id"] for r in ds.items(limit=40)[0]]
    ds.set_labels([(i, str(n % 10)) for n, i in enumerate(ids[:30])], layer="jobs-demo", author="t")

    page.goto(live["url"] + "/datasets/digits/jobs?layer=jobs-demo")
    assert "No suggestions for" in page.text_content("#suggest-current")
    page.select_option("#suggest-form select[name=strategy]", "margin")
    page.fill("#suggest-form input[name=batch]", "12")
    page.click("#suggest-form button[type=submit]")
    # The job appears at once, then the page reloads with the list when the worker is done.
    page.wait_for_selector("#jobs-body tr[data-job-id]")
    page.wait_for_selector("#suggest-items a.tile", timeout=JOB_TIMEOUT_MS)
    assert page.locator("#suggest-items a.tile").count() == 12
    assert "by margin" in page.text_content("#suggest-current")
    ranked = [r["item_id"] for r in ds.suggestions.items("jobs-demo")]
    assert len(ranked) == 12 and not set(ranked) & set(ids[:30])

    page.click("#suggest-label")
    page.wait_for_selector("#queue[data-item-id]:not([data-item-id=''])")
    assert int(page.get_attribute("#queue", "data-item-id")) == ranked[0]
    assert "Order: suggested (margin, 12 of 12 left)" in page.text_content("#queue-order")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#queue[data-item-id='{ranked[1]}']")
    page.wait_for_selector("#queue[data-pending='0']")
    assert ds.history(ranked[0], "jobs-demo")[-1]["label"] == "3"  # key 3 picks class "3"


def test_start_a_cross_validation_and_follow_its_progress(page: Any, live: dict[str, Any]) -> None:
    page.goto(live["url"] + "/datasets/digits/jobs")
    page.select_option("#form-cross-validate select[name=model]", "logreg")
    page.fill("#form-cross-validate input[name=folds]", "3")
    page.click("#form-cross-validate button[type=submit]")
    row = "#jobs-body tr[data-kind='cross-validate']"
    page.wait_for_selector(f"{row}[data-state='done']", timeout=JOB_TIMEOUT_MS)
    link = page.locator(f"{row} a")
    assert link.text_content() == "see predictions"
    runs = live["project"].dataset("digits").models.runs()
    assert runs[0]["state"] == "done" and runs[0]["folds"] == 3
    shot(page, "jobs")

    # A bad request is refused with its reason shown, and nothing is queued.
    before = page.locator("#jobs-body tr[data-job-id]").count()
    page.fill("#form-consensus input[name=into]", "ground_truth")
    page.click("#form-consensus button[type=submit]")
    failed = "#jobs-body tr[data-kind='consensus'][data-state='failed']"
    page.wait_for_selector(failed, timeout=JOB_TIMEOUT_MS)
    assert page.locator("#jobs-body tr[data-job-id]").count() == before + 1
    assert "of kind import" in page.text_content(f"{failed} .job-message")


def test_upload_a_table_from_the_datasets_page(
    page: Any, live: dict[str, Any], tmp_path: Path
) -> None:
    table = tmp_path / "houses.csv"
    table.write_text("id,rooms,band\na,3,low\nb,5,high\nc,4,high\n", encoding="utf-8")
    page.goto(live["url"] + "/")
    page.set_input_files("#import-form input[name=file]", str(table))
    page.fill("#import-form input[name=dataset]", "houses")
    page.fill("#import-form input[name=label_column]", "band")
    page.fill("#import-form input[name=key_column]", "id")
    page.click("#import-form button[type=submit]")
    ended = "#import-link:not([hidden]), #import-error:not([hidden])"
    page.wait_for_selector(ended, timeout=JOB_TIMEOUT_MS)
    assert page.is_hidden("#import-error"), page.text_content("#import-error")
    assert "Imported 3 rows into houses: 3 new items, 3 new labels." in page.text_content(
        "#import-message"
    )
    page.click("#import-link")
    page.wait_for_url(live["url"] + "/datasets/houses")
    assert live["project"].dataset("houses").items(limit=5)[0][0]["label"] in ("low", "high")
    page.goto(live["url"] + "/datasets/houses/jobs")  # the import is the dataset's first job
    page.wait_for_selector("#jobs-body tr[data-kind='import'][data-state='done'] a")
    assert page.text_content("#jobs-body tr[data-kind='import'] a") == "3 new items"

    bad = tmp_path / "slip.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../evil.csv", "x\n1\n")
    page.goto(live["url"] + "/")
    page.set_input_files("#import-form input[name=file]", str(bad))
    page.fill("#import-form input[name=dataset]", "slip")
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-error:not([hidden])", timeout=JOB_TIMEOUT_MS)
    assert "'../evil.csv' points outside" in page.text_content("#import-error")
    assert "slip" not in [d["name"] for d in live["project"].datasets()]
