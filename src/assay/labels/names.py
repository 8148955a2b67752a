"""Layer names: one normal form, no invisible characters, no lookalikes, reserved names.

A layer name is what people read to tell whose labels they see, so two names that look alike
must not both exist and a name must not hide characters:

* names are normalized with NFKC (fullwidth ``ａ`` is ``a``, ``ﬁ`` is ``fi``) and trimmed;
* control, format (zero-width, bidi marks and embeddings such as U+200B, U+200E, U+202E,
  U+2066), private-use, unassigned and a few invisible filler characters are refused, naming
  the character;
* a name may not mix Latin, Cyrillic and Greek letters (``аlice`` with a Cyrillic ``а``);
* :func:`lookalike_key` folds case and maps Cyrillic and Greek letters to the Latin ones they
  look like: two names with the same key are the same name to a reader;
* :data:`RESERVED` names belong to the system, which writes into them by itself: imports into
  ``ground_truth``, review decisions into ``reviewed``, consensus into ``consensus``.
"""

from __future__ import annotations

import unicodedata

from assay.errors import InvalidParameter
from assay.store.naming import clean_name

__all__ = ["RESERVED", "layer_name", "lookalike_key", "reserved_kind"]

# Name -> the only kind of layer that may carry it (with no owner): what the system writes there.
RESERVED: dict[str, str] = {
    "ground_truth": "import",
    "reviewed": "reviewed",
    "consensus": "consensus",
}

_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
# Characters that draw nothing but are letters or marks, so their category does not show it.
_INVISIBLE = frozenset(
    [
        *(0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0),
        *range(0xFE00, 0xFE10),  # variation selectors
        *range(0xE0100, 0xE01F0),
    ]
)
# Cyrillic and Greek letters (after casefold) that look like a Latin one.
_LOOKALIKES = str.maketrans(
    "аеорсухіјѕԁһԛԝӏвнкмтьαοριυνκτχβεηζ",
    "aeopcyxijsdhqwlbhkmtbaopiuvktxbenz",
)


def _describe(ch: str) -> str:
    """``U+200B ZERO WIDTH SPACE``."""
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'an unnamed character')}"


def _forbidden(ch: str) -> bool:
    """Whether ``ch`` is a control, format, invisible or unassigned character."""
    category = unicodedata.category(ch)
    return category[0] == "C" or category in ("Zl", "Zp") or ord(ch) in _INVISIBLE


def _script(ch: str) -> str | None:
    """LATIN, CYRILLIC or GREEK for a letter of those alphabets, else None."""
    if not unicodedata.category(ch).startswith("L"):
        return None
    word = unicodedata.name(ch, "").split(" ", 1)[0]
    return word if word in _SCRIPTS else None


def _check_scripts(name: str) -> None:
    """Refuse a name whose letters come from more than one of Latin, Cyrillic and Greek."""
    first: dict[str, str] = {}
    for ch in name:
        script = _script(ch)
        if script is not None:
            first.setdefault(script, ch)
    if len(first) > 1:
        odd = next(ch for s, ch in first.items() if s != "LATIN")
        raise InvalidParameter(
            f"The layer name {name!r} mixes {' and '.join(s.title() for s in first)} letters "
            f"({odd!r} is {_describe(odd)}): write it in one alphabet."
        )


def layer_name(value: str) -> str:
    """A layer name in its normal form, or InvalidParameter naming what is wrong with it.

    Parameters
    ----------
    value : str
        The name as given.

    Returns
    -------
    str
        The name after NFKC normalization and trimming.

    Raises
    ------
    InvalidParameter
        Empty or too long; holds a control, format (zero-width, bidi) or invisible character
        (the message names it); mixes Latin, Cyrillic and Greek letters.
    """
    name = unicodedata.normalize("NFKC", str(value)).strip()
    bad = next((ch for ch in str(value) + name if _forbidden(ch)), None)  # as typed, first
    if bad is not None:
        raise InvalidParameter(
            f"The layer name {name!r} contains {_describe(bad)}, an invisible or control "
            "character: remove it."
        )
    name = clean_name(name, "layer name")
    _check_scripts(name)
    return name


def lookalike_key(name: str) -> str:
    """What a reader sees: the NFKC, case-folded name with Cyrillic and Greek lookalikes
    of Latin letters replaced by those letters. Equal keys mean confusable names."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return folded.translate(_LOOKALIKES)


_RESERVED_KEYS = {lookalike_key(name): name for name in RESERVED}


def reserved_kind(name: str) -> tuple[str, str] | None:
    """(reserved name, its kind) when ``name`` is or looks like a reserved name, else None."""
    reserved = _RESERVED_KEYS.get(lookalike_key(name))
    return None if reserved is None else (reserved, RESERVED[reserved])
