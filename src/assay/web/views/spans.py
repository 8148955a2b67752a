"""Spans as the span editor, its overlays and the grid show them: a text item's spans in every
span layer the user may see (one read), a whole span set saved on the version the editor
loaded, and one span layer's spans over a page of grid rows, highlighted in the text preview.

Every rule about spans (offsets in code points, inside the text, never splitting a character,
overlap only where the layer allows it, known classes) is the library's
(``assay.labels.kinds.spans.span_set``); a stale save is a Conflict (409) through
``LabelWrite.base``; who may see or write a layer is ``Viewer``'s (blind annotators see only
their own layers).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from assay.dataset import Dataset
from assay.labels.writes import current_labels_of
from assay.web.auth import Principal
from assay.web.rendering import layer_colour
from assay.web.state import AppState
from assay.web.views.datasets import layer_out
from assay.web.views.layer_values import (
    class_keys,
    layers_of_kind,
    page_layer_values,
    save_on_base,
    saved,
)

SPANS = "spans"
#: Characters of context a grid preview keeps before its first span, and its length.
PREVIEW_BEFORE = 40
PREVIEW_LENGTH = 240


def span_layer_rows(who: Principal, dataset: Dataset) -> list[Any]:
    """The span layers the user may see, oldest first."""
    return layers_of_kind(who, dataset, SPANS)


def layer_entry(who: Principal, row: Any, head: dict[str, Any] | None) -> dict[str, Any]:
    """One span layer of one item: its spans, the label id they are (the editor's ``base``,
    0 when the item has no label there), whether spans may overlap, its colour and whether
    the user may edit it."""
    shown = layer_out(who, row)
    head = head or {}
    created = head.get("created_at")
    return {
        "layer": row.name,
        **{k: shown[k] for k in ("kind", "owner", "frozen", "can_write")},
        "overlap": bool((shown.get("options") or {}).get("overlap")),
        "colour": layer_colour(row.name),
        "label_id": int(head.get("id") or 0),
        "labeled": head.get("value") is not None,
        "spans": head.get("value") or [],
        "author": head.get("author"),
        "created_at": created.isoformat() if isinstance(created, datetime) else created,
    }


def item_spans(
    state: AppState, who: Principal, dataset: Dataset, item: dict[str, Any]
) -> dict[str, Any]:
    """A text item's spans in every span layer the user may see (one read of the label
    heads), with its text, the dataset's classes and, per layer the user may edit, the keys
    that pick classes. ``item`` is the item's public record (id, key, text)."""
    del state
    rows = span_layer_rows(who, dataset)
    item_id = int(item["id"])
    heads = current_labels_of(dataset.store, dataset.id, [item_id], [r.id for r in rows])
    current = heads.get(item_id, {})
    layers = [layer_entry(who, r, current.get(r.id)) for r in rows]
    keys = class_keys(dataset, layers)
    return {
        "ok": True,
        "dataset": dataset.name,
        "item": {
            "id": item_id,
            "key": item.get("key", item.get("external_key")),
            "text": item.get("text"),
        },
        "classes": dataset.classes(),
        "keys": keys,
        "layers": layers,
    }


async def save_spans_async(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    item_id: int,
    *,
    layer: str,
    spans: list[dict[str, Any]],
    base: int,
    note: str | None = None,
    idempotency_key: str | None = None,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """Write a text's whole span set in ``layer`` as the signed-in user, made on the version
    ``base`` (the label id the editor loaded, 0 for none): a stale base is a Conflict. The
    answer holds the spans as stored (sorted)."""
    label_id, written, row, head = await save_on_base(
        state, who, dataset, item_id, layer, spans,
        base=base, note=note, idempotency_key=idempotency_key, timeout_s=timeout_s,
    )  # fmt: skip
    entry = layer_entry(who, row, head)
    return saved(item_id, layer, label_id, written, entry, {"spans": spans})


def page_spans(
    who: Principal,
    dataset: Dataset,
    layer: str,
    item_ids: Sequence[int],
    visible: Sequence[Any] | None = None,
) -> dict[int, list[dict[str, Any]]]:
    """The spans of ``layer`` for a page of items (item id -> spans; items without a label
    there are left out), in one read: the grid's highlights."""
    values: dict[int, list[dict[str, Any]]] = page_layer_values(
        who,
        dataset,
        layer,
        item_ids,
        SPANS,
        "not spans: choose a span layer to highlight in the text previews.",
        visible,
    )
    return values


#: Highlight colours of span classes, by the class's place in the dataset's classes (the
#: pages' CSP refuses style attributes: the grid picks them with ``data-c``, static/spans.css).
PALETTE_SIZE = 10


def preview_html(
    text: str,
    spans: Sequence[dict[str, Any]],
    classes: Sequence[str],
    *,
    before: int = PREVIEW_BEFORE,
    length: int = PREVIEW_LENGTH,
) -> Markup:
    """A text preview with ``spans`` highlighted (``<mark>`` titled with the class), cut to
    ``length`` characters starting a little before the first span, an ellipsis where text is
    left out. Text and class names are escaped (both are user data).

    Built here rather than in the template: marks must be nested per offset, and a Jinja
    loop over characters would be slow and hard to keep escaped. Overlapping spans (a layer
    with ``overlap``) are shown as the outermost span of each run, each nested class in its
    title, so a preview never breaks its markup.
    """
    first = min((int(s["start"]) for s in spans), default=0)
    lo = max(0, first - before) if first > before else 0
    if lo:  # start at a word edge: no half word after the ellipsis
        space = text.rfind(" ", lo - 15 if lo > 15 else 0, lo + 1)
        lo = space + 1 if space >= 0 else lo
    hi = min(len(text), lo + length)
    place = {c: i % PALETTE_SIZE for i, c in enumerate(classes)}
    parts: list[str] = ["…" if lo else ""]
    at = lo
    runs: list[tuple[int, int, list[str]]] = []  # merged overlapping spans: start, end, classes
    for s in sorted(spans, key=lambda s: (s["start"], -s["end"])):
        start, end = int(s["start"]), int(s["end"])
        if runs and start < runs[-1][1]:
            runs[-1] = (runs[-1][0], max(runs[-1][1], end), [*runs[-1][2], s["class"]])
        else:
            runs.append((start, end, [s["class"]]))
    for start, end, names in runs:
        if end <= lo or start >= hi:
            continue
        start, end = max(start, lo), min(end, hi)
        parts.append(str(escape(text[at:start])))
        title = escape(" + ".join(dict.fromkeys(names)))
        parts.append(
            f'<mark class="span-mark" data-c="{place.get(names[0], 0)}" title="{title}">'
            f'{escape(text[start:end])}<span class="span-class">{escape(names[0])}</span></mark>'
        )
        at = end
    parts.append(str(escape(text[at:hi])))
    if hi < len(text):
        parts.append("…")
    return Markup("".join(parts))
