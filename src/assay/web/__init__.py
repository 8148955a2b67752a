"""The web app (``assay serve``): a FastAPI app with a JSON API under ``/api/v1`` and pages.

Build it with :func:`create_app`; :mod:`assay.web.auth` holds the access rules.
"""

from assay.web.app import create_app
from assay.web.state import WebSettings

__all__ = ["WebSettings", "create_app"]
