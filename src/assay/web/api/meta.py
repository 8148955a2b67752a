"""The API's own description: its OpenAPI schema (for signed-in users only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from assay.web.auth import require

router = APIRouter(tags=["meta"])


@router.get("/openapi.json", dependencies=[Depends(require("read"))])
def openapi(request: Request) -> dict[str, Any]:
    """The OpenAPI schema of this API."""
    schema: dict[str, Any] = request.app.openapi()
    return schema
