"""Which key picks which class when labeling: one rule for the labeling queue, the item page's
label form and anyone else who labels with the keyboard.

A layer may set its own keys (``layers.hotkeys``, {class: key}, as Label Studio's per-class
hotkeys; ``assay layer keys`` and ``POST /api/v1/datasets/{name}/layers/keys``). Every other
class is picked by its own name when that name is a single key ("0"-"9", "a"), else by the
first key of ``1``-``9``, ``0``, ``a``-``z`` still free, in class order; classes past those keys
get none. The keys a page keeps for itself pick no class: the labeling queue's S (skip) and U
(undo); in the review triage also A, G, E, J, K, X and V (accept, keep, escalate, move, select,
enlarge).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from assay.errors import InvalidParameter

RESERVED = frozenset("sSuU")  # the labeling queue's skip and undo
# The review triage's own keys (web/static/review.js): accept, keep, escalate, skip, move,
# select, enlarge.
TRIAGE_RESERVED = RESERVED | frozenset("aAgGeEjJkKxXvV")
ORDER = "1234567890abcdefghijklmnopqrstuvwxyz"


def usable(key: str, reserved: frozenset[str] = RESERVED) -> bool:
    """Whether ``key`` may pick a class: one visible character the page does not keep."""
    return len(key) == 1 and key.isprintable() and not key.isspace() and key not in reserved


def class_keys(
    classes: Sequence[str],
    custom: Mapping[str, str] | None = None,
    reserved: frozenset[str] = RESERVED,
) -> list[tuple[str | None, str]]:
    """(key or None, class) for each class, in class order: the layer's own keys first, then
    a class named by a single key gets that key, then the rest in order (see the module);
    ``reserved`` are the keys the page keeps for itself."""
    taken: dict[str, str] = {}  # key -> class
    chosen: dict[str, str] = {}  # class -> key
    for name in classes:
        key = (custom or {}).get(name)
        if key is not None and usable(key, reserved) and key not in taken:
            taken[key], chosen[name] = name, key
    for name in classes:
        if name not in chosen and usable(name, reserved) and name not in taken:
            taken[name], chosen[name] = name, name
    free = (k for k in ORDER if k not in taken and k not in reserved)
    for name in classes:
        if name not in chosen:
            key = next(free, None)
            if key is None:
                break
            taken[key], chosen[name] = name, key
    return [(chosen.get(name), name) for name in classes]


def check_keys(classes: Sequence[str], keys: Mapping[str, str]) -> dict[str, str]:
    """The keys a person sets for a layer, {class: key}, checked: each class one of
    ``classes``, each key one visible character the queue does not keep, no key twice."""
    known = set(classes)
    seen: dict[str, str] = {}
    for name, key in keys.items():
        if name not in known:
            raise InvalidParameter(f"{name!r} is not a class of this dataset; keys pick classes.")
        if not usable(key):
            raise InvalidParameter(
                f"The key for {name!r} must be one visible character other than s and u "
                f"(they skip and undo in the labeling queue), not {key!r}."
            )
        if key in seen:
            raise InvalidParameter(f"Key {key!r} is given to both {seen[key]!r} and {name!r}.")
        seen[key] = name
    return {name: keys[name] for name in classes if name in keys}
