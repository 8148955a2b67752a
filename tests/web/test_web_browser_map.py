"""The embedding map page in Chromium: drawing, coloring, hover, lasso, bulk labeling and
opening a lasso selection in the grid (on the demo project, 1,797 digit images)."""

from __future__ import annotations

from typing import Any

import pytest
from web_helpers import shot

from assay.maps import compute_map

LASSO_LAYER = "map-lasso"


@pytest.fixture(scope="module")
def demo_map(live: dict[str, Any]) -> dict[str, Any]:
    """A UMAP map of the demo's digits (seeded), and an empty layer to label into."""
    ds = live["project"].dataset("digits")
    ds.create_layer(LASSO_LAYER)
    return compute_map(ds, method="umap", seed=0, author="demo")


def open_map(page: Any, live: dict[str, Any]) -> None:
    page.goto(live["url"] + "/datasets/digits/map")
    page.wait_for_selector("#map-canvas[data-points]", timeout=30_000)


def painted_point(page: Any) -> tuple[float, float]:
    """Page coordinates of a colored (not background, not gray) pixel of the canvas."""
    found = page.evaluate(
        """() => {
          const c = document.getElementById("map-canvas");
          const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
          const r = c.getBoundingClientRect();
          const k = c.width / r.width;
          let hits = 0, at = null;
          for (let i = 0; i < d.length; i += 4) {
            const gray = d[i] === d[i + 1] && d[i + 1] === d[i + 2];
            if (!gray) {
              hits += 1;
              if (at === null && hits > 2000) {
                const p = i / 4;
                at = [r.left + (p % c.width) / k + 0.5, r.top + Math.floor(p / c.width) / k + 0.5];
              }
            }
          }
          return { hits, at };
        }"""
    )
    assert found["hits"] > 3000, found  # 1,797 points of several pixels each
    return found["at"][0], found["at"][1]


def test_map_draws_colors_and_hovers(page: Any, live: dict[str, Any], demo_map: Any) -> None:
    open_map(page, live)
    canvas = page.locator("#map-canvas")
    assert canvas.get_attribute("data-points") == "1797"
    assert 0 < int(canvas.get_attribute("data-drawn-ms")) < 30_000
    page.wait_for_selector("#map[data-colored='label:ground_truth']")
    legend = page.locator("#map-legend li .name").all_text_contents()
    assert legend == [str(d) for d in range(10)]
    x, y = painted_point(page)
    page.mouse.move(x, y)
    page.wait_for_selector("#map-tip:not([hidden])")
    assert page.text_content("#map-tip").startswith("item ")
    # Zoom in around the cursor, then pan: the view changes, the points stay drawn.
    page.mouse.wheel(0, -400)
    page.mouse.move(x + 5, y + 5)
    page.mouse.down()
    page.mouse.move(x + 60, y + 40, steps=4)
    page.mouse.up()
    painted_point(page)
    page.click("#map-reset")
    page.select_option("#map-by", "prediction")
    page.wait_for_selector("#map[data-colored='prediction:logreg-cv']")
    assert page.text_content("#map-legend-title") == "prediction: logreg-cv"
    page.select_option("#map-by", "issue")
    page.wait_for_selector("#map[data-colored='issue:']")
    assert "disagreement" in page.locator("#map-legend li .name").all_text_contents()
    assert page.is_hidden("#map-layer-field")
    page.select_option("#map-by", "label")
    page.select_option("#map-layer", "sim-hasty")
    page.wait_for_selector("#map[data-colored='label:sim-hasty']")


def lasso(page: Any, left: float, top: float, right: float, bottom: float) -> int:
    """Draw a lasso around a box given as fractions of the canvas; returns the count."""
    box = page.locator("#map-canvas").bounding_box()
    x = lambda f: box["x"] + f * box["width"]  # noqa: E731
    y = lambda f: box["y"] + f * box["height"]  # noqa: E731
    page.click("#map-lasso")
    page.mouse.move(x(left), y(top))
    page.mouse.down()
    for fx, fy in ((right, top), (right, bottom), (left, bottom), (left, top + 0.01)):
        page.mouse.move(x(fx), y(fy), steps=6)
    page.mouse.up()
    page.wait_for_selector("#map-selection:not([hidden])")
    return int(page.locator("#map-canvas").get_attribute("data-selected"))


def test_lasso_label_and_open_in_grid(page: Any, live: dict[str, Any], demo_map: Any) -> None:
    ds = live["project"].dataset("digits")
    open_map(page, live)
    page.wait_for_selector("#map[data-colored='label:ground_truth']")
    n = lasso(page, 0.3, 0.3, 0.6, 0.65)
    assert 0 < n < 1797
    assert page.text_content("#map-selected") == f"{n:,} items selected"
    shot(page, "map")
    page.click("#map-label-apply")  # nothing is preselected: it says what to choose
    page.wait_for_selector("#map-selection-status.error")
    assert "Choose the class and the layer" in page.text_content("#map-selection-status")
    page.select_option("#map-label-class", "3")
    page.select_option("#map-label-layer", LASSO_LAYER)
    page.click("#map-label-apply")
    page.wait_for_selector("#map-selection-status.ok")
    assert f"Labeled {n:,} items as 3 in {LASSO_LAYER}" in page.text_content(
        "#map-selection-status"
    )
    matrix = ds.label_matrix([LASSO_LAYER])
    labeled = {int(i) for i, c in zip(matrix.item_ids, matrix.codes[:, 0], strict=True) if c >= 0}
    assert len(labeled) == n
    assert {matrix.classes[int(c)] for c in matrix.codes[:, 0] if c >= 0} == {"3"}
    with page.expect_navigation():
        page.click("#map-open-grid")
    assert "filter=selection%3D" in page.url
    assert page.locator("#grid li.cell").count() == min(n, 96)
    selection_id = int(page.url.rsplit("%3D", 1)[1].split("&")[0])
    rows, _ = ds.items(f"selection={selection_id}", limit=2000)
    assert {r["id"] for r in rows} == labeled  # the grid shows exactly the lasso's items


def test_a_dataset_without_a_map_offers_to_compute_one(page: Any, live: dict[str, Any]) -> None:
    page.goto(live["url"] + "/datasets/texts/map")
    assert page.is_visible("#map-compute")
    assert "no embedding map yet" in page.text_content("#map-empty")
    assert page.locator("#map-canvas").count() == 0
