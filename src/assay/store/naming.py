"""Names users give things (datasets, layers, classes): validation and natural ordering."""

from __future__ import annotations

import re
import unicodedata

from assay.errors import InvalidParameter

MAX_NAME = 200
_DIGITS = re.compile(r"(\d+)")


def clean_name(value: str, what: str = "name") -> str:
    """Normalize a user-given name (NFC, trimmed) and refuse empty or control characters.

    Names that differ only by Unicode normalization or surrounding spaces are the same name.
    """
    name = unicodedata.normalize("NFC", str(value)).strip()
    if not name:
        raise InvalidParameter(f"The {what} is empty: give a non-empty {what}.")
    if len(name) > MAX_NAME:
        raise InvalidParameter(f"The {what} {name[:40]!r}... is longer than {MAX_NAME} characters.")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise InvalidParameter(f"The {what} {name!r} contains control characters; remove them.")
    return name


def natural_sort_key(value: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts '2' before '10' and 'img9' before 'img10'."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.casefold())
        for part in _DIGITS.split(value)
        if part
    )
