"""Serving an item's image: bytes kept in the store, or a file the item was imported from.

A file is served only when, with every symlink and ``..`` resolved, it still lies inside the
folder it was imported from (its path minus its key, which must be the folder the item's
import names as its source) and, if the app was given ``media_roots``, inside one of them.
Only image files are served, with a content type read from the file's first bytes, never
from its name. Responses carry ``nosniff``, a sandboxing CSP and ``Content-Disposition:
attachment``, so even a hostile file cannot run as a page of this site (an ``<img>`` shows
it all the same).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

from fastapi.responses import Response

from assay.errors import ItemNotFound

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"})
MAX_FILE_BYTES = 64 * 2**20
THUMB_PX = 160
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Content-Disposition": "attachment",
    "Cache-Control": "private, max-age=3600",
}


def sniff(data: bytes) -> str | None:
    """The image type the bytes start with, or None if they are not a known image."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    return None


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([path, root]) == root


def _same_folder(root: str, source: str | None) -> bool:
    """Whether ``root`` (absolute, as recorded) is the folder an import named as ``source``."""
    if not source or "\x00" in source:
        return False
    if os.path.isabs(source):
        return os.path.normpath(root) == os.path.normpath(source)
    parts = [p for p in os.path.normpath(source).split(os.sep) if p not in ("", ".", "..")]
    return bool(parts) and os.path.normpath(root).split(os.sep)[-len(parts) :] == parts


def resolve_file(
    media_path: str, key: str, source: str | None, media_roots: Sequence[Path] = ()
) -> Path:
    """The real path of an item's file, if it is safe to serve (else ItemNotFound).

    ``source`` is what the item's import recorded as its folder.
    """
    refused = ItemNotFound("This item's image is not available.")
    if not media_path or "\x00" in media_path or not os.path.isabs(media_path):
        raise refused
    key_part = key.replace("/", os.sep)
    if not key_part or not media_path.endswith(os.sep + key_part):
        raise refused
    recorded_root = media_path[: -len(key_part)]
    if not _same_folder(recorded_root, source):
        raise refused
    root = os.path.realpath(recorded_root)
    real = os.path.realpath(media_path)
    if not _inside(real, root):
        raise refused  # a ".." in the key, or a symlink out of the imported folder
    if media_roots and not any(_inside(real, os.path.realpath(r)) for r in media_roots):
        raise refused
    if Path(real).suffix.lower() not in IMAGE_SUFFIXES or not os.path.isfile(real):
        raise refused
    return Path(real)


def read_file(path: Path) -> bytes:
    """The bytes of a media file (refused when it is not an image or is too big)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ItemNotFound("This item's image is too big to show.")
        return path.read_bytes()
    except OSError as exc:
        raise ItemNotFound("This item's image cannot be read.") from exc


def thumbnail(data: bytes, size: int = THUMB_PX) -> tuple[bytes, str]:
    """A PNG at most ``size`` pixels on a side (small images come back as they are)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        if max(img.size) <= size:
            return data, sniff(data) or "application/octet-stream"
        img.thumbnail((size, size))
        out = io.BytesIO()
        img.convert("RGB" if img.mode not in ("L", "RGB", "RGBA") else img.mode).save(out, "PNG")
    return out.getvalue(), "image/png"


def image_response(data: bytes) -> Response:
    """The bytes as an image response, refused unless they sniff as an image."""
    mime = sniff(data)
    if mime is None:
        raise ItemNotFound("This item's media is not an image.")
    return Response(data, media_type=mime, headers=HEADERS)
