"""Span evidence drawn as text: each layer's spans over the item's text, side by side.

A case about spans (a disagreement between span layers, or a likely-mislabeled span) names
its layers in ``evidence["span_layers"]``, the spans at issue per layer in ``highlight``
(layer -> indices into the layer's span list as the case saw it) and, for a label-quality
case, the suspect stretches in ``regions``. :func:`span_figures` cuts the text at every span
edge so a page can draw each piece with the classes covering it (nested spans legible as
stacked underlines) and mark the pieces at issue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

__all__ = ["segments", "span_figures"]


def segments(
    text: str, spans: Sequence[Mapping[str, Any]], *, at_issue: Sequence[int] = (),
    regions: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:  # fmt: skip
    """The text cut at every span and region edge: ``text``, ``classes`` (covering it,
    outermost first), ``ends`` (classes of spans ending here: where a label is shown),
    ``at_issue`` and ``region`` (inside a suspect stretch)."""
    issue = set(at_issue)
    cuts = {0, len(text)}
    for s in [*spans, *regions]:
        cuts.update(
            (max(0, min(len(text), int(s["start"]))), max(0, min(len(text), int(s["end"]))))
        )
    edges = sorted(cuts)
    out = []
    for a, b in pairwise(edges):
        if a == b:
            continue
        over = [(k, s) for k, s in enumerate(spans) if s["start"] < b and a < s["end"]]
        over.sort(key=lambda ks: (ks[1]["start"], -ks[1]["end"]))
        out.append({
            "text": text[a:b],
            "classes": [s["class"] for _, s in over],
            "ends": [s["class"] for _, s in over if s["end"] == b],
            "at_issue": any(k in issue for k, _ in over),
            "region": any(r["start"] < b and a < r["end"] for r in regions),
        })  # fmt: skip
    return out


def span_figures(
    text: str | None, mine: Mapping[str, Any], evidence: Mapping[str, Any]
) -> list[dict[str, Any]] | None:
    """One figure per layer of a span case (None for other cases): the layer, its spans now
    (``mine``: the item's current label records by layer) cut into :func:`segments`."""
    layers = evidence.get("span_layers")
    if not layers or text is None:
        return None
    highlight = evidence.get("highlight") or {}
    regions = evidence.get("regions") or []
    figures = []
    for name in layers:
        spans = (mine.get(name) or {}).get("value") or []
        figures.append({
            "layer": name,
            "n_spans": len(spans),
            "segments": segments(text, spans, at_issue=highlight.get(name) or [],
                                 regions=regions),
        })  # fmt: skip
    return figures
