"""The labeling queue page: one item at a time, labeled with the keyboard
(``static/queue.js`` calls the API), into a layer the user may write."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from assay.web import kinds as web_kinds
from assay.web.auth import Labeler
from assay.web.rendering import render
from assay.web.state import app_state
from assay.web.urls import q
from assay.web.views import datasets, labeling
from assay.web.views.datasets import open_dataset

router = APIRouter(include_in_schema=False)
TextParam = Annotated[str, Query(max_length=2000)]
NameParam = Annotated[str, Query(max_length=200)]


@router.get("/datasets/{name}/label")
def labeling_queue(
    request: Request, name: str, who: Labeler, layer: NameParam = "", filter: TextParam = ""
) -> Response:
    """One item at a time, labeled with the keyboard, into a layer the user may write."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    detail = datasets.dataset_detail(state, who, dataset, count=False)
    layers = labeling.queue_layers(state, who, dataset)
    names = [la["name"] for la in layers]
    if layer:
        who.viewer.writable_layer(dataset, layer)  # 403 / 404 before the page
        if layer not in names:
            layers.append(next(la for la in detail["layers"] if la["name"] == layer))
    else:
        # Only the user's own layer by default: another's is chosen on purpose, never by chance.
        own = [la["name"] for la in layers if la["owner"] == who.user.username]
        layer = own[0] if own else ""
    current = dataset.suggestions.current(layer) if layer else None
    chosen = next((la for la in layers if la["name"] == layer), None)
    context = {
        "ds": detail,
        "layers": layers,
        "layer": layer,
        "filter": filter,
        "keys": labeling.class_keys(dataset, layer) if layer else [],
        "own_name": who.user.username,
        "suggestions": current.to_dict() if current else None,
        # A box layer is labeled in the box editor (static/boxes.js), one image after another.
        "value_kind": chosen["value_kind"] if chosen else None,
    }
    # Other kinds with an editor (tags, number, ...): its partial and scripts (web/kinds.py).
    value_kind = str(chosen["value_kind"]) if chosen else ""
    editor = web_kinds.editor_of(value_kind)
    context.update(editor=None, editor_scripts=[], chosen=None)
    if chosen is not None and editor is not None and value_kind != "boxes":
        shown = {k: chosen.get(k) for k in ("name", "value_kind", "owner", "options")}
        if value_kind == "tags":  # the tag set, with the keys that toggle each tag
            shown["classes"] = [{"name": c, "key": k} for k, c in dataset.class_keys(layer)]
        context.update(
            editor=editor, editor_scripts=web_kinds.scripts_for([value_kind]), chosen=shown
        )
    return render(request, "label_queue.html", context)


@router.post("/datasets/{name}/label/layer")
def labeling_queue_layer(
    request: Request,
    name: str,
    who: Labeler,
    layer: Annotated[str, Form(min_length=1, max_length=200)],
) -> Response:
    """Create a human layer owned by the signed-in user, then open the queue on it."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    made = labeling.create_layer(state, who, dataset, layer, owner=who.user.username)
    query = urlencode({"layer": made["layer"]["name"]})
    return RedirectResponse(f"/datasets/{q(name)}/label?{query}", 303)
