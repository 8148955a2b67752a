"""Span agreement (exact and partial F1), span voting and disagreements: pure computations."""

from __future__ import annotations

from typing import Any

from assay.labels.kinds import ValueTable, get_kind
from assay.labels.span_agreement import decision_spans, match_spans, span_agreement, vote_text
from assay.labels.span_tokens import bio_classes, bio_tags, spans_from_tags, tokenize
from assay.stats.spans import TOKEN


def S(start: int, end: int, cls: str) -> dict[str, Any]:
    return {"start": start, "end": end, "class": cls}


TRUTH = [S(0, 5, "PER"), S(10, 13, "PER"), S(17, 22, "LOC")]


def _table(**layers: list[list[dict[str, Any]]]) -> ValueTable:
    n = len(next(iter(layers.values())))
    return ValueTable("spans", list(range(n)), list(layers),
                      {k: dict(enumerate(v)) for k, v in layers.items()})  # fmt: skip


def test_exact_and_partial_f1_per_pair_and_class() -> None:
    other = [S(0, 5, "PER"), S(9, 13, "PER"), S(17, 22, "ORG")]  # a boundary, a class
    report = span_agreement(_table(a=[TRUTH], b=[other]), reference="others").to_dict()
    pair = report["pairwise"][0]
    assert pair["exact"]["f1"] == round(2 * 1 / 6, 6)
    assert pair["partial"]["f1"] == round(2 * 2 / 6, 6)
    per = {c["class"]: c for c in report["per_class"]}
    assert per["PER"]["exact_f1"] == 0.5 and per["PER"]["partial_f1"] == 1.0
    assert per["LOC"]["partial_f1"] == 0.0
    assert report["layer_quality"][0]["exact_f1"] == pair["exact"]["f1"]


def test_partial_matching_is_one_to_one_longest_first() -> None:
    a = [S(0, 10, "X")]
    b = [S(0, 3, "X"), S(2, 9, "X")]
    assert match_spans(a, b, partial=True) == [(0, 1)]
    assert match_spans(a, b) == []


def test_vote_keeps_majority_spans_and_votes_boundaries() -> None:
    given = {
        "a": TRUTH,
        "b": [S(0, 5, "PER"), S(9, 13, "PER")],  # misses LOC, shifts Bob
        "c": [S(0, 5, "PER"), S(10, 14, "PER"), S(17, 22, "LOC")],
    }
    voted = vote_text(given)
    assert [(s["start"], s["end"], s["class"]) for s in voted] == [
        (0, 5, "PER"), (10, 13, "PER"), (17, 22, "LOC")]  # fmt: skip
    conf = {s["start"]: s["confidence"] for s in voted}
    assert conf[0] == 1.0 and conf[17] == round(2 / 3, 4) and conf[10] < 2 / 3
    # A span only one of three marked is dropped.
    assert vote_text({"a": [S(0, 5, "PER")], "b": [], "c": []}) == []
    kept, _ = decision_spans(given, ["a", "b", "c"], "accept")
    assert kept == [{k: s[k] for k in ("start", "end", "class")} for s in voted]
    assert decision_spans(given, ["a", "b", "c"], "b")[0] == given["b"]


def test_disagreements_name_the_spans_at_issue() -> None:
    kind = get_kind("spans")
    table = _table(
        a=[TRUTH, [S(0, 3, "ORG")]],
        b=[[S(0, 5, "PER"), S(9, 13, "PER"), S(17, 22, "ORG")], [S(0, 3, "ORG")]],
    )
    found = list(kind.disagreements(table))
    assert [d.item_id for d in found] == [0]
    ev = found[0].evidence
    assert ev is not None and ev["span_layers"] == ["a", "b"]
    assert ev["counts"] == {"missing": 0, "class": 1, "boundary": 1}
    assert ev["highlight"] == {"a": [1, 2], "b": [1, 2]}
    combined = kind.combine(table, "vote")
    writes = kind.consensus_writes(table, combined)
    assert writes[1].value == [S(0, 3, "ORG")] and writes[1].confidence == 1.0


def test_bio_round_trip_and_one_tokenizer() -> None:
    text = "Alice met Bob in New York ."
    spans = [S(0, 5, "PER"), S(10, 13, "PER"), S(17, 25, "LOC")]
    toks = tokenize(text)
    tags = bio_tags(toks, spans, ["PER", "LOC"])
    names = bio_classes(["PER", "LOC"])
    assert [names[t] for t in tags] == ["B-PER", "O", "B-PER", "O", "B-LOC", "I-LOC", "O"]
    assert spans_from_tags(toks, tags, ["PER", "LOC"]) == spans
    assert TOKEN.pattern == __import__("assay.labels.span_tokens").labels.span_tokens.TOKEN.pattern


def test_span_statistics_merge_like_the_whole() -> None:
    from assay.stats.spans import SpanLayerStats

    rows = [("Alice met Bob in Paris .", TRUTH), ("Nothing here .", []), ("Not read", None),
            ("New York Times", [S(0, 8, "LOC"), S(0, 14, "ORG")])]  # fmt: skip
    whole, a, b = SpanLayerStats(), SpanLayerStats(), SpanLayerStats()
    for k, (text, spans) in enumerate(rows):
        whole.add(text, spans)
        (a if k < 2 else b).add(text, spans)
    merged = a.merge(b).result()
    assert merged == whole.result()
    assert (merged["n_texts"], merged["n_annotated"], merged["n_empty"]) == (4, 3, 1)
    assert merged["classes"] == {"PER": 2, "LOC": 2, "ORG": 1}
    # Alice, Bob, Paris: 1 token; New York: 2; New York Times: 3.
    assert merged["length_tokens"]["counts"][:3] == [3, 1, 1]
