"""The API's own description (its OpenAPI schema, for signed-in users only) and its health."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from assay.errors import StoreError
from assay.web.auth import require
from assay.web.state import app_state

router = APIRouter(tags=["meta"])
log = logging.getLogger("assay.web")


class Health(BaseModel):
    """Whether the server answers and its store with it."""

    ok: bool
    store: str


@router.get("/openapi.json", dependencies=[Depends(require("read"))])
def openapi(request: Request) -> dict[str, Any]:
    """The OpenAPI schema of this API."""
    schema: dict[str, Any] = request.app.openapi()
    return schema


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The store cannot be reached."}},
)
def health(request: Request) -> Any:
    """For load balancers and monitors, without sign-in: ``{"ok": true, "store": "ok"}`` once a
    trivial query has gone through, else 503 (and nothing about why: see the server log)."""
    try:
        app_state(request).project.store.ping()
    except StoreError as exc:
        log.warning("health check: the store is unreachable: %s", exc)
        return JSONResponse(
            {"ok": False, "store": "unreachable"}, 503, headers={"Retry-After": "5"}
        )
    return Health(ok=True, store="ok")
