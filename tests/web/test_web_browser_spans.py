"""The span editor in a real browser (Debian Chromium): select words and give them a class by
key, save, reload and see them; delete by ×; an overlap refused on a layer that keeps spans
apart; offsets through an emoji and a combining accent equal Python's code points; the queue
marks one text after another; a blind annotator sees only their own layer; the grid
highlights a layer's spans (a ``<script>`` text shown, never run). Writes
docs/screenshots/span-editor.png."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from web_helpers import PASSWORD, SCREENSHOTS, XSS, serve

import assay
from assay import users
from assay.ingest.staging import ImportJob, json_hash

NER = (
    "On 12 March 1843, Ada Lovelace wrote to Charles Babbage from London about the "
    "Analytical Engine. Her notes, published in Taylor's Scientific Memoirs, were later "
    "discussed at the Royal Society and reprinted by Cambridge University Press in 1989."
)
EMOJI = "Zoe\u0301 🎉 met José in Paris 🇫🇷 on Monday."
TEXTS = {"ner": NER, "emoji": EMOJI, "xss": XSS + " Ada", "plain": "Ada met Grace in Rome."}
CLASSES = ["PER", "ORG", "LOC", "DATE", "WORK"]


def _at(text: str, words: str, cls: str) -> dict[str, Any]:
    start = text.index(words)
    return {"start": start, "end": start + len(words), "class": cls}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A blind-mode server on a small text dataset: span layers ``ner`` (no owner), ``nested``
    (overlap allowed), ``mine`` (the annotator's) and ``tagger`` (a model's predictions)."""
    from assay.cli.web_cmd import ensure_demo_login

    project = assay.init(tmp_path_factory.mktemp("spans-browser") / "proj")
    users.create_user(project.store, "annotator", PASSWORD, role="annotator")
    with ImportJob(project.store, "notes", source="mem", format="test", classes=CLASSES) as job:
        for i, (key, text) in enumerate(TEXTS.items()):
            job.add(
                {"external_key": key, "kind": "text", "text": text,
                 "content_hash": json_hash({"t": text})},
                where=i + 2,
            )  # fmt: skip
        job.publish()
    ds = project.dataset("notes")
    ds.create_layer("ner", value_kind="spans")
    ds.create_layer("nested", value_kind="spans", options={"overlap": True})
    ds.create_layer("mine", value_kind="spans", owner="annotator")
    ds.create_layer("tagger", value_kind="spans", kind="model")
    ds.set_label("xss", [_at(TEXTS["xss"], "Ada", "PER")], layer="ner", author="setup")
    ds.set_label("plain", [_at(TEXTS["plain"], "Grace", "PER")], layer="ner", author="setup")
    found = [("12 March 1843", "DATE"), ("Ada Lovelace", "PER"), ("Charles Babbage", "PER"),
             ("London", "LOC"), ("Analytical Engine", "WORK"), ("Royal Society", "ORG"),
             ("Cambridge University Press", "ORG"), ("1989", "DATE")]  # fmt: skip
    ds.set_label("ner", [_at(NER, w, c) for w, c in found], layer="tagger", author="tagger")
    user, password = ensure_demo_login(project)
    with serve(project, blind=True) as url:
        yield {"url": url, "user": user, "password": password, "project": project, "ds": ds}


def _open(page: Any, live: dict[str, Any], key: str, layer: str = "ner") -> None:
    page.goto(f"{live['url']}/datasets/notes/item/{key}")
    page.wait_for_selector("#span-editor[data-editing]")
    if page.get_attribute("#span-editor", "data-editing") != layer:
        page.select_option("#sp-layer", layer)
        page.wait_for_selector(f"#span-editor[data-editing='{layer}']")


def _select(page: Any, text: str, start: int, end: int, *, alt: bool = False) -> None:
    """Select the text's UTF-16 units [start, end) as a mouse would (a DOM range over the
    editor's segments), then release the mouse and click (Alt held: exact characters)."""
    page.evaluate(
        """([start, end, alt]) => {
          const root = document.getElementById("sp-text");
          const point = (u) => {
            for (const seg of root.querySelectorAll(".sp-seg")) {
              const at = Number(seg.dataset.u);
              if (u >= at && u <= at + seg.textContent.length) return [seg.firstChild, u - at];
            }
          };
          const range = document.createRange();
          range.setStart(...point(start));
          range.setEnd(...point(end));
          const sel = window.getSelection();
          sel.removeAllRanges();
          sel.addRange(range);
          root.dispatchEvent(new MouseEvent("mouseup", { bubbles: true, altKey: alt }));
          root.dispatchEvent(new MouseEvent("click", { bubbles: true, altKey: alt }));
        }""",
        [start, end, alt],
    )


