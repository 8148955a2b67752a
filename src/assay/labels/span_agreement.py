"""Agreement, consensus and disagreements of span layers (text spans of several annotators).

Two span sets of a text are compared span by span, as entity-level NER scores compare them:

* **exact**: a span of one layer matches a span of the other with the same start and end;
* **partial**: a span matches the other layer's span it overlaps most (one-to-one, greedily by
  overlap length: the SemEval-2013 "partial" scheme that nervaluate implements).

A matched pair of the same class counts as agreement; F1 of a pair of layers = 2 x agreeing
pairs / (spans of one + spans of the other), on the texts both labeled. seqeval scores BIO
tags per token and nervaluate expands every entity into the positions it covers: both are
token-level tools, and character offsets over a whole dataset are compared here directly
(sorting and one sweep per text), with the same definitions.

**Consensus** (``vote``): the spans of a text's layers are grouped where they overlap. In a
group, a span (start, end, class) that more than half of the layers that labeled the text
gave is kept (exact match); a group more than half of the layers marked but on no exact span
gets a span by majority of boundaries (the most common start, end and class among the
layers' spans of the group). A span's confidence is the share of the text's layers that gave
it (exactly, or any span in its group for a boundary vote).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Any

from assay.errors import InvalidParameter
from assay.labels.kinds import Disagreement, ValueTable

__all__ = [
    "METHODS",
    "SpanAgreementReport",
    "SpanConsensus",
    "decision_spans",
    "match_spans",
    "span_agreement",
    "span_disagreements",
    "vote",
]

METHODS = ("vote",)
LOW_CONFIDENCE = 0.7  # as classification's consensus
MODES = ("exact", "partial")


def _overlap(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
    return min(a["end"], b["end"]) - max(a["start"], b["start"])


def match_spans(
    a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]], *, partial: bool = False
) -> list[tuple[int, int]]:
    """One-to-one pairs (index in a, index in b) of spans at the same stretch (``partial``:
    overlapping, the longest overlaps first); classes are not considered (a matched pair of
    two classes is a class conflict, not two misses)."""
    if not a or not b:
        return []
    if not partial:
        where: dict[tuple[int, int], list[int]] = defaultdict(list)
        for j, s in enumerate(b):
            where[(s["start"], s["end"])].append(j)
        pairs = []
        for i, s in enumerate(a):
            js = where.get((s["start"], s["end"]))
            if js:
                # Same stretch several times (nested layers): prefer the same class.
                pick = next((j for j in js if b[j]["class"] == s["class"]), js[0])
                js.remove(pick)
                pairs.append((i, pick))
        return pairs
    candidates = [
        (_overlap(x, y), i, j)
        for i, x in enumerate(a)
        for j, y in enumerate(b)
        if x["start"] < y["end"] and y["start"] < x["end"]
    ]
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs = []
    for _, i, j in candidates:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return sorted(pairs)


@dataclass
class _Tally:
    n_a: Counter[str] = field(default_factory=Counter)
    n_b: Counter[str] = field(default_factory=Counter)
    good: dict[str, Counter[str]] = field(
        default_factory=lambda: {m: Counter() for m in MODES}
    )  # mode -> class -> agreeing pairs
    n_items: int = 0

    def add(self, a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> None:
        self.n_items += 1
        self.n_a.update(s["class"] for s in a)
        self.n_b.update(s["class"] for s in b)
        for mode in MODES:
            for i, j in match_spans(a, b, partial=mode == "partial"):
                if a[i]["class"] == b[j]["class"]:
                    self.good[mode][a[i]["class"]] += 1

    def scores(self, mode: str) -> dict[str, float | None]:
        good, na, nb = sum(self.good[mode].values()), sum(self.n_a.values()), sum(self.n_b.values())
        return {
            "precision": _ratio(good, nb),  # b read as predictions of a
            "recall": _ratio(good, na),
            "f1": _ratio(2 * good, na + nb) if na + nb else (1.0 if self.n_items else None),
        }


def _ratio(a: float, b: float) -> float | None:
    return round(float(a) / float(b), 6) if b else None


@dataclass
class SpanAgreementReport:
    """Agreement of span layers; ``to_dict()`` has ``"kind": "spans"`` for the faces."""

    layers: list[str]
    classes: list[str]
    n_items: int  # labeled by any layer
    n_items_compared: int  # by two or more
    n_spans: dict[str, int]
    mean_f1: dict[str, float | None]  # mode -> mean over pairs
    pairwise: list[dict[str, Any]]  # a, b, n_items, exact {precision, recall, f1}, partial
    per_class: list[dict[str, Any]]  # class, n_spans, exact_f1, partial_f1 (pooled pairs)
    layer_quality: list[dict[str, Any]] | None = None  # layer, exact_f1, partial_f1
    reference: str | None = None
    kind: str = "spans"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _common(table: ValueTable, a: str, b: str) -> list[int]:
    va, vb = table.values.get(a, {}), table.values.get(b, {})
    return [i for i in table.item_ids if i in va and i in vb]


def span_agreement(table: ValueTable, *, reference: Any = None) -> SpanAgreementReport:
    """Pairwise span F1 (exact and partial) of the layers of ``table``, per class;
    ``reference`` (a one-layer table, or ``vote``/``others``) rates each layer against it
    (``vote``: the vote of the OTHER layers, leave-one-out; ``others``: every other layer,
    pooled)."""
    classes = sorted({s["class"] for per in table.values.values() for v in per.values() for s in v})
    pairwise: list[dict[str, Any]] = []
    per_class_good = {m: Counter[str]() for m in MODES}
    per_class_n: Counter[str] = Counter()
    compared: set[int] = set()
    tallies: dict[tuple[str, str], _Tally] = {}
    for a, b in combinations(table.layers, 2):
        tally = _Tally()
        for item in _common(table, a, b):
            compared.add(item)
            tally.add(table.values[a][item], table.values[b][item])
        tallies[(a, b)] = tally
        pairwise.append({
            "a": a, "b": b, "n_items": tally.n_items,
            **{m: tally.scores(m) for m in MODES},
        })  # fmt: skip
        for m in MODES:
            per_class_good[m].update(tally.good[m])
        per_class_n.update(tally.n_a)
        per_class_n.update(tally.n_b)
    per_class = [
        {
            "class": c,
            "n_spans": per_class_n[c],
            **{f"{m}_f1": _ratio(2 * per_class_good[m][c], per_class_n[c]) for m in MODES},
        }
        for c in classes
    ]
    mean_f1: dict[str, float | None] = {}
    for m in MODES:
        f1s = [p[m]["f1"] for p in pairwise if p[m]["f1"] is not None]
        mean_f1[m] = round(sum(f1s) / len(f1s), 6) if f1s else None
    quality, ref_name = None, None
    if reference is not None:
        quality, ref_name = _layer_quality(table, reference, tallies)
    return SpanAgreementReport(
        layers=list(table.layers),
        classes=classes,
        n_items=table.n_items,
        n_items_compared=len(compared),
        n_spans={n: sum(len(v) for v in table.values[n].values()) for n in table.layers},
        mean_f1=mean_f1,
        pairwise=pairwise,
        per_class=per_class,
        layer_quality=quality,
        reference=ref_name,
    )


def _layer_quality(
    table: ValueTable, reference: Any, tallies: Mapping[tuple[str, str], _Tally]
) -> tuple[list[dict[str, Any]], str]:
    out = []
    if isinstance(reference, ValueTable):
        ref = reference.layers[0]
        for name in table.layers:
            tally = _Tally()
            for item in table.item_ids:
                if item in table.values[name] and item in reference.values[ref]:
                    tally.add(reference.values[ref][item], table.values[name][item])
            out.append({"layer": name, **{f"{m}_f1": tally.scores(m)["f1"] for m in MODES}})
        return out, ref
    if reference in ("others", None):
        for name in table.layers:
            pooled = _Tally()
            for (a, b), tally in tallies.items():
                if name in (a, b):
                    pooled.n_items += tally.n_items
                    pooled.n_a.update(tally.n_a)
                    pooled.n_b.update(tally.n_b)
                    for m in MODES:
                        pooled.good[m].update(tally.good[m])
            out.append({"layer": name, **{f"{m}_f1": pooled.scores(m)["f1"] for m in MODES}})
        return out, "others"
    if reference not in METHODS:
        raise InvalidParameter(
            f"Span layers are rated against others, {', '.join(METHODS)} or a layer, "
            f"not {reference!r}."
        )
    for name in table.layers:
        rest = [n for n in table.layers if n != name]
        sub = ValueTable(table.kind, table.item_ids, rest, {n: table.values[n] for n in rest})
        voted = vote(sub).spans
        tally = _Tally()
        for item, spans in table.values[name].items():
            if item in voted:
                tally.add(voted[item], spans)
        out.append({"layer": name, **{f"{m}_f1": tally.scores(m)["f1"] for m in MODES}})
    return out, str(reference)


# -- consensus ----------------------------------------------------------------------------------
@dataclass
class SpanConsensus:
    """The voted spans of each text (``spans[item_id]``: spans with ``confidence``)."""

    method: str
    layers: tuple[str, ...]
    spans: dict[int, list[dict[str, Any]]]
    annotator_quality: dict[str, float | None] = field(default_factory=dict)

    def confidences(self) -> list[float]:
        return [s["confidence"] for v in self.spans.values() for s in v]

    def summary(self) -> dict[str, Any]:
        conf = self.confidences()
        return {
            "method": self.method,
            "layers": list(self.layers),
            "n_items": len(self.spans),
            "n_spans": len(conf),
            "mean_confidence": sum(conf) / len(conf) if conf else None,
            "low_confidence_threshold": LOW_CONFIDENCE,
            "n_low_confidence": sum(1 for c in conf if c < LOW_CONFIDENCE),
            "annotator_quality": dict(self.annotator_quality),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "spans": {str(k): v for k, v in self.spans.items()}}


def _groups(given: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[list[tuple[str, int]]]:
    """The spans of all layers grouped where they overlap (connected by overlap, in order)."""
    flat = sorted(
        (
            (s["start"], s["end"], name, i)
            for name, spans in given.items()
            for i, s in enumerate(spans)
        ),
    )
    groups: list[list[tuple[str, int]]] = []
    reach = -1
    for start, end, name, i in flat:
        if not groups or start >= reach:
            groups.append([])
        groups[-1].append((name, i))
        reach = max(reach, end)
    return groups


def vote_text(given: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """The voted spans of one text from its layers' spans (see the module doc)."""
    n = len(given)
    if not n:
        return []
    out: list[dict[str, Any]] = []
    for group in _groups(given):
        exact = Counter(
            (given[name][i]["start"], given[name][i]["end"], given[name][i]["class"])
            for name, i in group
        )
        kept = [(k, c) for k, c in exact.items() if c * 2 > n]
        if kept:
            out.extend({"start": s, "end": e, "class": c, "confidence": round(v / n, 4)}
                       for (s, e, c), v in kept)  # fmt: skip
            continue
        voters = {name for name, _ in group}
        if len(voters) * 2 <= n:
            continue
        spans = [given[name][i] for name, i in group]
        start = Counter(s["start"] for s in spans).most_common(1)[0][0]
        end = Counter(s["end"] for s in spans).most_common(1)[0][0]
        cls = Counter(s["class"] for s in spans).most_common(1)[0][0]
        if end <= start:  # boundaries voted apart: the longest span of the majority class
            best = max((s for s in spans if s["class"] == cls), key=lambda s: s["end"] - s["start"])
            start, end = best["start"], best["end"]
        same = sum(1 for s in spans if (s["start"], s["end"], s["class"]) == (start, end, cls))
        # Marked by a majority, its exact form by fewer: confidence below the share marking it.
        confidence = len(voters) / n * max(same, 1) / len(spans)
        out.append({"start": start, "end": end, "class": cls,
                    "confidence": round(confidence, 4)})  # fmt: skip
    out.sort(key=lambda s: (s["start"], s["end"], s["class"]))
    return out


