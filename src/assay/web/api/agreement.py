"""Agreement among layers, the confusion matrix of two layers, and consensus."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from assay.labels.combine import ConsensusSpec
from assay.web.api.datasets import FilterParam
from assay.web.auth import Reader, Reviewer
from assay.web.state import app_state
from assay.web.views import agreement
from assay.web.views.datasets import open_dataset

router = APIRouter(tags=["agreement"])
LayerList = Annotated[
    list[str] | None,
    Query(max_length=50, description="Layers to compare (repeat the parameter)."),
]
LayerParam = Annotated[str, Query(min_length=1, max_length=200)]


@router.get("/datasets/{name}/agreement")
def agreement_report(
    name: str,
    request: Request,
    who: Reader,
    layers: LayerList = None,
    filter: FilterParam = None,
    reference: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """Percent agreement, pairwise Cohen's kappa, Fleiss' kappa, Krippendorff's alpha,
    per-class agreement and per-annotator quality against ``reference``.

    ``layers`` defaults to the human layers; ``reference`` to the consensus layer when there
    is one, else majority vote.
    """
    state = app_state(request)
    return agreement.agreement_report(
        state,
        who,
        open_dataset(state, name),
        layers=layers,
        filter=filter,
        reference=reference,
    )


@router.get("/datasets/{name}/agreement/confusion")
def confusion(
    name: str,
    request: Request,
    who: Reader,
    a: LayerParam,
    b: LayerParam,
    filter: FilterParam = None,
) -> dict[str, Any]:
    """Class x class counts of layer ``a`` (rows) against layer ``b`` (columns), and for each
    cell the items-grid filter that opens the items behind it (null if it cannot be written)."""
    state = app_state(request)
    return agreement.confusion_report(
        state, who, open_dataset(state, name), a=a, b=b, filter=filter
    )


@router.post("/datasets/{name}/consensus", status_code=201)
def run_consensus(
    name: str, body: ConsensusSpec, request: Request, who: Reviewer
) -> dict[str, Any]:
    """Compute a consensus label and confidence per item and write it to a consensus layer
    (reviewers and admins). Only items whose label or confidence changed get a new label."""
    state = app_state(request)
    return agreement.run_consensus(state, who, open_dataset(state, name), body)