def _spans(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate("window.assaySpanEditor.spans"))


def test_select_classify_save_reload_delete_and_overlap(page: Any, live: dict[str, Any]) -> None:
    ds = live["ds"]
    _open(page, live, "plain")
    text = TEXTS["plain"]
    # A drag with the mouse from inside "Ada" to inside "met": snapped to the whole words.
    seg = page.locator("#sp-text .sp-seg").first.bounding_box()
    page.mouse.move(seg["x"] + 4, seg["y"] + seg["height"] / 3)
    page.mouse.down()
    page.mouse.move(seg["x"] + 30, seg["y"] + seg["height"] / 3, steps=4)
    page.mouse.up()
    first = _spans(page)[0]
    assert text[first["start"] : first["end"]] in ("Ada", "Ada met") and first["start"] == 0
    page.keyboard.press("3")  # LOC, by its key: re-classes the new span
    assert _spans(page)[0]["class"] == "LOC"
    # An overlap on a layer that keeps spans apart: refused, said, nothing added.
    _select(page, text, 8, 16)  # "Grace in": overlaps the stored Grace
    page.wait_for_selector("#sp-message:not([hidden])")
    assert "keeps spans apart" in page.text_content("#sp-message")
    assert len(_spans(page)) == 2
    page.keyboard.press("Enter")
    page.wait_for_selector("#sp-status.ok")
    stored = ds.item("plain")["labels"]["ner"]["value"]
    assert stored == _spans(page) and stored[0]["class"] == "LOC"
    page.reload()
    page.wait_for_selector("#span-editor[data-editing='ner']")
    assert page.locator("#sp-text .sp-tag").count() == 2
    page.locator("#sp-text .sp-seg.sp-in", has_text="Grace").click()  # select Grace
    page.keyboard.press("2")  # a class key re-classes the selected span
    assert [s["class"] for s in _spans(page)] == ["LOC", "ORG"]
    page.locator("#sp-text .sp-tag[data-class='ORG'] .sp-x").click()  # × deletes Grace
    assert [s["class"] for s in _spans(page)] == ["LOC"]
    page.keyboard.press("Control+z")
    assert [s["class"] for s in _spans(page)] == ["LOC", "ORG"]
    page.keyboard.press("Control+Shift+z")
    page.keyboard.press("Control+s")
    page.wait_for_selector("#sp-status.ok")
    assert [s["class"] for s in ds.item("plain")["labels"]["ner"]["value"]] == ["LOC"]
    # A stale save: someone else saved since; the 409 message, nothing overwritten.
    ds.set_label("plain", [], layer="ner", author="bob")
    _select(page, text, 17, 21)  # "Rome"
    page.keyboard.press("Enter")
    page.wait_for_selector("#sp-message:not([hidden])")
    assert "changed since" in page.text_content("#sp-message")
    assert ds.item("plain")["labels"]["ner"]["value"] == []


def test_emoji_and_accent_offsets_are_code_points(page: Any, live: dict[str, Any]) -> None:
    ds = live["ds"]
    _open(page, live, "emoji", layer="nested")
    js = EMOJI.encode("utf-16-le")
    units = lambda s: len(s.encode("utf-16-le")) // 2  # noqa: E731
    paris = EMOJI.index("Paris")
    _select(page, EMOJI, units(EMOJI[:paris]), units(EMOJI[: paris + 5]))
    page.keyboard.press("3")
    # From inside the accent (after "Zoe", before the combining mark) with Alt: the whole
    # character is kept; word snapping makes it "Zoé".
    _select(page, EMOJI, 1, 3, alt=True)
    page.keyboard.press("1")
    # Nested spans: "José in Paris" over "Paris" (this layer allows overlap).
    jose = EMOJI.index("José")
    _select(page, EMOJI, units(EMOJI[:jose]), units(EMOJI[: paris + 5]))
    page.keyboard.press("5")
    page.keyboard.press("Enter")
    page.wait_for_selector("#sp-status.ok")
    stored = ds.item("emoji")["labels"]["nested"]["value"]
    # "oe" from inside the accent, with Alt: exact, grown over the combining mark.
    assert stored == [
        {"start": 1, "end": 4, "class": "PER"},
        {"start": jose, "end": paris + 5, "class": "WORK"},
        {"start": paris, "end": paris + 5, "class": "LOC"},
    ]
    assert page.evaluate("window.assaySpanEditor.offsets.slice(5, 6)") == "🎉"
    assert len(js) > 2 * len(EMOJI)  # the emoji really are two UTF-16 units
    # Two underline rows: the nested span sits on a row of its own.
    assert (
        page.evaluate(
            "getComputedStyle(document.getElementById('sp-text')).getPropertyValue('--rows')"
        )
        != "1"
    )


