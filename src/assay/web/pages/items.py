"""The items pages: the grid (filtered by split, class, prediction, confidence, review case
or any filter expression), one item large, and the item page's label form.

Like every module of ``pages/``, a page renders what its ``views/`` module computes for the
JSON twin in ``api/``: server-rendered Jinja templates over the same dicts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from assay.dataset import VALUE_SORT
from assay.errors import AssayError, InvalidParameter
from assay.labels.kinds import get_kind
from assay.store import reads
from assay.store.queries import MAX_PAGE
from assay.store.vocabulary import CASE_REASONS
from assay.web import kinds as web_kinds
from assay.web.auth import Labeler, Reader
from assay.web.errors import status_of
from assay.web.params import Id
from assay.web.rendering import render
from assay.web.state import app_state
from assay.web.urls import API_PREFIX, item_page_url, q
from assay.web.views import boxes as box_views
from assay.web.views import datasets, items, kind_values
from assay.web.views import spans as span_views
from assay.web.views.datasets import open_dataset
from assay.web.views.item_insights import insights
from assay.web.views.review import open_cases_for_item

router = APIRouter(include_in_schema=False)
TextParam = Annotated[str, Query(max_length=2000)]
GRID_PAGE = 96
CASE_FILTERS = ("any", *CASE_REASONS)


def compose_filter(
    split: str,
    label: str,
    layer: str,
    extra: str,
    *,
    model: str = "",
    predicted: str = "",
    below: float | None = None,
    case: str = "",
) -> str:
    """The filter string the grid's form fields stand for.

    ``model``/``predicted`` select a model layer's prediction, ``below`` items whose label in
    the model layer (or else the chosen layer; with neither the library refuses, naming the
    models to choose from) is less sure than that, ``case`` items with an
    open review case of that reason (``disagreement``, ``mislabel``, ... or ``any``).
    """
    parts = []
    if split:
        parts.append(f"split={split}")
    if label:
        parts.append(f"label[{layer}]={label}" if layer else f"label={label}")
    if model and predicted:
        parts.append(f"label[{model}]={predicted}")
    if below is not None:
        # Without a model or a layer the library says that no model was chosen.
        chosen = model or layer
        parts.append(f"confidence[{chosen}]<{below:g}" if chosen else f"confidence<{below:g}")
    if case:
        parts.append(f"case={case}")
    if extra.strip():
        parts.append(extra.strip())
    return ", ".join(parts)


def _threshold(text: str) -> float | None:
    """The grid's "confidence below" field: empty for none, else a number in [0, 1]."""
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise InvalidParameter(f"Confidence below must be a number from 0 to 1, not {text!r}.")
    return value


# The grid's tile sizes (thumbnail pixels) and the page sizes its control offers.
TILE_SIZES = {"s": 64, "m": 96, "l": 160}
PAGE_SIZES = (48, 96, 192, 480)
SORT_NAMES = {
    "added": "added (oldest first)",
    "newest": "added (newest first)",
    "key": "key",
    "quality": "label quality (worst first)",
    "loss": "loss (highest first)",
    "confidence": "confidence (least sure first)",
}


