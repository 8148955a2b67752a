"""Which annotation kinds have an editor on the pages, and where it lives.

The item page and the labeling queue include ``kinds/_<kind>_editor.html`` (and its script)
for each writable layer whose kind is listed here, instead of a branch per kind in the
templates. A kind adds its editor with one line: ``EDITORS["spans"] = Editor(...)``.
Class labels (the default kind) keep the label form and ``static/queue.js``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Editor:
    """A kind's editor: its partial (given ``editor_layer`` on the item page, ``queue`` in the
    labeling queue) and the scripts it needs, in load order."""

    template: str
    scripts: tuple[str, ...]
    #: True when the editor takes the item's own place on the item page (boxes drawn over the
    #: image, spans marked in the text) rather than a card among the value editors.
    in_place: bool = False


# The shell the value editors (tags, number, ...) share: loading, saving on the loaded
# version (``base``), conflicts, undo and the queue's stepping. Loaded after the kinds' scripts.
VALUE_SHELL = "/static/kinds.js"

EDITORS: dict[str, Editor] = {
    # The box editor draws over the image: the item page places it there (box_data), the
    # queue shows its own box queue; both predate this registry and keep their names.
    "boxes": Editor("_box_editor.html", ("/static/boxes.js",), in_place=True),
    # Spans are marked in the text itself: the item page shows every visible span layer in
    # one editor where the text is (span_data); the queue includes it for the chosen layer.
    "spans": Editor("kinds/_spans_editor.html", ("/static/spans.js",), in_place=True),
    "tags": Editor("kinds/_tags_editor.html", ("/static/tags.js", VALUE_SHELL)),
    "number": Editor("kinds/_number_editor.html", ("/static/number.js", VALUE_SHELL)),
}


# What a case about a kind shows of its evidence besides what every case shows (the review
# row): a kind adds its partial here. Tags, spans and boxes draw theirs from the evidence's
# own fields (``_case_evidence.html``).
CASE_EVIDENCE: dict[str, str] = {"number": "kinds/_number_evidence.html"}


# A layer's statistics card on the overview, by kind (from assay.stats.kind_stats); tags and
# spans predate this registry and keep their own lists (tag_stats, span_stats).
STATS_CARDS: dict[str, str] = {"number": "kinds/_number_stats.html"}


def case_evidence_of(value_kind: str | None) -> str | None:
    """The partial that draws a case's evidence of ``value_kind``, None when there is none."""
    return CASE_EVIDENCE.get(value_kind or "")


def editor_of(value_kind: str | None) -> Editor | None:
    """The editor of a kind, None for class labels and kinds without one."""
    return EDITORS.get(value_kind or "")


def scripts_for(kinds: list[str]) -> list[str]:
    """The scripts the editors of ``kinds`` need, each once, in order."""
    out: list[str] = []
    for kind in kinds:
        editor = EDITORS.get(kind)
        for script in editor.scripts if editor else ():
            if script not in out:
                out.append(script)
    # The shared shell last: it starts the editors the kinds' scripts registered.
    if VALUE_SHELL in out:
        out.remove(VALUE_SHELL)
        out.append(VALUE_SHELL)
    return out
