"""The demo's text-span dataset ``ner``: short English texts with entity spans (PER, ORG,
LOC, DATE) written for the demo (``demo/data/ner.jsonl``, made by
``scripts/make_ner_demo.py``), three simulated annotators with structured habits, their span
vote, the review cases where they differ and a likely-mislabeled search of one of them."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.progress import ProgressCallback, no_progress

if TYPE_CHECKING:
    from assay.project import Project

__all__ = ["DATA", "NER", "SpanNoise", "add_spans", "simulate_span_annotators"]

NER = "ner"
DATA = Path(__file__).with_name("data") / "ner.jsonl"
CLASSES = ["PER", "ORG", "LOC", "DATE"]


@dataclass(frozen=True)
class SpanNoise:
    """An annotator's habits: how often a span is missed, its edge moved by a word, and its
    class confused (``confuse``: class -> the class it is mistaken for)."""

    missed: float = 0.0
    shifted: float = 0.0
    confused: float = 0.0
    confuse: Mapping[str, str] = field(default_factory=dict)


#: The demo's annotators (SIMULATED, not people).
SPAN_ANNOTATORS: dict[str, SpanNoise] = {
    "alice": SpanNoise(missed=0.03, shifted=0.03),
    "bob": SpanNoise(missed=0.08, shifted=0.08, confused=0.5, confuse={"ORG": "LOC"}),
    "carol": SpanNoise(missed=0.05, shifted=0.12, confused=0.3, confuse={"DATE": "ORG"}),
}


def _shift(text: str, span: dict[str, Any], rng: random.Random) -> dict[str, Any] | None:
    """The span with one edge moved by a word (dropping a leading word, or the last
    character), or None when it cannot move."""
    piece = text[span["start"] : span["end"]]
    if " " in piece and rng.random() < 0.5:  # drop the first word ("the City Council")
        cut = piece.index(" ") + 1
        return {**span, "start": span["start"] + cut}
    if span["end"] < len(text) and text[span["end"]] in ".,":  # take the punctuation in
        return {**span, "end": span["end"] + 1}
    if span["end"] - span["start"] > 2:
        return {**span, "end": span["end"] - 1}
    return None


def simulate_span_annotators(
    texts: Sequence[str], truth: Sequence[Sequence[Mapping[str, Any]]],
    noise: Mapping[str, SpanNoise], *, seed: int = 0,
) -> tuple[dict[str, list[list[dict[str, Any]]]], list[tuple[str, int, str, int]]]:  # fmt: skip
    """Each annotator's span sets and the errors made: (annotator, text, kind in
    missed|shifted|confused, index of the true span)."""
    labels: dict[str, list[list[dict[str, Any]]]] = {}
    errors: list[tuple[str, int, str, int]] = []
    for n, (name, habits) in enumerate(noise.items()):
        rng = random.Random(seed * 1000 + n)
        sets = []
        for k, (text, spans) in enumerate(zip(texts, truth, strict=True)):
            out = []
            for j, s in enumerate(spans):
                span = {"start": s["start"], "end": s["end"], "class": s["class"]}
                if rng.random() < habits.missed:
                    errors.append((name, k, "missed", j))
                    continue
                if span["class"] in habits.confuse and rng.random() < habits.confused:
                    span["class"] = habits.confuse[span["class"]]
                    errors.append((name, k, "confused", j))
                elif rng.random() < habits.shifted:
                    moved = _shift(text, span, rng)
                    if moved is not None:
                        span = moved
                        errors.append((name, k, "shifted", j))
                out.append(span)
            sets.append(out)
        labels[name] = sets
    return labels, errors


def load_demo_texts() -> tuple[list[str], list[str], list[list[dict[str, Any]]]]:
    """The demo texts: keys, texts and true spans (``class`` as the span kind keeps them)."""
    import orjson

    keys, texts, truth = [], [], []
    for line in DATA.read_bytes().splitlines():
        r = orjson.loads(line)
        keys.append(r["key"])
        texts.append(r["text"])
        truth.append([{"start": s["start"], "end": s["end"], "class": s["label"]}
                      for s in r["spans"]])  # fmt: skip
    return keys, texts, truth


def add_spans(project: Project, *, progress: ProgressCallback = no_progress) -> None:
    """The span dataset ``ner`` (once): the true spans in layer ``ground_truth``, the
    simulated annotators ``alice``, ``bob`` and ``carol`` (owning their layers), their span
    vote in ``consensus``, the texts where they differ in the review queue, and bob's likely
    mistakes (cleanlab's token check) as review cases."""
    from assay.ingest.spans import import_span_file
    from assay.labels.writes import LabelWrite

    if any(d["name"] == NER for d in project.datasets()):
        return
    import_span_file(project.store, DATA, dataset=NER, format="spacy-jsonl",
                     layer="ground_truth", progress=progress)  # fmt: skip
    ds = project.dataset(NER)
    keys, texts, truth = load_demo_texts()
    ids = {str(r["external_key"]): int(r["id"]) for r in ds.items(limit=len(keys))[0]}
    labels, _ = simulate_span_annotators(texts, truth, SPAN_ANNOTATORS, seed=18)
    for name, sets in labels.items():
        ds.create_layer(
            name, value_kind="spans", kind="human", owner=name,
            description=f"SIMULATED span annotator (not a person): {SPAN_ANNOTATORS[name]}",
        )  # fmt: skip
        ds.set_labels([LabelWrite(ids[k], s) for k, s in zip(keys, sets, strict=True)],
                      layer=name, author=f"simulated-{name}")  # fmt: skip
    annotators = list(SPAN_ANNOTATORS)
    ds.consensus(method="vote", layers=annotators, into="consensus")
    ds.review_scan(layers=annotators, consensus_layer=None, actor="assay demo")
    run = ds.quality.find(layer="bob", actor="assay demo", folds=3)
    ds.quality.to_review(run.run_id, actor="assay demo")