def vote(table: ValueTable, method: str = "vote", *, rate: bool = False) -> SpanConsensus:
    """The span vote of every text of ``table`` (see the module doc)."""
    if method not in METHODS:
        raise InvalidParameter(f"Span layers are combined by {', '.join(METHODS)}, not {method!r}.")
    spans = {}
    for item in table.item_ids:
        given = {n: table.values[n][item] for n in table.layers if item in table.values[n]}
        spans[item] = vote_text(given)
    result = SpanConsensus(method, tuple(table.layers), spans)
    if rate:
        for name in table.layers:
            tally = _Tally()
            for item, mine in table.values[name].items():
                tally.add(
                    [{k: v for k, v in s.items() if k != "confidence"} for s in spans[item]], mine
                )
            result.annotator_quality[name] = tally.scores("exact")["f1"]
    return result


def decision_spans(
    values: Mapping[str, list[dict[str, Any]]], layers: Sequence[str], choice: str
) -> tuple[list[dict[str, Any]], str]:
    """The span set a review decision between ``layers`` writes (as
    :func:`assay.labels.box_agreement.decision_boxes` for boxes): ``accept`` (or
    ``consensus``): the vote of the layers' spans now, without confidences; ``keep``: the
    first layer's spans; a layer's name: its spans."""
    named = [n for n in layers if n in values]
    if choice in ("accept", "consensus"):
        voted = vote_text({n: values[n] for n in named})
        return [{k: v for k, v in s.items() if k != "confidence"} for s in voted], (
            "the voted spans of " + ", ".join(named)
        )
    source = layers[0] if choice == "keep" and layers else choice
    if source not in layers:
        raise InvalidParameter(
            f"A span case is decided with accept (the voted spans), keep (the spans of "
            f"{layers[0] if layers else 'the first layer'}) or one of its layers "
            f"({', '.join(layers)}), not {choice!r}."
        )
    return [dict(s) for s in values.get(source, [])], f"the spans of {source}"