@router.get("/datasets/{name}/items")
def grid(
    request: Request,
    name: str,
    who: Reader,
    filter: TextParam = "",
    split: TextParam = "",
    label: TextParam = "",
    layer: TextParam = "",
    model: TextParam = "",
    predicted: TextParam = "",
    below: Annotated[str, Query(max_length=20)] = "",  # a number; the form sends "" for none
    case: Annotated[str, Query(max_length=20)] = "",
    boxes: TextParam = "",
    spans: TextParam = "",
    sort: Annotated[str, Query(max_length=220)] = "added",  # value:LAYER too
    size: Annotated[Literal["s", "m", "l"], Query()] = "m",
    after: Annotated[str, Query(max_length=700)] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = GRID_PAGE,
) -> Response:
    """The items grid: thumbnails for images, rows for text and tables, filtered by split,
    class in a layer, prediction, confidence, open review case (disagreement, label issue)
    and any filter expression (metadata, fields, a saved selection); sorted by when items
    were added, key, label quality, loss or a model's confidence; each tile with the chosen
    model's prediction, right or wrong, and its confidence; with the total count."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    detail = datasets.dataset_detail(state, who, dataset, count=False)
    try:
        threshold, problem = _threshold(below), None
    except InvalidParameter as exc:
        threshold, problem = None, exc
    full = compose_filter(
        split, label, layer, filter, model=model, predicted=predicted, below=threshold, case=case
    )
    form = {
        "filter": filter, "split": split, "label": label, "layer": layer, "model": model,
        "predicted": predicted, "below": below, "case": case, "sort": sort, "size": size,
        "limit": limit, "boxes": boxes, "spans": spans,
    }  # fmt: skip
    defaults = {"sort": "added", "size": "m", "limit": GRID_PAGE}
    kept = {k: v for k, v in form.items() if v not in ("", None) and defaults.get(k) != v}
    # What the item page needs to step through this grid: its filter, order and model.
    stepping = {"filter": full, "sort": sort if sort != "added" else "", "model": model}
    item_query = urlencode({k: v for k, v in stepping.items() if v})
    box_rows = box_views.box_layer_rows(who, dataset)
    value_rows = kind_values.value_layer_rows(who, dataset, limit=None)  # each may sort
    context: dict[str, Any] = {
        "ds": detail,
        "form": form,
        "case_reasons": CASE_FILTERS,
        # ... and per number layer its values, highest first ("value:LAYER").
        "sorts": {
            **SORT_NAMES,
            **{
                f"{VALUE_SORT}{r.name}": f"value of {r.name} (highest first)"
                for r in value_rows
                if r.value_kind == "number"
            },
        },
        "tile_sizes": TILE_SIZES,
        "tile_px": TILE_SIZES[size],
        "page_sizes": sorted({*PAGE_SIZES, limit}),
        # The form's fields for the next page's link (each followed by "&").
        "next_query": "".join(f"{urlencode({k: v})}&" for k, v in kept.items()),
        "full_filter": full,
        "error": None,
        "page": None,
        "box_layers": [r.name for r in box_rows],
        "span_layers": [r.name for r in span_views.span_layer_rows(who, dataset)],
    }
    try:
        if problem is not None:
            raise problem
        page = items.items_page(
            state, who, dataset, filter=full, layer=layer or None, after=after or None,
            limit=limit, sort=sort, model=model or None, count=True,
        )  # fmt: skip
        # Tags and values of the tags and number layers as columns: one read for the page.
        values = kind_values.page_values(
            who,
            dataset,
            kind_values.value_layer_rows(who, dataset),
            [i["id"] for i in page["items"]],
        )
        for it in page["items"]:
            it["values"] = values.get(it["id"], [])
        if boxes:  # the chosen box layer drawn over the thumbnails: one read for the page
            ids = [it["id"] for it in page["items"]]
            drawn = box_views.page_boxes(who, dataset, boxes, ids, box_rows)
            for it in page["items"]:
                it["boxes"] = drawn.get(it["id"], [])
                if it.get("width") and it.get("height"):
                    it["boxes_svg"] = box_views.tile_svg(
                        it["boxes"], it["width"], it["height"], boxes
                    )
        if spans:  # the chosen span layer highlighted in the text previews: one read
            marked = span_views.page_spans(who, dataset, spans, [it["id"] for it in page["items"]])
            classes = dataset.classes()
            for it in page["items"]:
                if it.get("text") is not None and it["id"] in marked:
                    it["spans_html"] = span_views.preview_html(
                        it["text"], marked[it["id"]], classes
                    )
    except AssayError as exc:  # a bad filter: show the form again with the message
        if status_of(exc) != 422 and status_of(exc) != 404:
            raise
        context["error"] = str(exc)
        return render(request, "items.html", context, status_of(exc))
    for it in page["items"]:
        url = item_page_url(dataset.name, it["id"], it["key"])
        it["page_url"] = f"{url}?{item_query}" if item_query else url
    context["page"] = page
    return render(request, "items.html", context)


@router.get("/datasets/{name}/item/{key:path}")
def item_page(
    request: Request,
    name: str,
    key: str,
    who: Reader,
    filter: TextParam = "",
    sort: Annotated[str, Query(max_length=220)] = "added",  # value:LAYER too
    model: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """One item large, by its key, with every visible layer's current label, the models'
    predictions, its conformal set, its nearest neighbours and its history. The query string
    from the grid (its filter, and whatever else it carries) goes on to the previous and next
    items (links and the arrow keys) and back to the grid."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    item_id = reads.item_id_by_key(dataset.store, dataset.id, key)
    detail = items.item_detail(
        state, who, dataset, item_id, filter or None, sort=sort, model=model or None
    )
    history = items.label_history(state, who, dataset, item_id)["history"]
    history.sort(key=lambda h: (h["created_at"], h["id"]), reverse=True)  # newest first
    writable = [la["layer"] for la in detail["labels"] if la["can_write"]]
    context = {
        "ds": {"name": dataset.name},
        "d": detail,
        "filter": filter,
        "query": request.url.query,
        "history": history,
        "insights": insights(state, who, dataset, item_id),
        "open_cases": open_cases_for_item(state, who, dataset, item_id),
        # Per writable layer, {class: key} (the label form's keys, as the labeling queue's).
        "class_keys": {
            layer: {c: k for k, c in dataset.class_keys(layer) if k} for layer in writable
        },
    }
    context["box_data"] = _box_data(state, who, dataset, detail["item"])
    context.update(_value_editors(who, dataset, item_id, detail, history))
    context["span_data"] = _span_data(state, who, dataset, detail["item"])
    return render(request, "item.html", context)


