"""Statistics of a span layer (text spans), from mergeable aggregators.

:class:`SpanLayerStats` summarises one layer over the texts of a slice: texts annotated (with
spans, or read and left without ``[]``) and not annotated, spans per class and the texts each
class appears in, span lengths in characters and in tokens (:mod:`assay.labels.span_tokens`),
spans per text. Every part is an exact aggregator with fixed bins, so two halves merged equal
the whole: rows are read in id-ordered chunks (the box statistics' reader), so memory stays
flat, and the halves of a partitioned scan merge.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import orjson

from assay.stats.aggregators import Categories, Histogram, Moments
from assay.stats.layer_scan import iter_layer_values
from assay.store import filters, queries

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

__all__ = ["TOKEN", "SpanLayerStats", "span_statistics"]

#: Tokens, as :data:`assay.labels.span_tokens.TOKEN` counts them (statistics sit beside labels
#: and may not import them; tests/spans/test_span_stats.py checks the two are one pattern).
TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)

#: Bins of span length in characters and tokens: 1, 2, 3, 4, 5-6, 7-8, ... (half-octaves).
LENGTH_EDGES = (1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 257, 513, 1025, 1 << 20)
#: Spans per text: 0, 1, 2, ... 10, then wider bins.
PER_TEXT_EDGES = (*range(0, 11), 16, 21, 51, 101, 1001, 10_001)


@dataclass
class SpanLayerStats:
    """Mergeable statistics of one span layer over some texts."""

    n_texts: int = 0
    n_annotated: int = 0
    n_empty: int = 0
    classes: Categories = field(default_factory=Categories)
    texts_per_class: Categories = field(default_factory=Categories)
    chars: Histogram = field(default_factory=lambda: Histogram(LENGTH_EDGES))
    tokens: Histogram = field(default_factory=lambda: Histogram(LENGTH_EDGES))
    char_moments: Moments = field(default_factory=Moments)
    per_text: Histogram = field(default_factory=lambda: Histogram(PER_TEXT_EDGES))
    per_text_moments: Moments = field(default_factory=Moments)

    def add(self, text: str | None, spans: list[dict[str, Any]] | None) -> None:
        self.n_texts += 1
        if spans is None:
            return
        self.n_annotated += 1
        self.n_empty += not spans
        self.per_text.add(np.array([len(spans)]))
        self.per_text_moments.add(np.array([len(spans)], dtype=float))
        if not spans:
            return
        lengths = np.array([s["end"] - s["start"] for s in spans])
        self.chars.add(lengths)
        self.char_moments.add(lengths.astype(float))
        body = text or ""
        self.tokens.add(
            np.array([len(TOKEN.findall(body[s["start"] : s["end"]])) or 1 for s in spans])
        )
        self.classes.add(np.array([s["class"] for s in spans], dtype=object))
        self.texts_per_class.add(np.array(sorted({s["class"] for s in spans}), dtype=object))

    def merge(self, other: Self) -> Self:
        self.n_texts += other.n_texts
        self.n_annotated += other.n_annotated
        self.n_empty += other.n_empty
        for name in ("classes", "texts_per_class", "chars", "tokens", "char_moments",
                     "per_text", "per_text_moments"):  # fmt: skip
            getattr(self, name).merge(getattr(other, name))
        return self

    def result(self) -> dict[str, Any]:
        counts = dict(sorted(self.classes.counts.items(), key=operator.itemgetter(1), reverse=True))
        n_spans = sum(counts.values())
        return {
            "n_texts": self.n_texts,
            "n_annotated": self.n_annotated,
            "n_empty": self.n_empty,
            "n_not_annotated": self.n_texts - self.n_annotated,
            "n_spans": n_spans,
            "classes": counts,
            "class_shares": {c: n / n_spans for c, n in counts.items()} if n_spans else {},
            "texts_per_class": dict(self.texts_per_class.counts),
            "length_chars": {**self.chars.result(), **_moments(self.char_moments)},
            "length_tokens": self.tokens.result(),
            "spans_per_text": {**self.per_text.result(), **_moments(self.per_text_moments)},
        }


def _moments(m: Moments) -> dict[str, Any]:
    r = m.result()
    return {k: r.get(k) for k in ("mean", "min", "max") if k in r}


def span_statistics(
    dataset: Dataset, layer: str, filter: str | None = None, *, dask: Any = None
) -> dict[str, Any]:
    """The statistics of span layer ``layer`` over the dataset or the slice ``filter``
    selects (``name``, ``kind``, ``owner`` and :meth:`SpanLayerStats.result`). Read in one
    pass of id-ordered chunks here (``dask`` is accepted for the seam; texts are small)."""
    from assay.errors import InvalidParameter

    del dask
    stats = SpanLayerStats()
    with dataset.store.read() as conn:
        row = queries.get_layer(conn, dataset.id, layer)
        if row.value_kind != "spans":
            raise InvalidParameter(f"Layer {layer!r} holds {row.value_kind} labels, not spans.")
        where = filters.compile_filter(conn, dataset.id, filter)
        for rows in iter_layer_values(
            conn, dataset.id, int(row.id), where=where, item_columns=("text",)
        ):
            for _, text, value in rows:
                spans = None if value is None else orjson.loads(value) if isinstance(
                    value, str | bytes) else value  # fmt: skip
                stats.add(text, spans)
    return {"name": row.name, "kind": row.kind, "owner": row.owner, **stats.result()}
