"""The JSON API under ``/api/v1``: one module per resource, each a thin layer over the library."""

from fastapi import APIRouter

from assay.web.api import (
    agreement,
    datasets,
    imports,
    items,
    jobs,
    kind_values,
    labeling,
    maps,
    meta,
    predictions,
    review,
    session,
    snapshots,
    spans,
    suggestions,
    users,
)
from assay.web.errors import ERROR_RESPONSES

router = APIRouter()
for module in (
    session,
    meta,
    datasets,
    items,
    users,
    labeling,
    kind_values,
    agreement,
    review,
    snapshots,
    predictions,
    maps,
    jobs,
    suggestions,
    imports,
    spans,
):
    router.include_router(module.router, responses=ERROR_RESPONSES)

__all__ = ["router"]