def _value_editors(
    who: Any, dataset: Any, item_id: int, detail: dict[str, Any], history: list[dict[str, Any]]
) -> dict[str, Any]:
    """The item page's editors of kinds other than class labels and boxes (web/kinds.py), the
    kinds the class-label form leaves out, and each history entry's change from the version
    before it in the kind's words (tags added and removed, a value changed by how much)."""
    editors = kind_values.editor_layers(who, dataset, item_id)
    for entry in editors:
        entry["template"] = web_kinds.EDITORS[entry["value_kind"]].template
    value_kinds = {la["layer"]: la.get("value_kind") for la in detail["labels"]}
    newer: dict[str, dict[str, Any]] = {}  # layer -> the version seen last
    for h in reversed(history):  # oldest first
        kind = value_kinds.get(h["layer"])
        if kind and not get_kind(kind).stores_class:
            before = newer.get(h["layer"], {}).get("value")
            h["change"] = get_kind(kind).diff(before, h.get("value"))
        newer[h["layer"]] = h
    return {
        "value_editors": editors,
        "editor_kinds": sorted(web_kinds.EDITORS),
        "editor_scripts": web_kinds.scripts_for([e["value_kind"] for e in editors]),
    }


def _box_data(state: Any, who: Any, dataset: Any, item: dict[str, Any]) -> dict[str, Any] | None:
    """What the item page's box editor loads (None when the item is not an image or the
    dataset has no box layer the user may see): the same JSON as the API's item boxes."""
    if item.get("kind") != "image" or not item.get("width") or not item.get("height"):
        return None
    data = box_views.item_boxes(state, who, dataset, item)
    if not data["layers"]:
        return None
    url = f"{API_PREFIX}/datasets/{q(dataset.name)}/items/{item['id']}/boxes"
    return {**data, "save_url": url, "boxes_url": url}


def _span_data(state: Any, who: Any, dataset: Any, item: dict[str, Any]) -> dict[str, Any] | None:
    """What the item page's span editor loads (None when the item has no text or the dataset
    has no span layer the user may see): the same JSON as the API's item spans."""
    if item.get("text") is None:
        return None
    data = span_views.item_spans(state, who, dataset, item)
    if not data["layers"]:
        return None
    url = f"{API_PREFIX}/datasets/{q(dataset.name)}/items/{item['id']}/spans"
    return {**data, "save_url": url, "spans_url": url}


@router.get("/datasets/{name}/items/{item_id}")
def item_page_by_id(request: Request, name: str, item_id: Id, who: Reader) -> Response:
    """The item page's old address, by numeric id: unambiguous (an id names one item), so it
    redirects to the page by key (307, not cached: an id may name another item after an
    import is undone), its query string kept."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    key = reads.item(dataset.store, dataset.id, item_id)["external_key"]
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(item_page_url(dataset.name, item_id, key) + query, 307)


CLEAR = "__clear__"


@router.post("/datasets/{name}/items/{item_id}/labels")
def item_label_submit(
    request: Request,
    name: str,
    item_id: Id,
    who: Labeler,
    layer: Annotated[str, Form(max_length=200)] = "",
    label: Annotated[str, Form(max_length=200)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    filter: Annotated[str, Form(max_length=2000)] = "",
    query: Annotated[str, Form(max_length=4000)] = "",
    go: Annotated[str, Form(max_length=10)] = "stay",
) -> Response:
    """The item page's label form: write the label, then show this item or the next one.

    Nothing is preselected: the layer and the class (or "clear") must be chosen, else 422
    and nothing is written. ``query``: the page's query string, carried on."""
    if not layer or not label:
        missing = " and ".join(w for w, v in (("layer", layer), ("class", label)) if not v)
        raise InvalidParameter(
            f"Choose the {missing} to write: nothing is chosen for you, so a label never lands "
            "in a layer or class by default. Nothing was written."
        )
    state = app_state(request)
    dataset = open_dataset(state, name)
    who.viewer.check_filter(dataset, filter)  # "next" must not probe a hidden layer
    value = None if label == CLEAR else label
    items.write_label(state, who, dataset, item_id, layer=layer, label=value, note=note or None)
    target = item_id
    if go == "next":
        target = reads.neighbours(dataset.store, dataset.id, item_id, filter or None)[1] or item_id
    key = reads.item(dataset.store, dataset.id, target)["external_key"]
    if not query and filter:
        query = urlencode({"filter": filter})
    return RedirectResponse(
        item_page_url(dataset.name, target, key) + (f"?{query}" if query else ""), 303
    )
