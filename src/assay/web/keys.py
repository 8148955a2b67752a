"""The project's secret key, made once per install and kept in ``.assay/secret_key`` (0600).

Every install gets its own random key (never a built-in default), so a cookie signed by one
install means nothing to another, and restarts keep everyone signed in. Several server
processes starting at once agree on one key: it is written to a temporary file and linked
into place, which fails for all but the first.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from assay.errors import StoreError

KEY_DIR = ".assay"
KEY_FILE = "secret_key"
MIN_KEY_CHARS = 32


def secret_key_path(root: Path) -> Path:
    """Where the project's key lives."""
    return root / KEY_DIR / KEY_FILE


def load_or_create_secret_key(root: Path) -> str:
    """The key in ``root/.assay/secret_key``, created (mode 0600) if missing."""
    path = secret_key_path(root)
    if not path.exists():
        _create(path)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < MIN_KEY_CHARS:
        raise StoreError(
            f"{path} holds a key shorter than {MIN_KEY_CHARS} characters. Delete the file to get "
            "a new random key (everyone will have to sign in again)."
        )
    return key


def _create(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f"{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_urlsafe(48) + "\n")
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: use its key
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
