"""Where things are served: the API prefix and the URLs the views and pages link to."""

from __future__ import annotations

from urllib.parse import quote

API_PREFIX = "/api/v1"


def q(value: object) -> str:
    """A URL path segment (dataset names may hold any character)."""
    return quote(str(value), safe="")


def media_url(dataset: str, item_id: int) -> str:
    """Where an item's image is served."""
    return f"{API_PREFIX}/datasets/{q(dataset)}/items/{item_id}/media"


def item_page_url(dataset: str, item_id: int, key: str | None = None) -> str:
    """The item's page."""
    return f"/datasets/{q(dataset)}/items/{item_id}"
