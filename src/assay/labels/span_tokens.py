"""Tokens of a text and the BIO tags a span set gives them (token-level checks of spans).

The tokenizer is one regular expression (a run of word characters, or one other non-space
character) with character offsets: spaCy's tokenizer would need a language model package
installed and loaded per process for what the token classifier uses (offsets and shapes), and
its splits differ only at contractions and hyphens, where span boundaries rarely fall.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["TOKEN", "bio_classes", "bio_tags", "spans_from_tags", "tokenize"]

TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def tokenize(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the tokens of ``text``."""
    return [m.span() for m in TOKEN.finditer(text)]


def bio_classes(classes: Sequence[str]) -> list[str]:
    """The BIO tag set of span classes: ``O``, then ``B-X`` and ``I-X`` per class."""
    return ["O", *(f"{p}-{c}" for c in classes for p in ("B", "I"))]


def bio_tags(
    tokens: Sequence[tuple[int, int]], spans: Sequence[Mapping[str, Any]], classes: Sequence[str]
) -> list[int]:
    """The BIO tag (index into :func:`bio_classes`) of each token: a token a span overlaps
    takes the span's class (``B`` on the span's first token); with nested spans the longest
    wins (BIO has one tag per token)."""
    index = {c: i for i, c in enumerate(classes)}
    tags = [0] * len(tokens)
    starts = [s for s, _ in tokens]
    import bisect

    for span in sorted(spans, key=lambda s: s["end"] - s["start"]):
        first = bisect.bisect_right(starts, span["start"]) - 1
        first = max(first, 0)
        code = index[span["class"]]
        began = False
        for k in range(first, len(tokens)):
            s, e = tokens[k]
            if s >= span["end"]:
                break
            if e <= span["start"]:
                continue
            tags[k] = 1 + 2 * code + (1 if began else 0)
            began = True
    return tags


def spans_from_tags(
    tokens: Sequence[tuple[int, int]], tags: Sequence[int], classes: Sequence[str]
) -> list[dict[str, Any]]:
    """Spans from BIO tags (indices into :func:`bio_classes`); an ``I-X`` without a ``B-X``
    before it starts a span (as seqeval's lenient mode reads it)."""
    out: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for (s, e), tag in zip(tokens, tags, strict=True):
        if tag == 0:
            current = None
            continue
        cls, inside = classes[(tag - 1) // 2], (tag - 1) % 2 == 1
        if inside and current is not None and current["class"] == cls:
            current["end"] = e
        else:
            current = {"start": s, "end": e, "class": cls}
            out.append(current)
    return out