# -- disagreements (the review scan) ------------------------------------------------------------
def span_disagreements(table: ValueTable) -> Iterator[Disagreement]:
    """One :class:`Disagreement` per text where two layers that both labeled it differ:
    ``missing`` (a span one layer marked that no span of the other overlaps), ``class`` (the
    same or an overlapping stretch, another class), ``boundary`` (overlapping spans of one
    class, different edges). Evidence: ``span_layers``, ``highlight`` (layer -> indices of
    its spans at issue), the ``issues`` and their ``counts``; ``agreement``: the mean exact
    F1 over pairs of layers on the text."""
    for item in table.item_ids:
        given = {n: table.values[n][item] for n in table.layers if item in table.values[n]}
        if len(given) < 2:
            continue
        issues: list[dict[str, Any]] = []
        f1s = []
        for a, b in combinations(given, 2):
            sa, sb = given[a], given[b]
            tally = _Tally()
            tally.add(sa, sb)
            f1s.append(tally.scores("exact")["f1"] or 0.0)
            pairs = match_spans(sa, sb, partial=True)
            for i, j in pairs:
                x, y = sa[i], sb[j]
                if x["class"] != y["class"]:
                    reason = "class"
                elif (x["start"], x["end"]) != (y["start"], y["end"]):
                    reason = "boundary"
                else:
                    continue
                issues.append({"reason": reason, "layer": a, "span": i, "other": b,
                               "other_span": j, "spans": [x, y]})  # fmt: skip
            for this, that, mine, theirs, matched in (
                (a, b, sa, sb, {i for i, _ in pairs}),
                (b, a, sb, sa, {j for _, j in pairs}),
            ):
                for i, s in enumerate(mine):
                    if i in matched:
                        continue
                    # Overlapping a span the other layer matched elsewhere: a boundary issue.
                    overlapping = any(_overlap(s, o) > 0 for o in theirs)
                    reason = "boundary" if overlapping else "missing"
                    issues.append({"reason": reason, "layer": this, "span": i, "other": that,
                                   "other_span": None, "spans": [s]})  # fmt: skip
        if not issues:
            continue
        highlight: dict[str, set[int]] = defaultdict(set)
        for issue in issues:
            highlight[issue["layer"]].add(issue["span"])
            if issue["other_span"] is not None:
                highlight[issue["other"]].add(issue["other_span"])
        agreement = sum(f1s) / len(f1s)
        yield Disagreement(
            item,
            min(agreement, 1.0 - 1e-6),
            None,
            given,
            evidence={
                "span_layers": list(given),
                "highlight": {n: sorted(v) for n, v in highlight.items()},
                "issues": issues,
                "counts": {
                    r: sum(1 for i in issues if i["reason"] == r)
                    for r in ("missing", "class", "boundary")
                },
            },
        )
