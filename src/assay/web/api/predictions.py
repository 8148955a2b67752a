"""Model runs, their evaluation against a reference layer, and likely label issues.

Training and label-issue searches run as jobs, never inside a request. A run's evaluation is
stored with the run the first time it is asked for (until its labels change), and the answer
cached per (dataset, run, reference, filter, coverage, data version).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from assay.web.api.datasets import FilterParam
from assay.web.auth import Reader
from assay.web.state import app_state
from assay.web.views import predictions
from assay.web.views.datasets import open_dataset

router = APIRouter(tags=["predictions"])
NameParam = Annotated[str, Query(min_length=1, max_length=200)]


@router.get("/datasets/{name}/runs")
def list_runs(name: str, request: Request, who: Reader) -> dict[str, Any]:
    """Every model run of the dataset you may see (blind mode: those trained on your
    layers), newest first: name, kind (``cv``, ``train``...), state, model, metrics,
    predictions layer, training snapshot, created_at..."""
    dataset = open_dataset(app_state(request), name)
    runs = predictions.list_runs(who, dataset)
    return {"ok": True, "runs": runs, "default": predictions.default_run(runs)}


@router.get("/datasets/{name}/runs/{run}")
def get_run(name: str, run: str, request: Request, who: Reader) -> dict[str, Any]:
    """One model run of the dataset (404 if it has none of that name, 403 if blind mode
    hides it)."""
    dataset = open_dataset(app_state(request), name)
    return {"ok": True, "run": predictions.get_run(who, dataset, run)}


@router.get("/datasets/{name}/predictions/evaluation")
def evaluation(
    name: str,
    request: Request,
    who: Reader,
    run: NameParam,
    reference: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    filter: FilterParam = None,
    coverage: Annotated[float, Query(gt=0.0, lt=1.0)] = 0.9,
    score_threshold: Annotated[float, Query(ge=0.0, le=1.0)] = 0.5,
) -> dict[str, Any]:
    """Metrics of run (or model layer) ``run`` against layer ``reference`` on the slice
    ``filter``: accuracy, log loss, per-class precision/recall/F1, the reliability curve and
    ECE, the confusion matrix (each cell with the items-grid ``filter`` and ``url`` that open
    its items), the errors by loss (with item, image and page URLs) and conformal sets at
    ``coverage``. ``reference`` defaults to ``ground_truth``.

    For a run or layer of boxes (``kind: "boxes"``): COCO's ``map`` (AP@[.5:.95]), ``ap50``,
    ``ap75``, ``ar100``, AP per class, ``pr_curves`` at IoU 0.5, counts at
    ``score_threshold``, the detection ``confusion`` (with a ``(none)`` row and column), and
    the ``false_positives`` (most confident first) and ``false_negatives``, each with its item's
    page, image and the boxes to draw; ``reference`` defaults to the truth box layer."""
    state = app_state(request)
    return predictions.evaluation(
        state,
        who,
        open_dataset(state, name),
        run=run,
        reference=reference,
        filter=filter,
        coverage=coverage,
        score_threshold=score_threshold,
    )


@router.get("/datasets/{name}/issues")
def issues(
    name: str,
    request: Request,
    who: Reader,
    run: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    kind: Literal["mislabel", "label", "outlier", "duplicate"] = "mislabel",
    after: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=predictions.MAX_ISSUES_PAGE)] = 50,
    all_items: Annotated[bool, Query(alias="all")] = False,
) -> dict[str, Any]:
    """The findings of the latest label-issue search (or of model run ``run``), most suspect
    first: item, given and suggested label, score, image URL; ``next`` is the ``after`` of the
    following page. With ``all``, every item of the search: for label issues the full ranking
    past the cut, the flagged ones first, each row with ``is_issue`` and ``rank``. ``run``
    describes the search, its ``method`` included; ``grid_url`` (with its ``grid_filter``,
    ``issue[RUN]=label``) opens the findings in the items grid and ``review_url`` their cases
    in the review queue. Without any search: an empty list and a ``message``."""
    state = app_state(request)
    return predictions.issues(
        state,
        who,
        open_dataset(state, name),
        run=run,
        kind=kind,
        after=after,
        limit=limit,
        all_items=all_items,
    )
