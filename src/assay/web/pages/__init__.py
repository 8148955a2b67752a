"""The HTML pages: one module per resource, each rendering what its ``views/`` module computes
for the JSON twin in ``api/``. Templates autoescape everything; the few scripts in
``static/`` build DOM nodes with ``textContent`` only."""

from fastapi import APIRouter

from assay.web.pages import (
    agreement,
    datasets,
    items,
    jobs,
    labeling,
    maps,
    predictions,
    review,
    session,
    snapshots,
    users,
)

router = APIRouter(include_in_schema=False)
for module in (
    session,
    datasets,
    items,
    users,
    labeling,
    review,
    agreement,
    snapshots,
    predictions,
    maps,
    jobs,
):
    router.include_router(module.router)

__all__ = ["router"]
