"""The predictions page: a model run evaluated against a reference layer, server-rendered.

It renders what :mod:`assay.web.views.predictions` computes for the API (summary metrics, per-class
table, confusion matrix whose cells open the items grid, reliability plot, errors by loss,
conformal coverage, likely label issues). Everything is HTML and SVG from the template: no
script, so nothing a user named (classes, layers) ever reaches the page unescaped.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from assay.dataset import Dataset
from assay.errors import AssayError
from assay.web.auth import Principal, Reader
from assay.web.errors import Forbidden, status_of
from assay.web.rendering import render
from assay.web.state import AppState, app_state
from assay.web.views import box_predictions, datasets, predictions
from assay.web.views.datasets import open_dataset

router = APIRouter(include_in_schema=False)
TextParam = Annotated[str, Query(max_length=2000)]
NameParam = Annotated[str, Query(max_length=200)]
SHADES = 10  # confusion cells are shaded in this many steps (CSS classes, no inline style)
N_ISSUES = 12  # items per page of the likely-label-issues card
CursorParam = Annotated[str, Query(max_length=100)]
PLOT = {"size": 260, "pad": 36}  # reliability plot: square area and margin, in SVG units


def confusion_rows(confusion: dict[str, Any]) -> list[dict[str, Any]]:
    """The matrix as rows of cells (count, link, shade step, diagonal or not) for the table."""
    classes = confusion["classes"]
    matrix = confusion["matrix"]
    top = max([max(row) for row in matrix] + [1])
    urls = {(c["true"], c["pred"]): c.get("url") for c in confusion["cells"]}
    rows = []
    for i, name in enumerate(classes):
        cells = []
        for j, pred in enumerate(classes):
            n = int(matrix[i][j])
            shade = 0 if n == 0 else 1 + min(SHADES - 1, int((SHADES - 1) * n / top))
            cells.append(
                {
                    "count": n,
                    "pred": pred,
                    "url": urls.get((name, pred)) if n else None,
                    "shade": shade,
                    "diag": i == j,
                }
            )
        rows.append({"name": name, "cells": cells, "total": sum(int(v) for v in matrix[i])})
    return rows


def reliability_plot(calibration: dict[str, Any]) -> dict[str, Any]:
    """SVG geometry of the reliability diagram: one bar per confidence bin (height: accuracy),
    the mean confidence of each bin as a point, and the diagonal of perfect calibration."""
    size, pad = PLOT["size"], PLOT["pad"]

    def x(v: float) -> float:
        return round(pad + v * size, 1)

    def y(v: float) -> float:
        return round(pad / 2 + (1 - v) * size, 1)

    bars, points = [], []
    for b in calibration["curve"]:
        acc, conf = b["accuracy"], b["confidence"]
        bars.append(
            {
                "x": x(b["low"]) + 1,
                "y": y(acc),
                "width": round((b["high"] - b["low"]) * size - 2, 1),
                "height": round(acc * size, 1),
                "title": f"{b['low']:.1f}–{b['high']:.1f}: accuracy {acc:.3f}, "
                f"mean confidence {conf:.3f}, {b['count']} items",
            }
        )
        points.append({"cx": x(conf), "cy": y(acc)})
    ticks = [{"v": f"{v / 5:.1f}", "x": x(v / 5), "y": y(v / 5)} for v in range(6)]
    return {
        "width": pad + size + 12,
        "height": pad / 2 + size + pad,
        "left": x(0),
        "right": x(1),
        "top": y(1),
        "bottom": y(0),
        "bars": bars,
        "points": points,
        "line": " ".join(f"{p['cx']},{p['cy']}" for p in points),
        "ticks": ticks,
    }


def issue_links(
    keep: dict[str, str], whole: bool, after: str, next_page: str | None
) -> dict[str, Any]:
    """URLs of the label-issues card: its two views (only the flagged items, or the whole
    ranking past the cut), and its first and next pages; ``keep`` holds the page's other
    query parameters."""

    def url(**params: str | None) -> str:
        query = urlencode({k: v for k, v in {**keep, **params}.items() if v})
        return f"?{query}#issues-card"

    view = "1" if whole else None
    return {
        "whole": whole,
        "flagged_url": url(),
        "whole_url": url(issues_all="1"),
        "first_url": url(issues_all=view) if after else None,
        "next_url": url(issues_all=view, issues_after=next_page) if next_page else None,
    }


def _references(detail: dict[str, Any], source_layer: str | None) -> list[str]:
    """Layers to evaluate against: the visible non-model layers, then model layers."""
    layers = [la for la in detail["layers"] if la["name"] != source_layer]
    layers.sort(key=lambda la: la["kind"] == "model")
    return [la["name"] for la in layers]


@router.get("/datasets/{name}/predictions")
def predictions_page(
    request: Request,
    name: str,
    who: Reader,
    run: NameParam = "",
    reference: NameParam = "",
    filter: TextParam = "",
    coverage: Annotated[float, Query(gt=0.0, lt=1.0)] = 0.9,
    issues_after: CursorParam = "",
    issues_all: bool = False,
    issues_run: NameParam = "",
    score_threshold: Annotated[float, Query(ge=0.0, le=1.0)] = 0.5,
) -> Response:
    """A model run against a reference layer: metrics, confusion matrix, calibration,
    errors by loss, conformal coverage and likely label issues of the latest label-issue
    search (or of model run ``issues_run``), paged with ``issues_after``; ``issues_all`` for
    the whole ranking past the cut."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    detail = datasets.dataset_detail(state, who, dataset, count=False)
    runs = predictions.list_runs(who, dataset)
    chosen = run or predictions.default_run(runs) or ""
    source_layer = next((r["layer"] for r in runs if r["name"] == chosen), chosen or None)
    references = _references(detail, source_layer)
    kinds = {la["name"]: la.get("value_kind") for la in detail["layers"]}
    box = kinds.get(source_layer or "") == "boxes"  # box predictions: COCO's metrics
    if kinds.get(source_layer or "") == "spans":  # span predictions: entity-level scores
        references = [name for name in references if kinds.get(name) == "spans"]
    if box:
        references = [name for name in references if kinds.get(name) == "boxes"]
        if not reference and source_layer:
            reference = box_predictions.default_reference(dataset, source_layer, references) or ""
    if not reference:
        reference = "ground_truth" if "ground_truth" in references else next(iter(references), "")
    context: dict[str, Any] = {
        "ds": detail,
        "runs": runs,
        "run": chosen,
        "references": references,
        "reference": reference,
        "filter": filter,
        "coverage": coverage,
        "ev": None,
        "error": None,
        "matrix": None,
        "plot": None,
        "issues": None,
        "box": box,
        "score_threshold": score_threshold,
        "pr": None,
        "box_layers": [
            la["name"] for la in detail["layers"]
            if la.get("value_kind") == "boxes" and la["kind"] == "model"
            and la["name"] not in {r["layer"] for r in runs}
        ],
    }  # fmt: skip
    status = 200
    if chosen and reference:
        try:
            ev = predictions.evaluation(
                state,
                who,
                dataset,
                run=chosen,
                reference=reference,
                filter=filter or None,
                coverage=coverage,
                score_threshold=score_threshold,
            )
        except AssayError as exc:  # nothing to evaluate, a bad filter: say so on the page
            if status_of(exc) != 422:
                raise
            context["error"] = str(exc)
            status = 422
        else:
            context.update(
                ev=ev, matrix=confusion_rows(ev["confusion"]) if "confusion" in ev else None
            )
            if ev.get("kind") in ("spans", "number"):  # drawn by kinds/_<kind>_predictions.html
                pass
            elif ev.get("kind") == "boxes":
                context["pr"] = box_predictions.pr_plot(ev["pr_curves"])
            elif ev.get("kind") != "tags":  # tags: per-tag metrics, kinds/_tags_predictions.html
                context["plot"] = reliability_plot(ev["calibration"])
    context["issues"] = _issues(state, who, dataset, issues_after, issues_all, issues_run)
    keep = {"run": run, "reference": reference, "filter": filter, "issues_run": issues_run}
    keep["coverage"] = "" if coverage == 0.9 else repr(coverage)
    keep["score_threshold"] = "" if score_threshold == 0.5 else repr(score_threshold)
    context["issue_links"] = issue_links(
        keep, issues_all, issues_after, context["issues"].get("next")
    )
    return render(request, "predictions.html", context, status)


def _issues(
    state: AppState, who: Principal, dataset: Dataset, after: str, whole: bool, run: str
) -> dict[str, Any]:
    """One page of the label-issues card, or its error in words (no search, blind mode...)."""
    try:
        return predictions.issues(
            state, who, dataset, run=run or None, limit=N_ISSUES, after=after or None,
            all_items=whole,
        )  # fmt: skip
    except AssayError as exc:  # e.g. blind mode hides the layer the search checked
        return {"issues": [], "message": str(exc), "run": None}
    except Forbidden as exc:
        return {"issues": [], "message": exc.message, "run": None}
