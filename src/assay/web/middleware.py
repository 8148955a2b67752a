"""The app's two ASGI middlewares: security headers on every response, and request body limits.

Both are plain ASGI (no body is ever buffered to be measured or rewritten).
"""

from __future__ import annotations

import json
import re

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assay.web import errors
from assay.web.urls import API_PREFIX

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


class SecurityHeaders:
    """Adds the security headers (CSP, nosniff, no framing, referrer policy) to every response.

    A plain ASGI middleware: it only touches the response start, never the body. Headers a
    response already set (the sandbox CSP of media files) are kept.
    """

    HEADERS = (
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in self.HEADERS if k not in present]
                if b"cache-control" not in present and not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                if https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


# Bulk writes whose bodies may legitimately be larger than the default limit.
BULK_PATHS = re.compile(rf"^{re.escape(API_PREFIX)}/datasets/[^/]+/(?:labels|selections)$")
# File uploads (streamed to disk by api/imports.py), with their own, larger limit.
UPLOAD_PATHS = re.compile(rf"^{re.escape(API_PREFIX)}/datasets/[^/]+/imports$")


class BodyLimit:
    """Refuses request bodies over a size limit with 413 and the API's JSON error.

    A plain ASGI middleware, so no body is ever held whole before it is measured: a
    ``Content-Length`` over the limit is refused before a byte of the body is read, and a body
    without one (chunked) is counted as it streams in; once past the limit the app's read
    fails and whatever it answered is replaced by the 413. Memory per request thus stays
    within the limit, whatever the client sends.
    """

    def __init__(self, app: ASGIApp, *, default: int, bulk: int, upload: int | None = None) -> None:
        self.app = app
        self.default = default
        self.bulk = bulk
        self.upload = default if upload is None else upload

    def limit_for(self, method: str, path: str) -> int:
        """The body limit of a request (bulk writes and uploads get larger ones)."""
        if method == "POST" and UPLOAD_PATHS.match(path):
            return self.upload
        return self.bulk if method == "POST" and BULK_PATHS.match(path) else self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise StarletteHTTPException(413, _too_large(limit))
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:  # the app's own answer to the failed read is replaced below
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _refuse(send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int) -> str:
    return f"Request body too large: at most {limit:,} bytes."


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps(errors.error_body(_too_large(limit), 413)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
