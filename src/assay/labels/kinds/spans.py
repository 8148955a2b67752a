"""Spans: categories over stretches of an item's text (named entities and other span labels).

A label of a span layer is the whole set of spans one layer gives one text, kept as JSON in
``labels.value``: a list of ``{"start", "end", "class"}`` sorted by position, where ``start``
and ``end`` are character offsets into the item's text (Unicode code points, as Python and
spaCy count them; ``end`` exclusive) and ``class`` is one of the dataset's classes. ``[]``
means "read, no spans"; no label means "not annotated". Spans of a layer may overlap only
when the layer's option ``overlap`` is true (nested entities); the same stretch with the same
class twice is never kept.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from assay.errors import InvalidParameter
from assay.labels.kinds import AnnotationKind, Disagreement, KindSchema
from assay.store import queries

if TYPE_CHECKING:
    from collections.abc import Iterator

    from assay.labels.span_agreement import SpanAgreementReport, SpanConsensus
    from assay.labels.writes import LabelWrite

__all__ = ["MAX_SPANS", "Spans", "span_set"]

#: Most spans one text may hold in one layer.
MAX_SPANS = 10_000
_KEYS = frozenset({"start", "end", "class"})


def _splits_character(text: str, offset: int) -> bool:
    """True when ``offset`` falls inside a character as a reader sees it: before a combining
    mark or between the halves of a surrogate pair (which a UTF-16 editor could produce)."""
    if offset <= 0 or offset >= len(text):
        return False
    return bool(unicodedata.combining(text[offset])) or "\udc00" <= text[offset] <= "\udfff"


def span_set(
    value: Any,
    classes: Mapping[str, int],
    text: str | None,
    where: str,
    *,
    overlap: bool = False,
) -> list[dict[str, Any]]:
    """``value`` (a list of spans) as it is kept, sorted by (start, end, class); or
    InvalidParameter naming ``where`` and the span. The one rule for what a span set is."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidParameter(
            f'{where}: spans are a list like [{{"start": 0, "end": 5, "class": "PER"}}], '
            f"not {type(value).__name__}."
        )
    if text is None:
        raise InvalidParameter(f"{where} has no text to put spans on.")
    if len(value) > MAX_SPANS:
        raise InvalidParameter(f"{where}: {len(value)} spans; one text holds at most {MAX_SPANS}.")
    out: list[dict[str, Any]] = []
    # An ASCII text has no combining marks nor surrogates: no offset can split a character
    # (the per-offset test is most of the cost of an import's check).
    plain = text.isascii()
    size = len(text)
    for n, span in enumerate(value, 1):
        # The common case first (a dict of three keys, int offsets inside the text, a known
        # class); anything else goes through the checks that say what is wrong.
        if (
            type(span) is dict
            and span.keys() == _KEYS
            and type(start := span["start"]) is int
            and type(end := span["end"]) is int
            and 0 <= start < end <= size
            and (plain or not (_splits_character(text, start) or _splits_character(text, end)))
            and type(name := span["class"]) is str
            and name in classes
        ):
            out.append({"start": start, "end": end, "class": name})
            continue
        at = f"{where}, span {n}"
        if not isinstance(span, Mapping) or set(span) - _KEYS or not set(span) >= _KEYS:
            raise InvalidParameter(f'{at}: a span is {{"start", "end", "class"}}.')
        start, end, name = span["start"], span["end"], span["class"]
        if any(isinstance(v, bool) or not isinstance(v, int) for v in (start, end)):
            raise InvalidParameter(f"{at}: start and end are whole character offsets.")
        if not 0 <= start < end <= len(text):
            raise InvalidParameter(
                f"{at} [{start}, {end}) is outside the text (0 to {len(text)} characters) or "
                "empty; end must be after start."
            )
        for offset in (start, end):
            if _splits_character(text, offset):
                raise InvalidParameter(
                    f"{at} [{start}, {end}): offset {offset} splits a character (a combining "
                    "mark or a surrogate pair); move it to the character's edge."
                )
        if not isinstance(name, str) or name not in classes:
            hint = queries.hint(str(name), list(classes), "classes")
            raise InvalidParameter(f"{at}: unknown class {name!r}.{hint}")
        out.append({"start": start, "end": end, "class": name})
    out.sort(key=lambda s: (s["start"], s["end"], classes[s["class"]]))
    for a, b in itertools.pairwise(out):
        if (a["start"], a["end"], a["class"]) == (b["start"], b["end"], b["class"]):
            raise InvalidParameter(
                f"{where}: the span [{a['start']}, {a['end']}) {a['class']} appears twice."
            )
    if not overlap:
        reach = -1
        for s in out:
            if s["start"] < reach:
                raise InvalidParameter(
                    f"{where}: span [{s['start']}, {s['end']}) {s['class']} overlaps the one "
                    "before it; this layer keeps spans apart (create it with the option "
                    "overlap=true for nested spans)."
                )
            reach = max(reach, s["end"])
    return out


