"""Span import and export: spaCy/Prodigy JSONL, CoNLL BIO, Label Studio; errors name the file,
line and span, and nothing lands (store behaviour: both backends)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import assay
from assay.errors import DataFormatError
from labelkit import project  # noqa: F401

TEXTS = ["Alice met Bob in Paris .", "IBM hired Carol ."]
SPANS = [
    [{"start": 0, "end": 5, "label": "PER"}, {"start": 10, "end": 13, "label": "PER"},
     {"start": 17, "end": 22, "label": "LOC"}],
    [{"start": 0, "end": 3, "label": "ORG"}, {"start": 10, "end": 15, "label": "PER"}],
]  # fmt: skip
CONLL = "-DOCSTART- O\n\nAlice B-PER\nmet O\nBob B-PER\nin O\nParis B-LOC\n. O\n\n"
CONLL += "IBM B-ORG\nhired O\nCarol B-PER\n. O\n"


def _jsonl(path: Path, spans: list[list[dict[str, object]]] = SPANS) -> Path:
    path.write_text(
        "".join(json.dumps({"text": t, "spans": s, "tokens": [], "meta": {"id": f"k{n}"}}) + "\n"
                for n, (t, s) in enumerate(zip(TEXTS, spans, strict=True))),
        encoding="utf-8",
    )  # fmt: skip
    return path


def _values(ds: assay.Dataset, layer: str) -> list[object]:
    return [ds.item(f"k{n}")["labels"][layer]["value"] for n in range(len(TEXTS))]


def test_jsonl_conll_label_studio_round_trip(project: assay.Project, tmp_path: Path) -> None:  # noqa: F811
    project.import_path(_jsonl(tmp_path / "a.jsonl"), dataset="ner", format="spacy-jsonl")
    ds = project.dataset("ner")
    want = [[{"start": s["start"], "end": s["end"], "class": s["label"]} for s in spans]
            for spans in SPANS]  # fmt: skip
    assert _values(ds, "spans") == want
    # CoNLL onto the same texts (matched by text): the same spans in a second layer.
    (tmp_path / "b.conll").write_text(CONLL, encoding="utf-8")
    done = ds.import_spans(tmp_path / "b.conll", layer="bob", format="conll")
    assert done["n_new_labels"] == 2 and _values(ds, "bob") == want
    # Re-import writes nothing.
    assert ds.import_spans(tmp_path / "b.conll", layer="bob", format="conll")["n_new_labels"] == 0
    for fmt in ("spacy-jsonl", "conll", "label-studio"):
        assert ds.export(tmp_path / f"out.{fmt}", layer="spans", format=fmt) == 2
    assert (tmp_path / "out.conll").read_text().startswith("Alice B-PER\nmet O\nBob B-PER\n")
    back = project.import_path(tmp_path / "out.label-studio", dataset="ls", format="label-studio")
    assert back.n_new_items == 2
    ls = project.dataset("ls")
    assert ls.item("1")["labels"]["spans"]["value"] == want[0]


def test_label_studio_annotators_become_layers(tmp_path: Path) -> None:
    tasks = [{"id": 7, "data": {"text": "Ann went to Rome"}, "annotations": [
        {"completed_by": {"email": "ann@x.org"}, "result": [
            {"type": "labels", "value": {"start": 0, "end": 3, "labels": ["PER"]}},
            {"type": "labels", "value": {"start": 12, "end": 16, "labels": ["LOC"]}}]},
        {"completed_by": 2, "result": [
            {"type": "labels", "value": {"start": 12, "end": 16, "labels": ["ORG"]}}]},
        {"completed_by": 3, "was_cancelled": True, "result": []},
    ]}]  # fmt: skip
    (tmp_path / "ls.json").write_text(json.dumps(tasks), encoding="utf-8")
    proj = assay.init(tmp_path / "p")
    proj.import_path(tmp_path / "ls.json", dataset="t", format="label-studio")
    labels = proj.dataset("t").item("7")["labels"]
    assert sorted(labels) == ["ann", "annotator_2"]
    assert labels["annotator_2"]["value"] == [{"start": 12, "end": 16, "class": "ORG"}]


@pytest.mark.parametrize(
    ("name", "body", "fmt", "said"),
    [
        ("bad.conll", "Alice B-PER\nmet O\nSmith I-PER\n", "conll",
         "bad.conll, line 3: I-PER after O"),
        ("bad.conll", "Alice B-PER\nSmith I-LOC\n", "conll", "line 2: I-LOC after a PER span"),
        ("bad.jsonl", json.dumps({"text": "short", "spans": [
            {"start": 2, "end": 9, "label": "PER"}]}) + "\n", "spacy-jsonl",
         "bad.jsonl, line 1, span 1 [2, 9) is outside the text"),
    ],
)  # fmt: skip
def test_bad_files_name_the_line_and_import_nothing(
    tmp_path: Path, name: str, body: str, fmt: str, said: str
) -> None:
    (tmp_path / name).write_text(body, encoding="utf-8")
    proj = assay.init(tmp_path / "p")
    with pytest.raises(DataFormatError, match=said.replace("[", r"\[").replace(")", r"\)")):
        proj.import_path(tmp_path / name, dataset="bad", format=fmt)
    assert proj.datasets() == []


def test_spans_onto_fixed_classes_refuse_unknown_all_or_nothing(
    project: assay.Project,  # noqa: F811
    tmp_path: Path,
) -> None:
    project.import_path(_jsonl(tmp_path / "a.jsonl"), dataset="ner", format="spacy-jsonl")
    ds = project.dataset("ner")
    odd = [SPANS[0], [{"start": 0, "end": 3, "label": "COMPANY"}]]
    with pytest.raises(DataFormatError, match=r"line 2, span 1: unknown class 'COMPANY'"):
        ds.import_spans(_jsonl(tmp_path / "b.jsonl", odd), layer="bob", format="spacy-jsonl")
    assert "bob" not in {la["name"] for la in ds.layers()}
    done = ds.import_spans(tmp_path / "b.jsonl", layer="bob", format="spacy-jsonl",
                           add_classes=True)  # fmt: skip
    assert done == {"layer": "bob", "n_new_labels": 2, "n_classes_added": 1}
