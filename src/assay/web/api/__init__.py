"""The JSON API under ``/api/v1``: one module per resource, each a thin layer over the library."""

from fastapi import APIRouter

from assay.web.api import datasets, items, meta, session, users

router = APIRouter()
for module in (session, meta, datasets, items, users):
    router.include_router(module.router)

__all__ = ["router"]