def _flag(value: Any, key: str) -> bool:
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"false", "0", "no", "off", ""}:
        return False
    raise InvalidParameter(f"Option {key!r} is true or false, not {value!r}.")


class Spans(AnnotationKind):
    """Categories over character stretches of an item's text."""

    name: ClassVar[str] = "spans"
    agreement_measure: ClassVar[tuple[str, str] | None] = (
        "mean_f1.exact",
        "mean exact-match span F1",
    )
    noun: ClassVar[str] = "span set"
    example: ClassVar[str] = '[{"start": 0, "end": 5, "class": "PER"}]'
    json_type: ClassVar[type | tuple[type, ...]] = list
    needs_item_text: ClassVar[bool] = True
    quality_check: ClassVar[str | None] = "spans"
    #: Span voting (see :mod:`assay.labels.span_agreement`).
    consensus_methods: ClassVar[tuple[str, ...]] = ("vote",)
    #: By default each layer is rated against every other layer, pooled.
    agreement_references: ClassVar[tuple[str, ...]] = ("others",)

    def check_options(
        self, options: Mapping[str, Any], classes: Mapping[str, int]
    ) -> dict[str, Any]:
        """``overlap`` (true: spans may overlap or nest; default false)."""
        del classes
        unknown = sorted(set(options) - {"overlap"})
        if unknown:
            raise InvalidParameter(f"Span layers take the option overlap, not {unknown[0]!r}.")
        return {"overlap": True} if _flag(options.get("overlap"), "overlap") else {}

    def validate(self, value: Any, schema: KindSchema, item_id: int) -> Any:
        return span_set(
            value,
            schema.classes,
            schema.texts.get(item_id),
            f"Item {item_id}",
            overlap=bool(schema.options.get("overlap")),
        )

    def read(self, class_name: str | None, value: Any) -> Any:
        del class_name
        if isinstance(value, str | bytes):
            value = orjson.loads(value)
        return value

    def show(self, value: Any) -> str:
        if value is None:
            return ""
        if not value:
            return "(no spans)"
        shown = ", ".join(f"{s['class']} [{s['start']}, {s['end']})" for s in value[:5])
        more = f" and {len(value) - 5} more" if len(value) > 5 else ""
        return f"{len(value)} span{'s' if len(value) != 1 else ''}: {shown}{more}"

    def brief(self, value: Any, limit: int = 60) -> str:
        """``2 spans: ORG, PER`` (the classes in text order; the offsets are :meth:`show`'s)."""
        if not value:
            return self.show(value)
        shown = f"{len(value)} span{'s' if len(value) != 1 else ''}: " + ", ".join(
            str(s["class"]) for s in value
        )
        return shown if len(shown) <= limit else shown[: limit - 1].rstrip(", ") + "…"

    def diff(self, a: Any, b: Any) -> str | None:
        if a == b:
            return None
        if a is None or b is None:
            return super().diff(a, b)
        key = lambda s: (s["start"], s["end"], s["class"])  # noqa: E731
        old, new = {key(s) for s in a}, {key(s) for s in b}
        added = sorted(new - old)
        removed = sorted(old - new)
        parts = [f"+{c} [{s}, {e})" for s, e, c in added] + [
            f"-{c} [{s}, {e})" for s, e, c in removed
        ]
        return "; ".join(parts)

    # -- several layers (computed in assay.labels.span_agreement) -----------------------------
    #: What ``accept`` on a disagreement takes, in a word (the review page's choices).
    accept_word: ClassVar[str] = "vote"

    def decide(
        self, choice: str, values: Mapping[str, Any], layers: Sequence[str]
    ) -> tuple[Any, str]:
        """``accept`` (or ``consensus``): the vote of the layers' spans now; ``keep``: the first
        layer's; a layer's name: its spans (:func:`assay.labels.span_agreement.decision_spans`)."""
        from assay.labels.span_agreement import decision_spans

        return decision_spans(values, layers, choice)

    def accept(self, current: Any, evidence: Mapping[str, Any]) -> Any:
        """The text's spans now with each suspect stretch taken from the predicted spans."""
        fixes = evidence.get("span_fixes")
        if not isinstance(fixes, list):
            return super().accept(current, evidence)
        return apply_span_fixes(current or [], fixes, evidence.get("predicted_spans") or [])

    def agreement(self, table: Any, *, reference: Any = None) -> SpanAgreementReport:
        """Pairwise span F1 (exact and partial overlap), per class; ``reference`` rates each
        layer (``others``, ``vote`` of the other layers, or a one-layer table)."""
        from assay.labels.span_agreement import span_agreement

        return span_agreement(table, reference=reference)

    def disagreements(self, table: Any) -> Iterator[Disagreement]:
        """One per text where layers differ: a span one marked and another not, a class
        conflict on the same stretch, different boundaries."""
        from assay.labels.span_agreement import span_disagreements

        return span_disagreements(table)

    def combine(
        self, table: Any, method: str, *, pred_probs: Any = None, seed: int = 0
    ) -> SpanConsensus:
        """Span voting per text, a confidence per span."""
        from assay.labels.span_agreement import vote

        del pred_probs, seed
        return vote(table, method, rate=True)

    def consensus_writes(self, table: Any, result: Any) -> list[LabelWrite]:
        """The voted span set of each text (confidences dropped from the spans: the label's
        confidence is their mean, 1 for a text every layer left empty)."""
        from assay.labels.writes import LabelWrite

        del table
        return [
            LabelWrite(
                item_id,
                [{k: s[k] for k in ("start", "end", "class")} for s in spans],
                confidence=sum(s["confidence"] for s in spans) / len(spans) if spans else 1.0,
            )
            for item_id, spans in result.spans.items()
        ]


def apply_span_fixes(
    spans: Sequence[Mapping[str, Any]],
    fixes: Sequence[Mapping[str, Any]],
    predicted: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """The span set with each suspect stretch taken from the predictions: the given spans
    overlapping a suspect are dropped and the predicted spans overlapping it added."""
    stretches = [(int(f["start"]), int(f["end"])) for f in fixes]

    def touches(s: Mapping[str, Any]) -> bool:
        return any(s["start"] < e and b < s["end"] for b, e in stretches)

    kept = [dict(s) for s in spans if not touches(s)]
    taken = [{k: s[k] for k in ("start", "end", "class")} for s in predicted if touches(s)]
    seen = {(s["start"], s["end"], s["class"]) for s in kept}
    kept += [s for s in taken if (s["start"], s["end"], s["class"]) not in seen]
    return sorted(kept, key=lambda s: (s["start"], s["end"], s["class"]))
