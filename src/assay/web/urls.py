"""Where things are served: the API prefix and the URLs the views and pages link to.

An item's page is addressed by its key, the name people see: ``/datasets/{name}/item/{key}``,
the key percent-encoded as one segment (a "/" in it too; the route takes the rest of the path).
The API addresses items by their numeric id (it is for programs), and so do the forms that
act on an item; ``/datasets/{name}/items/{id}`` redirects to the item's page.
"""

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
    """The item's page: by its key, or when the caller has only the id, the address that
    redirects there. With ``key=""``, the prefix the scripts append an encoded key to."""
    if key is None:
        return f"/datasets/{q(dataset)}/items/{item_id}"
    return f"/datasets/{q(dataset)}/item/{q(key)}"
