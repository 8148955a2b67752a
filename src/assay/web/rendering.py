"""Rendering the HTML pages: the Jinja environment, its filters, and :func:`render`.

Templates autoescape everything; the few scripts in ``static/`` build DOM nodes with
``textContent`` only. Every page renders with the signed-in user and their CSRF token.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from assay.quality import format_quality, format_score
from assay.web.auth import Principal
from assay.web.state import app_state
from assay.web.urls import item_page_url, q

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


#: Colours of layers drawn over an image (boxes): distinct on dark and light, colour-blind safe
#: (Okabe-Ito, then Tol's bright).
LAYER_COLOURS = (
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
    "#4477AA", "#EE6677", "#228833",
)  # fmt: skip


def layer_colour(name: str) -> str:
    """The colour a layer's boxes are drawn in, on every page (the same layer, the same
    colour: a stable hash of its name)."""
    import zlib

    return LAYER_COLOURS[zlib.crc32(name.encode()) % len(LAYER_COLOURS)]


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else ""


FILTERS = {
    "q": q,
    "num": _num,
    "when": _when,
    "score": format_score,
    "probability": format_quality,
    "layer_colour": layer_colour,
}


def templates() -> jinja2.Environment:
    """The pages' template environment (autoescaped, strict about undefined names)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    env.globals["item_url"] = item_page_url  # item_url(ds.name, it.id, it.key)
    return env


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a template with the signed-in user and their CSRF token in the context."""
    who: Principal | None = getattr(request.state, "principal", None)
    base = {
        "who": who,
        "csrf_token": who.csrf_token if who else None,
        "path": request.url.path,
        # An annotator in blind mode: pages that compare layers are not theirs to open.
        "blind": who is not None and who.viewer.blind,
    }
    html = app_state(request).templates.get_template(template).render(**base, **context)
    return HTMLResponse(html, status, headers=headers)


def render_error(
    request: Request, message: str, status: int, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """The error page (used by the error handlers for every non-API path)."""
    return render(request, "error.html", {"message": message, "status": status}, status, headers)