def _sign_in(browser: Any, live: dict[str, Any], user: str, password: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    tab = context.new_page()
    tab.goto(live["url"] + "/")
    tab.fill("input[name=username]", user)
    tab.fill("input[name=password]", password)
    tab.click("button[type=submit]")
    tab.wait_for_url(live["url"] + "/")
    return tab


def test_queue_and_a_blind_annotator_sees_only_their_layer(
    browser: Any, live: dict[str, Any]
) -> None:
    ds = live["ds"]
    tab = _sign_in(browser, live, "annotator", PASSWORD)
    try:
        tab.goto(f"{live['url']}/datasets/notes/label?layer=mine")
        tab.wait_for_selector("#span-queue[data-item-id]:not([data-item-id=''])")
        first = tab.get_attribute("#span-queue", "data-item-id")
        assert tab.evaluate("window.assaySpanEditor.layers.map((l) => l.layer)") == ["mine"]
        assert tab.locator("#sp-text .sp-tag").count() == 0  # nobody else's spans
        text = tab.evaluate("window.assaySpanEditor.offsets.text")
        _select(tab, text, 0, 2)
        tab.keyboard.press("1")
        tab.keyboard.press("Enter")
        tab.wait_for_selector(f"#span-queue:not([data-item-id='{first}'])")
        key = ds.item(int(first))["external_key"]
        stored = ds.item(key)["labels"]["mine"]["value"]
        assert stored and stored[0]["class"] == "PER" and stored[0]["start"] == 0
        tab.keyboard.press("s")  # skip: the next text, nothing written
        # A queue with nothing left says so, and offers nothing to save or skip.
        tab.goto(f"{live['url']}/datasets/notes/label?layer=mine&filter=split%3Dnone-such")
        tab.wait_for_selector("#queue-done")
        assert tab.is_hidden("#queue-save-next") and tab.is_hidden("#queue-skip")
        tab.goto(f"{live['url']}/datasets/notes/item/ner")
        tab.wait_for_selector("#span-editor[data-editing='mine']")
        assert tab.evaluate("window.assaySpanEditor.layers.map((l) => l.layer)") == ["mine"]
        assert "Charles Babbage" in tab.text_content("#sp-text")
        own = ds.item("ner")["labels"].get("mine", {}).get("value") or []
        assert tab.locator("#sp-text .sp-over").count() == 0  # no other layer's spans drawn
        assert tab.locator("#sp-text .sp-tag").count() == len(own)
    finally:
        tab.context.close()


def test_grid_highlights_and_the_screenshot(page: Any, live: dict[str, Any]) -> None:
    ds = live["ds"]
    page.goto(f"{live['url']}/datasets/notes/items?spans=ner")
    page.wait_for_selector("mark.span-mark")
    assert page.evaluate("window.__xss") is None
    assert XSS in page.text_content("#grid")  # shown as text, never run
    mark = page.locator("mark.span-mark").first
    assert mark.get_attribute("title") == "PER"
    colour = mark.evaluate("(m) => getComputedStyle(m).borderBottomColor")
    assert colour == "rgb(47, 111, 208)"  # PER's colour, the editor's
    mine = [("12 March 1843", "DATE"), ("Ada Lovelace", "PER"), ("Charles Babbage", "PER"),
            ("London", "LOC"), ("Analytical Engine", "WORK"), ("Taylor's Scientific Memoirs",
            "WORK"), ("Royal Society", "ORG"), ("Cambridge University Press", "ORG"),
            ("Cambridge", "LOC"), ("1989", "DATE")]  # fmt: skip
    ds.set_label("ner", [_at(NER, w, c) for w, c in mine], layer="nested", author="demo")
    page.set_viewport_size({"width": 1280, "height": 720})
    _open(page, live, "ner", layer="nested")
    page.locator("#sp-text .sp-tag[data-class='WORK']").first.click()
    page.wait_for_selector("#span-editor:not([data-selected=''])")
    page.mouse.move(0, 0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "span-editor.png"))
