"""Predicted boxes evaluated against a truth box layer, over the web.

The predictions page and its JSON twin ask :func:`evaluation` when the run or layer they are
given holds boxes (:mod:`assay.web.views.predictions` dispatches). The numbers are the
library's (``ds.models.evaluate``: COCO mAP, per-class AP, PR curves, false positives and
negatives); this module adds what a page needs around them: for each listed error its item's
page and image, and the boxes to draw over it in the shape ``_box_figures.html`` takes, and the
geometry of the precision-recall chart (drawn as SVG by the template, no script).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from assay.dataset import Dataset
from assay.errors import InvalidParameter
from assay.models import box_evaluation
from assay.store import reads
from assay.web.auth import Principal
from assay.web.rendering import LAYER_COLOURS
from assay.web.state import AppState
from assay.web.urls import item_page_url, media_url

PLOT = {"width": 300, "height": 240, "pad": 36}  # the PR chart's area and margin, SVG units
MAX_CLASS_CURVES = len(LAYER_COLOURS)  # per-class curves drawn (the rest are in the table)


def default_reference(dataset: Dataset, layer: str, visible: Collection[str]) -> str | None:
    """The truth layer a box layer is evaluated against when none is named: the library's
    choice if the user sees it, else the first other box layer they see, else None."""
    with dataset.store.read() as conn:
        try:
            name = box_evaluation.default_reference(conn, dataset.id, layer)
        except InvalidParameter:  # no box layer at all: the page says so
            return None
        if name in visible:
            return name
        return next(
            (n for n in visible if n != layer and box_evaluation.is_box_layer(conn, dataset.id, n)),
            None,
        )


def evaluation(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    *,
    run: str,
    layer: str,
    reference: str,
    filter: str | None,
    score_threshold: float,
) -> dict[str, Any]:
    """The box evaluation of ``run`` (predictions in ``layer``) against ``reference`` on the
    slice, with links and figures for each error. The caller has checked that the user sees
    both layers and may use the filter."""
    key = (
        "box-predictions",
        dataset.id,
        run,
        reference,
        filter or None,
        float(score_threshold),
        reads.data_version(dataset.store, dataset.id),
    )

    def compute() -> dict[str, Any]:
        return dataset.models.evaluate(
            run, filter or None, reference_layer=reference, score_threshold=score_threshold
        )

    result = dict(state.stats.get(key, compute))
    fps, fns = result["false_positives"], result["false_negatives"]
    ids = sorted({e["item_id"] for e in fps + fns})
    boxes = box_evaluation.image_boxes(dataset, reference, layer, ids)
    links = {
        int(row["id"]): row
        for row in reads.items_by_ids(dataset.store, dataset.id, ids)
    }  # fmt: skip

    def shaped(entry: dict[str, Any], false_positive: bool) -> dict[str, Any]:
        row = links.get(entry["item_id"], {})
        image = boxes.get(entry["item_id"], {})
        image_ok = row.get("kind") == "image"
        if false_positive:  # the box no truth box matched, over what is really there
            others = image.get("truth", [])
            figure_layer, note = layer, "truth"
        else:  # the truth box nothing found, under what the model predicted there
            others = [b for b in image.get("predicted", []) if b.get("score", 0) >= score_threshold]
            figure_layer, note = reference, "predicted"
        regions = [
            {"x": b["x"], "y": b["y"], "w": b["w"], "h": b["h"], "class": b["class"],
             "note": note if "score" not in b else f"{note} p={b['score']:.2f}"}
            for b in others
        ]  # fmt: skip
        return {
            **entry,
            "item_url": item_page_url(dataset.name, entry["item_id"], row.get("external_key")),
            "item": {
                "media_url": media_url(dataset.name, entry["item_id"]) if image_ok else None,
                "width": image.get("width"),
                "height": image.get("height"),
                "key": entry["key"],
            },
            "figures": [
                {
                    "layer": figure_layer,
                    "boxes": [entry["box"]],
                    "highlight": [entry["box"]["id"]],
                    "regions": regions,
                }
            ],
        }

    return {
        "ok": True,
        **result,
        "layer": layer,
        "reference_layer": reference,
        "filter": filter or None,
        "false_positives": [shaped(e, True) for e in fps],
        "false_negatives": [shaped(e, False) for e in fns],
    }


def pr_plot(curves: dict[str, Any]) -> dict[str, Any]:
    """SVG geometry of the precision-recall chart at IoU 0.5: the overall curve (the mean over
    classes, whose area is AP50) and one thin line per class, coloured like box layers."""
    width, height, pad = PLOT["width"], PLOT["height"], PLOT["pad"]

    def x(v: float) -> float:
        return round(pad + v * width, 1)

    def y(v: float) -> float:
        return round(pad / 2 + (1 - v) * height, 1)

    recall = curves.get("recall") or []

    def line(values: list[float]) -> str:
        return " ".join(f"{x(r)},{y(p)}" for r, p in zip(recall, values, strict=False))

    classes = [
        {
            "name": name,
            "colour": LAYER_COLOURS[k % len(LAYER_COLOURS)],
            "line": line(values),
        }
        for k, (name, values) in enumerate(list(curves.get("per_class", {}).items()))
    ][:MAX_CLASS_CURVES]
    ticks = [{"v": f"{v / 5:.1f}", "x": x(v / 5), "y": y(v / 5)} for v in range(6)]
    return {
        "width": pad + width + 12,
        "height": pad / 2 + height + pad,
        "left": x(0),
        "right": x(1),
        "top": y(1),
        "bottom": y(0),
        "overall": line(curves.get("overall") or []),
        "classes": classes,
        "ticks": ticks,
    }
